"""What the reallocation's shortcuts cost: the next round's validation perplexity when the loss
pass reads a sample of the training split (`realloc.sample`) or the solver stops at a proven gap
(`realloc.gap_tol`), against the exact reallocation from the full pass.

From the checkpoint of a finished round of a bootstrap (e.g. `benchmarks/bootstrap_ptb.py`'s
checkpoint_r.pt), each variant reallocates (`lightrnn realloc`) and trains the next round from the
same weights with its table (`lightrnn train --config RECIPE --round r+1`); the table is the only
difference between the variants.

    python benchmarks/realloc_options.py --checkpoint benchmarks/out/ptb13/bootstrap_d2_s1/checkpoint_0.pt \
        --data benchmarks/out/ptb13 --recipe config/ptb-small.yaml --out benchmarks/out/realloc_options

--data holds vocab.tsv, train.npy and valid.npy.  Prints one line per variant: pass and solve
seconds, the solver's relative gap and rounds, words moved, and the next round's valid perplexity.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_matrices import run  # noqa: E402

VARIANTS = {  # name: extra `lightrnn realloc` flags
    "exact": ["--sample", "1"],
    "sample-round": ["--sample", "round"],
    "sample-0.25": ["--sample", "0.25"],
    "sample-0.1": ["--sample", "0.1"],
    "gap-1e-6": ["--gap-tol", "1e-6"],
    "gap-1e-4": ["--gap-tol", "1e-4"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="checkpoint of the finished round r")
    ap.add_argument("--data", required=True, help="folder with vocab.tsv, train.npy, valid.npy")
    ap.add_argument("--recipe", default="config/ptb-small.yaml", help="workflow config the rounds follow")
    ap.add_argument("--out", default="benchmarks/out/realloc_options")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variant names")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    nxt = int(ck["round"]) + 1
    data, out = Path(args.data), Path(args.out) / Path(args.checkpoint).stem
    out.mkdir(parents=True, exist_ok=True)
    print(f"{'variant':>12} {'pass s':>7} {'solve s':>8} {'rel.gap':>9} {'rounds':>6} {'moved':>6} "
          f"{'valid ppl r' + str(nxt):>14}", flush=True)
    for name in args.variants.split(","):
        d = out / name
        d.mkdir(exist_ok=True)
        log = d / "log.txt"
        log.write_text("")
        run(["lightrnn", "realloc", "--checkpoint", args.checkpoint, "--train", str(data / "train.npy"),
                  "--out-table", str(d / "table.npz"), "--report", str(d / "realloc.json"),
                  "--num-threads", str(args.threads), "--device", "cpu", *VARIANTS[name]], log)
        rep = json.loads((d / "realloc.json").read_text())
        run(["lightrnn", "train", "--config", args.recipe, "--vocab", str(data / "vocab.tsv"), "--train",
                  str(data / "train.npy"), "--valid", str(data / "valid.npy"), "--init-from", args.checkpoint,
                  "--table", str(d / "table.npz"), "--round", str(nxt), "--out", str(d / "next.pt"),
                  "--metrics", str(d / "metrics.csv"), "--num-threads", str(args.threads), "--device", "cpu",
                  "--log-interval", "0"], log)
        rows = list(csv.DictReader(open(d / "metrics.csv")))
        sol = rep["solver"]
        gap = "-" if sol["gap"] is None else f"{sol['gap'] / sol['objective']:.1e}"
        print(f"{name:>12} {rep['pass_seconds']:7.1f} {sol['times']['total']:8.2f} {gap:>9} "
              f"{sol['pricing_rounds']:6d} {rep['words_moved']:6d} {float(rows[-1]['valid_ppl']):14.2f}", flush=True)
        (d / "next.pt").unlink()


if __name__ == "__main__":
    main()
