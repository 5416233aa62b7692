"""Training speed and parameter counts of LightRNN and its peers at the same sizes, in one run.

For each vocabulary size, every model does ``--steps`` timed training steps (forward, backward,
clip, SGD update; hidden carried and detached) on synthetic uniform tokens after ``--warmup``
untimed ones, and we report tokens/s = steps * bptt * batch / seconds, total and
embedding+output parameters, and the ratios LightRNN / full softmax.

A peer whose weights + gradients + (T*B, V) logits would need more than ``--max-gb`` GiB is
skipped and reported as such; its embedding+output count is then the exact formula
V*d + V*h + V (embedding, output weight, output bias).

    python benchmarks/train_speed.py --vocab 10000 100000 1000000 --threads 2
    python benchmarks/train_speed.py --device cuda --vocab 10000 100000 1000000
"""
from __future__ import annotations

import argparse
import statistics
import json
import time
from pathlib import Path

import torch

from lightrnn.atomic import atomic_write_text
from lightrnn.config import ModelConfig
from lightrnn.factory import build_model
from lightrnn.table import WordTable

KINDS = ("lightrnn", "full", "adaptive", "slim")


def estimated_gib(kind: str, V: int, d: int, h: int, T: int, B: int) -> float:
    """Rough float32 memory of the V-dependent part: weights, grads and output activations.

    Only the full softmax has (T*B, V) logits (kept for backward, plus their gradient and the
    log-softmax); the others scale with sqrt(V) or have tiny heads, so they are never skipped.
    """
    if kind != "full":
        return 0.0
    weights = V * d + V * h + V
    return 4 * (2 * weights + 3 * T * B * V) / 2**30


def make_model(kind: str, V: int, args: argparse.Namespace) -> torch.nn.Module:
    cfg = ModelConfig(model=kind, vocab_size=V, emb_dim=args.dim, hidden_dim=args.dim,
                      num_layers=args.layers, dropout=0.0, slim_pool=args.slim_pool)
    table = WordTable.random(V, seed=0) if kind == "lightrnn" else None
    torch.manual_seed(0)
    return build_model(cfg, table)


def time_training(model: torch.nn.Module, V: int, args: argparse.Namespace) -> float:
    """Tokens per second over ``args.steps`` timed steps."""
    device = torch.device(args.device)
    model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(1)
    n_steps = args.warmup + args.steps
    data = torch.randint(0, V, (n_steps * args.bptt + 1, args.batch), generator=g).to(device)
    hidden = model.init_hidden(args.batch)
    hidden = tuple(x.to(device) for x in hidden)
    start = 0.0
    for step in range(n_steps):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        i = step * args.bptt
        x, y = data[i:i + args.bptt], data[i + 1:i + 1 + args.bptt]  # (T, B)
        hidden = tuple(t.detach() for t in hidden)
        out = model(x, y, hidden)
        hidden = out.hidden
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return args.steps * args.bptt * args.batch / seconds


def fmt(x: float | int | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--dim", type=int, default=200, help="d = h")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--steps", type=int, default=10, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds per model (median)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--max-gb", type=float, default=6.0, help="skip a peer estimated above this")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    p.add_argument("--slim-pool", type=int, default=0, help="Slim: M (0 = V*K/20); the PTB comparison uses 3,900")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    for V in args.vocab:
        models = {}
        for kind in args.kinds:
            row = {"V": V, "model": kind, "tokens_per_s": None, "total": None, "embed_output": None, "note": ""}
            gib = estimated_gib(kind, V, args.dim, args.dim, args.bptt, args.batch)
            if gib > args.max_gb:
                row["note"] = f"skipped: ~{gib:.1f} GiB > --max-gb {args.max_gb}"
                emb = V * args.dim + V * args.dim + V
                row["embed_output"] = emb  # exact for the full softmax: V*d + V*h + V
                rows.append(row)
                print(f"V={V} {kind}: {row['note']}", flush=True)
                continue
            models[kind] = make_model(kind, V, args)
            row.update(models[kind].param_counts())
            rows.append(row)
        # Interleave the models over --repeats rounds and keep each one's median, so that a
        # change in machine load hits every model alike (the ratios are what we report).
        speeds = {kind: [] for kind in models}
        for _ in range(args.repeats):
            for kind, model in models.items():
                speeds[kind].append(time_training(model, V, args))
        for row in rows:
            if row["V"] == V and row["model"] in speeds:
                row["tokens_per_s"] = statistics.median(speeds[row["model"]])
                print(f"V={V} {row['model']}: {row['tokens_per_s']:.0f} tokens/s "
                      f"(median of {args.repeats}: {', '.join(f'{x:.0f}' for x in speeds[row['model']])})", flush=True)
        del models
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()

    print(f"\ndevice={args.device} threads={args.threads} d=h={args.dim} layers={args.layers} "
          f"batch={args.batch} bptt={args.bptt} steps={args.steps} (+{args.warmup} warmup)")
    print(f"{'V':>9} {'model':>9} {'tokens/s':>10} {'params':>12} {'emb+out':>12}  note")
    for r in rows:
        print(f"{r['V']:>9} {r['model']:>9} {fmt(r['tokens_per_s'], '10.0f')} {fmt(r['total'], '12,d')} "
              f"{fmt(r['embed_output'], '12,d')}  {r['note']}")
    print("\nratios LightRNN / full softmax:")
    for V in args.vocab:
        by = {r["model"]: r for r in rows if r["V"] == V}
        lr, full = by.get("lightrnn"), by.get("full")
        if not lr or not full:
            continue
        speed = (lr["tokens_per_s"] / full["tokens_per_s"]
                 if lr["tokens_per_s"] and full["tokens_per_s"] else None)
        fewer = full["embed_output"] / lr["embed_output"] if lr["embed_output"] else None
        print(f"  V={V}: speed x{fmt(speed, '.2f')}   embedding+output parameters {fmt(fewer, '.0f')}x fewer"
              + ("" if speed is not None else "   (full softmax skipped)"))
    if args.json is not None:
        atomic_write_text(args.json, json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                 "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
