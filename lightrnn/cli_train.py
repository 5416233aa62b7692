"""``lightrnn train`` and ``lightrnn evaluate``: flags in, :mod:`lightrnn.rounds` and
:func:`lightrnn.train.train` do the work."""
from __future__ import annotations

import argparse
import functools
import json
import math
from pathlib import Path

from lightrnn.cli_args import add_dataclass_args, dataclass_from_args, given_fields, output_flags
from lightrnn.config import DEVICES, ModelConfig, TrainConfig
from lightrnn.errors import UserError
from lightrnn.metrics import METRIC_FIELDS, write_metrics_csv

__all__ = ["register", "run_train", "run_evaluate", "METRIC_FIELDS", "write_metrics_csv"]

TRAIN_HELP = """\
Train one round of a language model (LightRNN, full, adaptive or slim softmax).

Round 0 starts from random weights; a later round starts from the previous round's checkpoint
(--init-from) with the table made by `lightrnn realloc`. A run writes OUT.partial every
--checkpoint-every steps; started again with the same arguments it resumes from there and ends
bit-identical (on CPU) to an uninterrupted run.

Model flags set the architecture of round 0. With --init-from the architecture is the saved one:
model flags may be repeated but must then equal the saved values (a differing one is an error).
The vocabulary must be the one the previous round was trained with. --epochs may be a
fraction: a round of 0.25 epochs ends a quarter into the data and the next round goes on from
there (a short first round from a random table, then a reallocation: README).

example:
  lightrnn train --vocab vocab.tsv --train train.npy --valid valid.npy --table table_0.npz \\
      --out checkpoint_0.pt --metrics metrics_0.csv --hidden-dim 200 --epochs 2
  lightrnn train --vocab vocab.tsv --train train.npy --valid valid.npy --table table_1.npz \\
      --init-from checkpoint_0.pt --round 1 --out checkpoint_1.pt --metrics metrics_1.csv --epochs 2
"""

EVAL_HELP = """\
Perplexity of a trained model on an encoded split (`<eos>` counted, state carried).

example:
  lightrnn evaluate --checkpoint checkpoint_2.pt --data test.npy --name test --out test.json
"""


