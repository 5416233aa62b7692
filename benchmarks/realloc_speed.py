"""Cost of the reallocation pass against one evaluation pass over the same training tokens.

The pass should cost little more than an evaluation pass (measured at PTB size: V = 10k, 2 layers
of 200).
Both passes run the same model on the same tokens with the same streams and BPTT length; they
are timed alternately, ``--repeats`` times each, and the minimum of each is compared (the least
disturbed run: the machine is shared). The solver is timed once on the accumulated matrices.

    python benchmarks/realloc_speed.py                       # synthetic Zipf text, V = 10,000
    python benchmarks/realloc_speed.py --data benchmarks/out/ptb/train.npy --tokens 300000
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from lightrnn.config import ModelConfig
from lightrnn.factory import build_model
from lightrnn.realloc import accumulate_losses, reallocate
from lightrnn.table import WordTable
from lightrnn.data import evaluate


def zipf_tokens(n: int, vocab_size: int, seed: int) -> np.ndarray:
    """(n,) int32 ids with P(rank k) ~ 1/k, like word frequencies."""
    p = 1.0 / np.arange(1, vocab_size + 1)
    return np.random.default_rng(seed).choice(vocab_size, size=n, p=p / p.sum()).astype(np.int32)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="encoded tokens (.npy); default: synthetic Zipf text")
    p.add_argument("--vocab-size", type=int, default=10000, help="V for synthetic text, or the data's V")
    p.add_argument("--tokens", type=int, default=200_000, help="tokens to score (a slice of --data)")
    p.add_argument("--hidden", type=int, default=200, help="emb_dim = hidden_dim")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64, help="streams, the same for both passes")
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--solve", action="store_true",
                   help="also time the solver on the matrices (on an untrained model many words have flat "
                        "costs; at V=10k with a 20k-token slice that solve did not finish in 5 minutes here)")
    p.add_argument("--out", help="also write the result as JSON here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.data:
        tokens = np.load(a.data, mmap_mode="r")[:a.tokens]
        V = max(a.vocab_size, int(tokens.max()) + 1)
    else:
        V = a.vocab_size
        tokens = zipf_tokens(a.tokens, V, seed=0)
    torch.manual_seed(0)
    cfg = ModelConfig(model="lightrnn", vocab_size=V, emb_dim=a.hidden, hidden_dim=a.hidden, num_layers=a.layers)
    model = build_model(cfg, WordTable.random(V, seed=0)).to(a.device)
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)

    def timed(fn):
        sync()
        t0 = time.perf_counter()
        out = fn()
        sync()
        return time.perf_counter() - t0, out

    ev_times, pass_times = [], []
    for _ in range(a.repeats):
        t, ev = timed(lambda: evaluate(model, tokens, a.batch_size, a.bptt))
        ev_times.append(t)
        t, losses = timed(lambda: accumulate_losses(model, tokens, a.batch_size, a.bptt))
        pass_times.append(t)
    res = {
        "vocab_size": V, "table": list(model.table.shape), "tokens": losses["tokens"],
        "data": a.data or "synthetic zipf", "hidden": a.hidden, "layers": a.layers,
        "batch_size": a.batch_size, "bptt": a.bptt, "threads": a.threads, "device": a.device,
        "eval_seconds": ev_times, "realloc_pass_seconds": pass_times,
        "ratio_min": min(pass_times) / min(ev_times),
        "eval_tokens_per_s": losses["tokens"] / min(ev_times),
        "realloc_tokens_per_s": losses["tokens"] / min(pass_times),
    }
    if a.solve:
        _, rep = reallocate(model, tokens, losses=losses)
        res.update(solver_seconds=rep["solver"]["times"]["total"], solver_certified=rep["solver"]["certified"],
                   words_moved=rep["words_moved"])
    print(json.dumps(res, indent=2))
    print(f"reallocation pass / evaluation pass = {res['ratio_min']:.3f} "
          f"(min of {a.repeats}: {min(pass_times):.2f}s vs {min(ev_times):.2f}s over {losses['tokens']:,} tokens)"
          + (f"; solver {res['solver_seconds']:.2f}s" if a.solve else ""))
    if a.out:
        from lightrnn.atomic import atomic_write_json
        atomic_write_json(a.out, res)


if __name__ == "__main__":
    main()
