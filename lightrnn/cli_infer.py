"""``lightrnn score | predict | generate | table``: use a trained checkpoint (any model type)."""
from __future__ import annotations

import argparse
import json
import math

from lightrnn.cli_args import output_flags
from lightrnn.config import DEVICES
from lightrnn.errors import UserError

_RAW = argparse.RawDescriptionHelpFormatter

SCORE_HELP = """\
Log-probabilities and perplexity of a text under a trained model.

--text FILE (one sentence a line) is streamed as ONE stream with the state carried, read after
an initial <eos>: every word and every line's <eos> is scored. Words outside the vocabulary are
scored as <unk>; they are counted ("oov") and reported. --data FILE.npy (an encoded split) is
scored exactly as `lightrnn evaluate` does (--batch-size streams; the first token of each stream
is context only).

example:
  lightrnn score --checkpoint checkpoint_2.pt --text my.txt --tokens-out my.tsv --out my.json
"""

PREDICT_HELP = """\
The exact k most likely next words (and their probabilities) after a context that starts a
sentence. For LightRNN the search feeds candidate rows in descending row probability and stops
when no unvisited row can hold a better word; the result equals a scan of the whole vocabulary.

example:
  lightrnn predict --checkpoint checkpoint_2.pt --context "the stock market" -k 10
"""

GENERATE_HELP = """\
Sample continuations of a prompt (exact ancestral sampling; LightRNN: a row, then a column).
--temperature alone scales each factor (row and column softmax) for LightRNN, the word softmax for
the others. With --top-k/--top-p the candidate words are found exactly on the model's word
distribution, then the temperature is applied to their probabilities.

example:
  lightrnn generate --checkpoint checkpoint_2.pt --prompt "the company" --num-samples 3 --seed 1
"""

TABLE_HELP = """\
The words sharing a row and a column with WORD in a LightRNN checkpoint's word table.

example:
  lightrnn table --checkpoint checkpoint_2.pt --word monday
"""


def register(sub) -> None:
    p = sub.add_parser("score", help="log-probabilities and perplexity of a text", description=SCORE_HELP,
                       formatter_class=_RAW)
    _common(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="text file, one sentence a line")
    src.add_argument("--data", help="encoded split (.npy), scored as `lightrnn evaluate` does")
    p.add_argument("--batch-size", type=int, default=1, help="--data only: parallel streams (default: 1)")
    p.add_argument("--bptt", type=int, default=35, help="tokens per forward call (default: 35)")
    p.add_argument("--tokens-out", help="--text only: write 'word<TAB>log-prob (nats)' per token (.tsv)")
    p.add_argument("--out", help="JSON result to write (always printed)")
    output_flags(p, "--tokens-out", "--out")
    p.set_defaults(func=run_score)

    p = sub.add_parser("predict", help="exact top-k next words", description=PREDICT_HELP, formatter_class=_RAW)
    _common(p)
    p.add_argument("--context", default="", help="words read after <eos> (default: none, a sentence start)")
    p.add_argument("-k", "--top-k", dest="k", type=int, default=10, help="how many words (default: 10)")
    p.add_argument("--json", action="store_true", help="print JSON instead of 'word<TAB>probability' lines")
    p.set_defaults(func=run_predict)

    p = sub.add_parser("generate", help="sample text", description=GENERATE_HELP, formatter_class=_RAW)
    _common(p)
    p.add_argument("--prompt", default="", help="words read after <eos> (default: none)")
    p.add_argument("--max-tokens", type=int, default=50, help="at most this many words per sample (default: 50)")
    p.add_argument("--temperature", type=float, default=1.0, help="> 0 (default: 1, the model's distribution)")
    p.add_argument("--top-k", type=int, help="sample among the k most likely words")
    p.add_argument("--top-p", type=float, help="sample among the most likely words holding mass p")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--num-samples", type=int, default=1, help="independent samples (default: 1)")
    p.add_argument("--stop-at-eos", action=argparse.BooleanOptionalAction, default=True,
                   help="end a sample at <eos> (default: on)")
    p.add_argument("--out", help="JSON list of samples to write")
    output_flags(p, "--out")
    p.set_defaults(func=run_generate)

    p = sub.add_parser("table", help="words sharing a row or column with a word", description=TABLE_HELP,
                       formatter_class=_RAW)
    _common(p)
    p.add_argument("--word", required=True, help="a word of the vocabulary")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_table)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="checkpoint (.pt) of a trained model")
    p.add_argument("--vocab", help="vocab.tsv, only for checkpoints saved without their words")
    p.add_argument("--device", default="cpu", choices=DEVICES, metavar="DEVICE",
                   help="cpu | cuda | cuda:N | auto (default: cpu)")
    p.add_argument("--num-threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")