def register(sub) -> None:
    p = sub.add_parser("train", help="train one round of a model", description=TRAIN_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab", required=True, help="vocab.tsv from `lightrnn build-vocab`")
    p.add_argument("--train", required=True, help="encoded training split (.npy)")
    p.add_argument("--valid", help="encoded validation split (.npy), evaluated after every epoch")
    p.add_argument("--table", help="word table (.npz) for LightRNN (default: the --init-from one)")
    p.add_argument("--init-from", help="checkpoint of the previous round: start from its weights")
    p.add_argument("--out", required=True, help="final checkpoint to write (.pt)")
    p.add_argument("--metrics", help="per-epoch metrics CSV to write")
    p.add_argument("--round", type=int, default=0, help="bootstrap round number (default: 0)")
    p.add_argument("--config", metavar="YAML",
                   help="a workflow config file (e.g. config/ptb-small.yaml): its model and train keys are this "
                        "run's defaults (flags given here win); a train.epochs list gives round --round its entry")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="continue from OUT.partial if it exists (default: on)")
    add_dataclass_args(p, ModelConfig, "model (fixed by --init-from: given flags must equal the saved ones)")
    add_dataclass_args(p, TrainConfig, "training")
    output_flags(p, "--out", "--metrics")
    p.set_defaults(func=run_train)

    e = sub.add_parser("evaluate", help="perplexity of a checkpoint on a split", description=EVAL_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--checkpoint", required=True, help="checkpoint (.pt)")
    e.add_argument("--data", required=True, help="encoded split (.npy)")
    e.add_argument("--name", default="test", help="name of the split, stored in the output (default: test)")
    e.add_argument("--table", help="evaluate with this table instead of the checkpoint's")
    e.add_argument("--batch-size", type=int, default=10, help="parallel streams (default: 10)")
    e.add_argument("--bptt", type=int, default=35, help="tokens per batch per stream (default: 35)")
    e.add_argument("--device", default="auto", choices=DEVICES, metavar="DEVICE",
                   help="auto | cpu | cuda | cuda:N (default: auto)")
    e.add_argument("--out", help="JSON result to write (always printed)")
    output_flags(e, "--out")
    e.set_defaults(func=run_evaluate)


def _load_inputs(args):
    from lightrnn.corpus import load_tokens
    from lightrnn.vocab import Vocab

    vocab = Vocab.load(args.vocab)
    train_tokens = load_tokens(args.train, len(vocab))
    valid_tokens = load_tokens(args.valid, len(vocab)) if args.valid else None
    return vocab, train_tokens, valid_tokens


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _with_flags(message: str, cls) -> str:
    """A config class's message with its field names written as the flags that set them."""
    import dataclasses
    import re

    names = "|".join(sorted((f.name for f in dataclasses.fields(cls)), key=len, reverse=True))
    return re.sub(rf"\b({names})\b(?= must)", lambda m: _flag(m.group(1)), message)


def _check_round_length(args, cfg, n_batches: int) -> None:
    """A round must train at least one batch; say how short --epochs may be for this data."""
    if cfg.epochs > 0 and round(cfg.epochs * n_batches) == 0:
        raise UserError(f"--epochs {cfg.epochs} is less than one batch: an epoch of --train {args.train} is "
                        f"{n_batches} batches ({cfg.batch_size} streams x {cfg.bptt} tokens), so --epochs "
                        f"must be at least {1 / n_batches:.3g}")


def _apply_config_file(args, path: str) -> None:
    """Fill the model and training flags not given on the command line from a workflow config."""
    import dataclasses
    import difflib

    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise UserError(f"--config {path}: cannot read it as YAML: {str(e).splitlines()[0]}") from None
    for section, cls in (("model", ModelConfig), ("train", TrainConfig)):
        values = doc.get(section) or {}
        if not isinstance(values, dict):
            raise UserError(f"--config {path}: {section} must be a mapping of keys, got {values!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        for key, value in values.items():
            if key not in known:
                near = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean {section}.{near[0]}?)" if near else ""
                raise UserError(f"--config {path}: unknown key {section}.{key}{hint}")
            if key == "epochs" and isinstance(value, list):
                if not 0 <= args.round < len(value):
                    raise UserError(f"--config {path}: train.epochs lists {len(value)} rounds, "
                                    f"no entry for --round {args.round}")
                value = value[args.round]
            if getattr(args, key, None) is None:
                setattr(args, key, value)


def run_train(args) -> int:
    import torch

    from lightrnn import rounds
    from lightrnn.data import epoch_batches, resolve_device
    from lightrnn.distributed import DistributedLM, from_env, shard
    from lightrnn.train import train

    if args.config:
        _apply_config_file(args, args.config)
    vocab, train_tokens, valid_tokens = _load_inputs(args)
    vocab_words = list(vocab.words)
    out = Path(args.out)
    partial = out.with_name(out.name + ".partial")
    prev = _previous_round(args, vocab_words)
    model_cfg, train_cfg = _configs(args, prev, len(vocab))
    if train_cfg.num_threads:
        torch.set_num_threads(train_cfg.num_threads)
    try:
        device = resolve_device(train_cfg.device)
    except (RuntimeError, ValueError) as e:
        raise UserError(f"--device {train_cfg.device}: {e}") from None
    ctx = from_env(device)  # torchrun: join the process group; each rank takes its own shard
    if ctx.enabled and device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
    train_tokens = shard(train_tokens, ctx, train_cfg.batch_size)
    # Flushed line by line: a job's log shows each line as it is written, not when the job ends.
    log = functools.partial(print, flush=True) if ctx.is_main else (lambda *a, **k: None)
    for name, path, toks, streams in (("--train", args.train, train_tokens, train_cfg.batch_size),
                                      ("--valid", args.valid, valid_tokens, train_cfg.eval_batch_size)):
        if toks is not None and len(toks) < 2 * streams:
            raise UserError(f"{name} {path}: {len(toks)} tokens are too few for {streams} streams "
                            f"(need at least {2 * streams})")
    _check_round_length(args, train_cfg, epoch_batches(len(train_tokens), train_cfg.batch_size, train_cfg.bptt))
    table = _round_table(args, model_cfg, prev, len(vocab))
    resume = _partial_to_resume(args, partial, model_cfg, train_cfg, table, vocab_words)
    start = rounds.start_round(model_cfg, train_cfg, args.round, table, device, prev=prev, resume=resume,
                               rank=ctx.rank, world=ctx.world, prev_name=f"--init-from {args.init_from}",
                               resume_name=str(partial))
    for line in start.notes:
        log(line)
    model = start.model
    if ctx.enabled:
        model = DistributedLM(model, device_ids=[ctx.local_rank] if device.type == "cuda" else None)
    counts = model.param_counts()
    log(f"model {model_cfg.model}: {counts['total']:,} parameters "
        f"({counts['embed_output']:,} in embeddings and output), device {device}")
    save = _snapshot_writer(ctx, model, start.optimizer, train_cfg, vocab_words)

    def on_epoch(st):
        if args.metrics and ctx.is_main:
            write_metrics_csv(args.metrics, st.metrics)

    result = train(model, train_tokens, valid_tokens, train_cfg, start.state, start.optimizer, hidden=start.hidden,
                   on_checkpoint=lambda st, hid: save(partial, st, hid), on_epoch=on_epoch, log=log)
    if not result.finished:
        # Stopped by --max-steps: save where we are, as an interruption would, and do not
        # write OUT (the round is not finished). Running the same command again resumes.
        save(partial, result.state, result.hidden)
        log(f"stopped after {result.state.step} steps (--max-steps); {partial} holds the state, run again to resume")
        return 0
    if args.metrics and ctx.is_main:
        write_metrics_csv(args.metrics, result.state.metrics)
    save(out, result.state, None)
    if ctx.is_main and partial.exists():
        partial.unlink()
    return 0


def _previous_round(args, vocab_words: list[str]) -> dict | None:
    """The checkpoint of --init-from, trained with this vocabulary (None without the flag)."""
    from lightrnn import checkpoint as ck
    from lightrnn.rounds import vocab_matches

    if not args.init_from:
        return None
    prev = ck.load(args.init_from)
    if not vocab_matches(prev, vocab_words):
        raise UserError(f"--init-from {args.init_from} was trained with another vocabulary than {args.vocab}")
    return prev


def _configs(args, prev: dict | None, vocab_size: int) -> tuple[ModelConfig, TrainConfig]:
    """The round's model and training configs: the previous round's architecture wins (given
    model flags must agree with it); training flags over their defaults."""
    from lightrnn.rounds import architecture_clash

    if prev is not None:
        clash = architecture_clash(prev, given_fields(ModelConfig, args))
        if clash:
            differ = ", ".join(f"{_flag(k)} {v} (saved: {saved})" for k, (v, saved) in clash.items())
            raise UserError(f"--init-from {args.init_from} fixes the architecture and these flags differ "
                            f"from it: {differ}; drop them or give the saved values")
        model_cfg = ModelConfig.from_dict(dict(prev["model_config"]))
    else:
        try:
            model_cfg = dataclass_from_args(ModelConfig, args, vocab_size=vocab_size)
        except ValueError as e:
            raise UserError(_with_flags(str(e), ModelConfig)) from None
    if model_cfg.vocab_size != vocab_size:
        raise UserError(f"{args.vocab} has {vocab_size} words, the model expects {model_cfg.vocab_size}")
    try:
        return model_cfg, dataclass_from_args(TrainConfig, args)
    except ValueError as e:
        raise UserError(_with_flags(str(e), TrainConfig)) from None


def _round_table(args, model_cfg: ModelConfig, prev: dict | None, vocab_size: int):
    """LightRNN's table for this round: --table, else the --init-from one; None for the peers."""
    from lightrnn import checkpoint as ck
    from lightrnn.table import WordTable

    if model_cfg.model != "lightrnn":
        return None
    if args.table:
        table = WordTable.load(args.table, vocab_size=vocab_size)
    elif prev is not None:
        table = ck.table_from_checkpoint(prev)
    else:
        raise UserError("a LightRNN model needs --table (make one with `lightrnn init-table`)")
    if table.shape != (model_cfg.rows, model_cfg.cols):
        source = f"--table {args.table}" if args.table else f"the table of --init-from {args.init_from}"
        raise UserError(f"{source} is {table.shape[0]} x {table.shape[1]}, the model needs "
                        f"{model_cfg.rows} x {model_cfg.cols}")
    return table


def _partial_to_resume(args, partial: Path, model_cfg, train_cfg, table, vocab_words) -> dict | None:
    """OUT.partial when this run resumes it (--resume, and written by the same run); else None."""
    from lightrnn import checkpoint as ck
    from lightrnn.rounds import resume_mismatch

    if not (args.resume and partial.exists()):
        return None
    try:
        resume = ck.load(partial)
    except ck.CheckpointError as e:
        raise UserError(f"{e} (delete it or pass --no-resume)") from None
    why = resume_mismatch(resume, model_cfg, train_cfg, args.round, table, vocab_words)
    if why is not None:
        raise UserError(f"{partial} was written with {why}; delete it or pass --no-resume")
    return resume


def _snapshot_writer(ctx, model, optimizer, train_cfg: TrainConfig, vocab_words: list[str]):
    """``save(path, state, hidden)``: a checkpoint of the run as it stands. Every rank takes part
    in gathering the carried state; rank 0 alone writes."""
    from lightrnn import checkpoint as ck
    from lightrnn.distributed import gather_hidden

    def save(path, st, hid) -> None:
        hid = gather_hidden(hid, ctx) if hid is not None else None
        if ctx.is_main:
            ckpt = ck.make_checkpoint(model, optimizer, train_cfg.to_dict(), st.to_dict(), vocab_words, hid)
            ckpt["world_size"] = ctx.world
            ck.save(path, ckpt)
        ctx.barrier()

    return save


def run_evaluate(args) -> int:
    import torch

    from lightrnn import checkpoint as ck
    from lightrnn.atomic import atomic_write_json
    from lightrnn.corpus import load_tokens, token_stats
    from lightrnn.table import WordTable
    from lightrnn.data import evaluate, resolve_device
    from lightrnn.vocab import UNK

    ckpt = ck.load(args.checkpoint)
    table = WordTable.load(args.table) if args.table else None
    try:
        device = resolve_device(args.device)
    except (RuntimeError, ValueError) as e:
        raise UserError(f"--device {args.device}: {e}") from None
    model = ck.rebuild_model(ckpt, table, device, args.checkpoint)
    tokens = load_tokens(args.data, model.config.vocab_size)
    torch.manual_seed(0)
    try:
        result = evaluate(model, tokens, args.batch_size, args.bptt, device)
    except ValueError as e:
        raise UserError(f"--data {args.data}: {e}") from None
    result = {"name": args.name, "checkpoint": str(args.checkpoint), "model": model.config.model,
              **result, **{f"params_{k}": v for k, v in model.param_counts().items()}}
    words = ckpt.get("vocab_words") or []
    if UNK in words:  # a perplexity means little without the share of <unk> it was measured on
        stats = token_stats(tokens, words.index(UNK))
        result.update(unk=stats["unk"], oov_rate=stats["oov_rate"])
    print(json.dumps(result, sort_keys=True))
    if args.out:
        atomic_write_json(args.out, result)
    if not math.isfinite(result["loss"]):
        raise UserError(f"loss is not finite ({result['loss']})")
    return 0
