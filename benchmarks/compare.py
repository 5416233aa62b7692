"""Four-way comparison on PTB: LightRNN (bootstrapped and fixed table), full softmax, adaptive
softmax and Slim embeddings at the same size and epochs, in one table.

Training runs through benchmarks/bootstrap_ptb.py (an arm whose result is already in OUT is not
trained again); peak memory is measured here, per model, as the peak resident memory of a short
separate `lightrnn train` process (memory does not grow with the number of steps). Writes
OUT/compare.md and OUT/compare.json.

    python benchmarks/compare.py --out benchmarks/out/ptb
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

ARMS = {"bootstrap": "lightrnn", "fixed": "lightrnn", "full": "full", "adaptive": "adaptive", "slim": "slim"}


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory (MB) of a command and its children, sampled every 50 ms."""
    p = psutil.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while p.poll() is None:
        try:
            procs = [p] + p.children(recursive=True)
            peak = max(peak, sum(q.memory_info().rss for q in procs))
        except psutil.Error:
            pass
        time.sleep(0.05)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with {p.returncode}")
    return peak / 2**20


def memory_of(out: Path, model: str, hidden: int, threads: int, slim_pool: int) -> float:
    d = out / "memory"
    d.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "lightrnn", "train", "--vocab", str(out / "vocab.tsv"), "--train", str(out / "train.npy"),
           "--out", str(d / f"{model}.pt"), "--no-resume", "--model", model, "--emb-dim", str(hidden),
           "--hidden-dim", str(hidden), "--num-layers", "2", "--batch-size", "20", "--bptt", "35",
           "--max-steps", "30", "--optimizer", "adam", "--lr", "0.002", "--num-threads", str(threads),
           "--log-interval", "0"]
    if model == "lightrnn":
        cmd += ["--table", str(out / "table_0.npz")]
    if model == "slim":
        cmd += ["--slim-parts", "4", "--slim-pool", str(slim_pool)]
    return peak_rss_mb(cmd)


def arm_summary(out: Path, arm: str) -> dict | None:
    """Result of a finished arm, or the per-epoch validation figures of an unfinished one."""
    d = out / arm
    res = d / "result.json"
    if res.exists():
        return json.loads(res.read_text()) | {"finished": True}
    rows = []
    for f in sorted(d.glob("metrics_*.csv")):
        rows += [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(f))]
    if not rows:
        return None
    return {"arm": arm, "model": ARMS[arm], "finished": False, "epochs_done": len(rows),
            "valid_by_epoch": [r["valid_ppl"] for r in rows],
            "tokens_per_s": sum(r["tokens_per_s"] for r in rows) / len(rows)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/ptb"))
    p.add_argument("--arms", nargs="+", default=list(ARMS))
    p.add_argument("--hidden", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--train", action="store_true", help="train missing arms (benchmarks/bootstrap_ptb.py)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--slim-pool", type=int, default=3900, help="Slim: M, as in bootstrap_ptb.py (K = 4)")
    a = p.parse_args()
    if a.train:
        subprocess.run([sys.executable, str(Path(__file__).with_name("bootstrap_ptb.py")), "--out", str(a.out),
                        "--hidden", str(a.hidden), "--threads", str(a.threads), "--slim-pool", str(a.slim_pool),
                        "--arms", *a.arms], check=True)
    rows, mem = [], {}
    for arm in a.arms:
        s = arm_summary(a.out, arm)
        if s is None:
            continue
        if not a.no_memory and ARMS[arm] not in mem and (a.out / "vocab.tsv").exists():
            mem[ARMS[arm]] = memory_of(a.out, ARMS[arm], a.hidden, a.threads, a.slim_pool)
        s["peak_mb"] = mem.get(ARMS[arm])
        rows.append(s)
    (a.out / "compare.json").write_text(json.dumps(rows, indent=2))
    lines = ["| arm (model) | params total | params emb+out | train tok/s | peak MB | valid ppl by epoch | valid ppl | test ppl | wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in rows:
        if s["finished"]:
            by_epoch = [v for r in s["rounds"] for v in r["epochs"]]
            tok = sum(r["tokens_per_s"] for r in s["rounds"]) / len(s["rounds"])
            lines.append(f"| {s['arm']} ({s['model']}) | {s['params_total']:,} | {s['params_embed_output']:,} | {tok:,.0f} | "
                         f"{s['peak_mb'] or float('nan'):.0f} | {' / '.join(f'{v:.1f}' for v in by_epoch)} | "
                         f"{s['valid_ppl']:.1f} | {s['test_ppl']:.1f} | {s['wall_s']:.0f} |")
        else:
            lines.append(f"| {s['arm']} ({s['model']}), unfinished: {s['epochs_done']} epochs | | | {s['tokens_per_s']:,.0f} | "
                         f"{s['peak_mb'] or float('nan'):.0f} | {' / '.join(f'{v:.1f}' for v in s['valid_by_epoch'])} | | | |")
    (a.out / "compare.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