def _load(args):
    import torch

    from lightrnn.checkpoint import CheckpointError
    from lightrnn.infer import load
    from lightrnn.data import resolve_device
    from lightrnn.vocab import CorpusError

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    try:
        device = resolve_device(args.device)
        return load(args.checkpoint, map_location=device, vocab=args.vocab)
    except (CheckpointError, CorpusError, ValueError) as e:
        raise UserError(str(e)) from None


def run_score(args) -> int:
    from lightrnn.atomic import atomic_open, atomic_write_json
    from lightrnn.corpus import load_tokens
    from lightrnn.vocab import CorpusError

    tm = _load(args)
    if args.batch_size < 1 or args.bptt < 1:
        raise UserError(f"--batch-size and --bptt must be >= 1, got {args.batch_size}, {args.bptt}")
    if args.text and args.batch_size != 1:
        raise UserError("--batch-size applies to --data only; --text is scored as one carried stream")
    if args.data and args.tokens_out:
        raise UserError("--tokens-out applies to --text only")
    try:
        if args.data:
            tokens = load_tokens(args.data, len(tm.vocab))
            result = tm.score_tokens(tokens, args.batch_size, args.bptt)
        elif args.tokens_out:
            with atomic_open(args.tokens_out, "w") as f:
                result = tm.score_file(args.text, args.bptt, on_token=lambda w, lp: f.write(f"{w}\t{lp:.6f}\n"))
        else:
            result = tm.score_file(args.text, args.bptt)
    except (CorpusError, ValueError) as e:
        raise UserError(str(e)) from None
    out = {"source": args.text or args.data, "checkpoint": str(args.checkpoint), "model": tm.config.model,
           **result.to_dict()}
    print(json.dumps(out, sort_keys=True))
    if args.out:
        atomic_write_json(args.out, out)
    if not math.isfinite(result.loss):
        raise UserError(f"loss is not finite ({result.loss})")
    return 0


def run_predict(args) -> int:
    tm = _load(args)
    if args.k < 1:
        raise UserError(f"-k must be >= 1, got {args.k}")
    res = tm.predict(args.context, args.k)
    if args.json:
        print(json.dumps(res))
        return 0
    if res["oov"]:
        print(f"# read as <unk>: {' '.join(res['oov'])}")
    for w, prob in res["words"]:
        print(f"{w}\t{prob:.6f}")
    return 0


def run_generate(args) -> int:
    from lightrnn.atomic import atomic_write_json

    tm = _load(args)
    try:
        samples = tm.generate(args.prompt, args.max_tokens, args.temperature, args.top_k, args.top_p,
                              args.seed, args.num_samples, args.stop_at_eos)
    except ValueError as e:
        raise UserError(str(e)) from None
    for s in samples:
        print(" ".join(([args.prompt] if args.prompt else []) + s))
    if args.out:
        atomic_write_json(args.out, {"prompt": args.prompt, "seed": args.seed, "temperature": args.temperature,
                                     "top_k": args.top_k, "top_p": args.top_p, "samples": samples})
    return 0


def run_table(args) -> int:
    tm = _load(args)
    try:
        nb = tm.neighbours(args.word)
    except ValueError as e:
        raise UserError(f"{args.checkpoint}: {e}") from None
    if args.json:
        print(json.dumps(nb))
        return 0
    print(f"{nb['word']}: row {nb['row']}, column {nb['col']}")
    print(f"row {nb['row']} ({len(nb['row_words'])} others): {' '.join(nb['row_words'])}")
    print(f"column {nb['col']} ({len(nb['col_words'])} others): {' '.join(nb['col_words'])}")
    return 0
