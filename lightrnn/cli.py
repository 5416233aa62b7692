"""The ``lightrnn`` command line (also ``python -m lightrnn``).

Each concern registers its own subcommands from its own module, so that the files stay small:

==================  ==========================================
module              subcommands
==================  ==========================================
lightrnn.cli_data   build-vocab, encode, init-table
lightrnn.cli_train  train, evaluate
lightrnn.cli_realloc  realloc, show-table
lightrnn.cli_infer  score, predict, generate, table
==================  ==========================================

Every subcommand reads and writes the files named on its command line; outputs are written
atomically. Errors in the input exit with status 2 and one line naming the file, line and value.
"""
from __future__ import annotations

import argparse
import importlib
import sys

_COMMAND_MODULES = (
    "lightrnn.cli_data",
    "lightrnn.cli_train",
    "lightrnn.cli_realloc",
    "lightrnn.cli_infer",
)


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit status 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightrnn",
        description="LightRNN language models: build a vocabulary, train, reallocate the word "
        "table, evaluate and use a trained model. Run `lightrnn COMMAND --help` for details.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:  # a concern not built yet; its commands are absent
            if e.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except UserError as e:
        print(f"lightrnn {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lightrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)
