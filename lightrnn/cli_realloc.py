"""``lightrnn realloc``: a trained LightRNN checkpoint -> the next round's word table."""
from __future__ import annotations

import argparse
import sys

from lightrnn.cli_args import output_flags
from lightrnn.config import DEVICES
from lightrnn.errors import UserError

HELP = """\
Reallocate words: one eval-mode pass over the training data accumulates each word's loss over
every row and column (L_r, L_c), then the exact minimum-cost assignment of words to cells gives
the next round's table (certified optimal by a dual bound). Writes the table and a JSON report
(objective before/after, words moved, certificate, times).

example:
  lightrnn realloc --checkpoint checkpoint_0.pt --train train.npy --out-table table_1.npz \\
      --report realloc_0.json --losses losses_0.npz
"""


def sample_arg(text: str) -> float | str:
    """--sample: a fraction, or `round` (resolved from the checkpoint by :func:`round_fraction`)."""
    if text == "round":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1] or round, got {text!r}") from None


def round_fraction(ckpt: dict, n_tokens: int) -> float:
    """The fraction of an epoch over ``n_tokens`` (this process's training tokens) that the
    checkpoint's round trained, capped at 1: its steps over the batches of one epoch at its batch
    size and BPTT.  A checkpoint that trained no step says nothing: 1 (the whole split)."""
    from lightrnn.data import epoch_batches

    cfg = ckpt["train_config"]
    steps = int(ckpt.get("step", 0))
    per_epoch = epoch_batches(n_tokens, int(cfg.get("batch_size", 1)), int(cfg.get("bptt", 1)))
    return 1.0 if steps <= 0 or per_epoch <= 0 else min(1.0, steps / per_epoch)


def register(sub) -> None:
    p = sub.add_parser("realloc", help="reallocate words to a new table", description=HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="LightRNN checkpoint of the finished round")
    p.add_argument("--train", required=True, help="encoded training split (.npy)")
    p.add_argument("--out-table", required=True, help="new table (.npz) to write")
    p.add_argument("--report", required=True, help="JSON report to write")
    p.add_argument("--losses", help="also write L_r, L_c and the token count (.npz)")
    p.add_argument("--batch-size", type=int, default=64, help="parallel streams in the pass (default: 64)")
    p.add_argument("--bptt", type=int, default=35, help="tokens per batch per stream (default: 35)")
    p.add_argument("--candidates", type=int, default=0,
                   help="solver: candidate rows/cols per word; 0 = automatic, 4 below 65,536 words of non-flat costs, else 5 (default: 0)")
    p.add_argument("--method", choices=("auto", "auction", "ssp"), default="auto", help="solver algorithm: auto = the auction on a table at most 1% empty, else ssp")
    p.add_argument("--sample", type=sample_arg, default="round",
                   help="fraction of the training tokens the loss pass reads, in evenly spread runs (1 = all), "
                        "or `round`: the fraction of an epoch the checkpoint's round trained, capped at 1, so that "
                        "the pass never reads more than the round trained on (default: round)")
    p.add_argument("--max-seconds", type=float, default=0.0,
                   help="solver time budget (0 = none: exact); when it runs out, the best table found is "
                        "written and the report gives its proven gap (default: 0)")
    p.add_argument("--gap-tol", type=float, default=0.0,
                   help="solver: stop once the table is proven within this fraction of the optimum "
                        "(0 = exact; default: 0)")
    p.add_argument("--device", default="auto", choices=DEVICES, metavar="DEVICE",
                   help="auto | cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--num-threads", type=int, default=0,
                   help="CPU threads of the pass (torch) and of the solver; 0 = all cores. Set it when "
                        "other jobs share the machine: oversubscribed, a 2-core pass measured 9x slower")
    p.add_argument("--rescore", action="store_true",
                   help="one more eval pass: the actual training NLL with the new table before any "
                        "further training (shows how far the separable prediction is from the truth)")
    output_flags(p, "--out-table", "--report", "--losses")
    p.set_defaults(func=run_realloc)


