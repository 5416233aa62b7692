"""Next-word top-k latency on CPU: LightRNN's exact pruned search against a brute force.

Both start from the same state (the hidden state before the context's last word and that word)
and return the k most likely next words. Brute force: ``model.log_prob`` over the whole
vocabulary (one half-step per row, all R rows batched) then ``topk``. Exact: the row-pruned search
of ``lightrnn.infer`` (rows in descending P_r, geometric batches, stop on the P_r bound). Every
exact result is checked against the brute force.

With --checkpoint a trained model is used (its peaked row distribution prunes far more); without
one, a PTB-size model (V=10,000, 2x200, 100x100 table) with random weights. Contexts are the
first words of lines of --text (e.g. PTB valid) or random word ids.

example:
  python benchmarks/predict_latency.py --checkpoint benchmarks/out/ptb/bootstrap/checkpoint_1.pt \\
      --text benchmarks/out/ptb/txt/ptb.valid.txt --out benchmarks/out/predict_latency.json
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightrnn.atomic import atomic_write_json  # noqa: E402
from lightrnn.config import ModelConfig  # noqa: E402
from lightrnn.factory import build_model  # noqa: E402
from lightrnn.infer import TrainedModel, lightrnn_top, load  # noqa: E402
from lightrnn.table import WordTable  # noqa: E402
from lightrnn.vocab import Vocab  # noqa: E402


def random_model(V: int, dim: int, layers: int, seed: int) -> TrainedModel:
    torch.manual_seed(seed)
    cfg = ModelConfig(model="lightrnn", vocab_size=V, emb_dim=dim, hidden_dim=dim, num_layers=layers)
    model = build_model(cfg, WordTable.random(V, seed))
    words = [f"w{i}" for i in range(V - 2)] + ["<unk>", "<eos>"]
    return TrainedModel(model, Vocab(words, np.zeros(V, dtype=np.int64)), path=None)


def contexts(tm: TrainedModel, text: str | None, n: int, length: int, seed: int) -> list[list[str]]:
    if text:
        out = []
        with open(text, encoding="utf-8") as f:
            for line in f:
                words = line.split()
                if len(words) >= 2:
                    out.append(words[:length])
                if len(out) == n:
                    break
        return out
    rng = np.random.default_rng(seed)
    return [[tm.vocab.words[i] for i in rng.integers(0, len(tm.vocab) - 2, length)] for _ in range(n)]


def timed_pair(fa, fb, repeat: int) -> tuple[list[float], list[float], object, object]:
    """Alternate the two functions ``repeat`` times; minimum wall and CPU time of each (ms).

    CPU time (this process only) is reported too because the machine is shared: wall time
    includes waiting for a core, CPU time does not.
    """
    wall, cpu, outs = [[math.inf, math.inf] for _ in range(2)], [[math.inf, math.inf] for _ in range(2)], [None, None]
    for _ in range(repeat):
        for i, f in enumerate((fa, fb)):
            w0, c0 = time.perf_counter(), time.process_time()
            outs[i] = f()
            c1, w1 = time.process_time(), time.perf_counter()
            wall[i][0] = min(wall[i][0], 1000 * (w1 - w0))
            cpu[i][0] = min(cpu[i][0], 1000 * (c1 - c0))
    return [wall[0][0], cpu[0][0]], [wall[1][0], cpu[1][0]], outs[0], outs[1]


@torch.no_grad()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="trained LightRNN checkpoint (default: random PTB-size model)")
    ap.add_argument("--text", help="text file whose lines start the contexts (default: random words)")
    ap.add_argument("--vocab-size", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=200)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--contexts", type=int, default=50)
    ap.add_argument("--context-length", type=int, default=8, help="words per context (default: 8)")
    ap.add_argument("--repeat", type=int, default=10, help="timings per context; the minimum is kept")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    ap.add_argument("--first-rows", type=int, default=None, help="rows in the search's first batch (default: the library's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="JSON to write")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tm = load(args.checkpoint) if args.checkpoint else random_model(args.vocab_size, args.dim, args.layers, args.seed)
    if not tm.is_lightrnn:
        raise SystemExit(f"{args.checkpoint}: a LightRNN checkpoint is needed, got {tm.config.model!r}")
    model = tm.model
    cells = tm._cell_word()
    exact_ms, brute_ms, exact_cpu, brute_cpu, rows_fed, batches, mismatches = [], [], [], [], [], [], 0
    ctxs = contexts(tm, args.text, args.contexts, args.context_length, args.seed)
    for ctx in ctxs:
        hidden, last, _ = tm.context_state(ctx)

        def exact():
            h = tm._after_last(hidden, last)
            kw = {"first_rows": args.first_rows} if args.first_rows else {}
            return lightrnn_top(model, h, k=args.k, cell_word=cells, **kw)

        def brute():
            logp, _ = model.log_prob(last[None], hidden)  # (1, 1, V)
            return torch.topk(logp[0, 0], args.k)

        (w_e, c_e), (w_b, c_b), res, ref = timed_pair(exact, brute, args.repeat)
        exact_ms.append(w_e)
        brute_ms.append(w_b)
        exact_cpu.append(c_e)
        brute_cpu.append(c_b)
        rows_fed.append(res.rows_evaluated)
        batches.append(res.batches)
        if not torch.allclose(res.logp, ref.values, atol=1e-5):
            mismatches += 1
    R = tm.config.rows
    result = {
        "model": "trained checkpoint" if args.checkpoint else "random weights",
        "checkpoint": args.checkpoint, "vocab_size": tm.config.vocab_size,
        "table": [tm.config.rows, tm.config.cols], "hidden_dim": tm.config.hidden_dim,
        "num_layers": tm.config.num_layers, "k": args.k, "contexts": len(ctxs), "threads": args.threads,
        "exact_ms_median": statistics.median(exact_ms), "exact_ms_mean": statistics.fmean(exact_ms),
        "exact_ms_p90": float(np.percentile(exact_ms, 90)),
        "brute_ms_median": statistics.median(brute_ms), "brute_ms_mean": statistics.fmean(brute_ms),
        "exact_cpu_ms_median": statistics.median(exact_cpu), "brute_cpu_ms_median": statistics.median(brute_cpu),
        "rows_fed_mean": statistics.fmean(rows_fed), "rows_fed_median": statistics.median(rows_fed),
        "rows_total": R, "batches_mean": statistics.fmean(batches), "first_rows": args.first_rows, "speedup_median": statistics.median(brute_ms) / statistics.median(exact_ms),
        "mismatches_vs_brute_force": mismatches,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
