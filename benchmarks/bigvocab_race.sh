#!/usr/bin/env bash
# Equal wall-clock race of the four models at a large vocabulary on the CPU: each trains one round
# with `lightrnn train`'s defaults for SECONDS (1 thread; two side by side), from a random table for
# LightRNN (no reallocation), then its last checkpoint is scored on the first 50,000 validation
# tokens.  Needs the 200,000-word vocabulary and encoded training split that
# `benchmarks/real_matrices.py --only bv200k-e0.125` leaves in benchmarks/out/real/_work/vocab-200000.
#   bash benchmarks/bigvocab_race.sh [SECONDS]          (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
S=${1:-600}
W=benchmarks/out/real/_work/vocab-200000
D=benchmarks/out/bv200k_race
mkdir -p "$D"
lightrnn encode --vocab $W/vocab.tsv --text data/bigvocab/valid.txt --out $D/valid_full.npy
python -c "import numpy as np; np.save('$D/valid.npy', np.load('$D/valid_full.npy')[:50000])"
lightrnn init-table --vocab $W/vocab.tsv --out $D/table_0.npz --method random --seed 1
race() {  # MODEL: train for S seconds (interrupted: the .partial checkpoint stays), peak memory in MODEL.time
    local extra=""
    [ "$1" = lightrnn ] && extra="--table $D/table_0.npz"
    /usr/bin/time -v -o $D/$1.time timeout -s INT "$S" lightrnn train --model "$1" --vocab $W/vocab.tsv \
        --train $W/train.npy --valid $D/valid.npy --out $D/$1.pt --metrics $D/$1.csv --epochs 1 --num-threads 1 \
        --device cpu --checkpoint-every 50 --log-interval 25 $extra > $D/$1.log 2>&1 || true
}
for pair in "lightrnn full" "adaptive slim"; do
    set -- $pair
    race "$1" & race "$2" & wait
done
for m in lightrnn full adaptive slim; do
    lightrnn evaluate --checkpoint $D/$m.pt.partial --data $D/valid.npy --name valid50k --batch-size 10 \
        --device cpu --out $D/$m.valid.json > /dev/null
    python - "$D" "$m" <<'PY'
import json, re, sys
d, m = sys.argv[1], sys.argv[2]
v = json.load(open(f"{d}/{m}.valid.json"))
steps = [l for l in open(f"{d}/{m}.log") if l.startswith("| round")]
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{d}/{m}.time").read()).group(1)
tok = re.search(r"tok/s\s+(\d+)", steps[-1]).group(1)
step = re.search(r"step\s+(\d+)", steps[-1]).group(1)
print(f"{m:>9} steps {step:>6} tok/s {tok:>6} valid ppl {v['ppl']:9.1f} "
      f"emb+out {v['params_embed_output']:>11,} total {v['params_total']:>11,} peak RSS {int(rss) / 1024:7.0f} MB")
PY
done