def run_realloc(args) -> int:
    import json

    from torch import device as torch_device

    from lightrnn import checkpoint as ck
    from lightrnn.atomic import atomic_save_npz, atomic_write_json
    from lightrnn.corpus import load_tokens
    from lightrnn.realloc import accumulate_losses, reallocate
    from lightrnn.data import resolve_device
    from lightrnn.vocab import CorpusError

    if args.num_threads < 0:
        raise UserError(f"--num-threads must be >= 0, got {args.num_threads}")
    if args.sample != "round" and not (0.0 < args.sample <= 1.0):
        raise UserError(f"--sample must be in (0, 1] (a fraction of the training tokens) or round, got {args.sample}")
    for flag, value in (("--max-seconds", args.max_seconds), ("--gap-tol", args.gap_tol)):
        if not (value >= 0 and value < float("inf")):
            raise UserError(f"{flag} must be finite and >= 0, got {value}")
    if args.candidates < 0:
        raise UserError(f"--candidates must be >= 0 (0 = automatic), got {args.candidates}")
    for flag, value in (("--batch-size", args.batch_size), ("--bptt", args.bptt)):
        if value < 1:
            raise UserError(f"{flag} must be >= 1, got {value}")
    if args.num_threads:
        import torch

        torch.set_num_threads(args.num_threads)
    try:
        ckpt = ck.load(args.checkpoint)
        if ckpt["model_config"].get("model") != "lightrnn":
            raise UserError(f"{args.checkpoint}: reallocation needs a LightRNN model, got {ckpt['model_config'].get('model')!r}")
        device = resolve_device(args.device)
        model = ck.build_model_from_checkpoint(ckpt, device=device)
        tokens = load_tokens(args.train, model.vocab_size)
    except (ck.CheckpointError, CorpusError, ValueError) as e:
        raise UserError(str(e)) from None
    from lightrnn.distributed import all_reduce_sum, from_env, shard

    ctx = from_env(device)  # torchrun: each rank sums over its shard; the sums are all-reduced
    if ctx.enabled and device.type == "cuda":
        device = torch_device("cuda", ctx.local_rank)
        model = model.to(device)
    own = shard(tokens, ctx, args.batch_size)
    if len(own) < 2 * args.batch_size:
        per_rank = f" per process ({ctx.world} processes)" if ctx.enabled else ""
        raise UserError(f"--train {args.train}: {len(own)} tokens{per_rank} are too few for --batch-size "
                        f"{args.batch_size} (need at least {2 * args.batch_size})")
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    sample = round_fraction(ckpt, len(own)) if args.sample == "round" else args.sample
    if args.sample == "round" and ctx.is_main:
        log(f"loss pass: {sample:.4g} of the training tokens (--sample round: the round trained {sample:.4g} epoch"
            f"{'' if sample < 1 else ' or more'})")

    losses = accumulate_losses(model, own, args.batch_size, args.bptt, device,
                               reduce_fn=all_reduce_sum if ctx.enabled else None, log=log if ctx.is_main else None,
                               sample=sample)
    if not ctx.is_main:
        ctx.barrier()  # rank 0 solves and writes the table; the others wait until it is complete
        return 0
    if args.losses:
        atomic_save_npz(args.losses, L_r=losses["L_r"], L_c=losses["L_c"], tokens=losses["tokens"])
    table, report = reallocate(model, tokens, args.batch_size, args.bptt, device, k=args.candidates,
                               method=args.method, losses=losses, rescore=args.rescore,
                               threads=args.num_threads, max_seconds=args.max_seconds or None,
                               gap_tol=args.gap_tol)
    report["checkpoint"] = str(args.checkpoint)
    report["round"] = int(ckpt["round"])
    table.save(args.out_table)
    atomic_write_json(args.report, report)
    keys = ("words_moved", "objective_old_per_token", "objective_new_per_token", "actual_ppl_old",
            "ppl_predicted_new", "actual_ppl_new", "pass_seconds")
    print(json.dumps({k: report[k] for k in keys if k in report}))
    ctx.barrier()
    return 0
