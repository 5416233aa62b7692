#!/usr/bin/env bash
# The four models at the large vocabulary, end to end through the workflow, for the same
# wall-clock of training (about 30 minutes each on one CPU thread; two workflows side by side):
# LightRNN bootstrapped from a random table with two reallocations (config/bigvocab.yaml), the
# full softmax, adaptive softmax and Slim peers (config/bigvocab-{full,adaptive,slim}.yaml),
# LightRNN with Adam instead of SGD (config/bigvocab-adam.yaml) and beside it its control, the same
# Adam run from the same random table never reallocated (config/bigvocab-kept.yaml).
# config/bigvocab-adaptive-adam.yaml (the adaptive softmax with Adam) is one more group:
# `bash benchmarks/bigvocab_workflow.sh adaptive-adam`.
# Needs the corpus of benchmarks/make_bigvocab_corpus.py in data/bigvocab/. Each job's wall time
# and peak memory are in results/bigvocab*/benchmarks/*.tsv (Snakemake's benchmark files); then
#   snakemake --cores 1 --configfile config/bigvocab.yaml config/bigvocab-compare.yaml
# puts them in one plot and one table (results/bigvocab/compare.md, plots/compare.png, the report).
#   bash benchmarks/bigvocab_workflow.sh [GROUP...]   (default: "lightrnn full" "adaptive slim" "adam kept";
#                                                     the models of a group run side by side)
set -euo pipefail
cd "$(dirname "$0")/.."
run() {  # MODEL: the workflow for one model, its log beside its results
    local files=(config/bigvocab.yaml) res=results/bigvocab
    if [ "$1" != lightrnn ]; then files+=("config/bigvocab-$1.yaml"); res=results/bigvocab-$1; fi
    mkdir -p "$res"
    snakemake --cores 1 --configfile "${files[@]}" \
        > "$res/snakemake.log" 2>&1
}
pairs=("$@")
[ ${#pairs[@]} -eq 0 ] && pairs=("lightrnn full" "adaptive slim" "adam kept")
for pair in "${pairs[@]}"; do
    set -- $pair
    pids=()
    for m in "$@"; do run "$m" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
done
