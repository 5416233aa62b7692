"""The ``lightrnn`` command line (also ``python -m lightrnn``).

Each concern registers its own subcommands from its own module, so that the files stay small:

====================  =====================================================
module                subcommands
====================  =====================================================
lightrnn.cli_data     prepare-ptb, build-vocab, encode, init-table, show-table
lightrnn.cli_train    train, evaluate
lightrnn.cli_realloc  realloc
lightrnn.cli_infer    score, predict, generate, table
====================  =====================================================

Flags and output files are declared with the helpers of :mod:`lightrnn.cli_args`.

Every subcommand reads and writes the files named on its command line; outputs are written
atomically, and their folders are checked for writability before any work starts. Errors in the
input (any :class:`lightrnn.errors.LightRNNError`, a bad table, a file that cannot be read or
written) exit with status 2 and one line naming the file, line or flag and the value; no
traceback.
"""
from __future__ import annotations

import argparse
import sys

from lightrnn.cli_args import output_flags
from lightrnn.errors import LightRNNError, UserError

__all__ = ["UserError", "build_parser", "main", "output_flags", "error_message"]


def error_message(exc: BaseException) -> str | None:
    """The one-line message of an error caused by the user's input or surroundings, or None for
    anything else (a bug: that keeps its traceback)."""
    from lightrnn.table import TableError

    if isinstance(exc, (LightRNNError, TableError)):
        return str(exc)
    if isinstance(exc, OSError):  # e.g. an input that cannot be read
        if exc.filename is not None and exc.strerror:
            return f"{exc.filename}: {exc.strerror}"
        return str(exc)
    return None


def _check_outputs(args) -> None:
    from lightrnn.atomic import check_writable

    for flag, dest in getattr(args, "output_flags", {}).items():
        value = getattr(args, dest, None)
        if value:
            try:
                check_writable(value)
            except LightRNNError as e:
                raise UserError(f"{flag} {e}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightrnn",
        description="LightRNN language models: build a vocabulary, train, reallocate the word "
        "table, evaluate and use a trained model. Run `lightrnn COMMAND --help` for details.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from lightrnn import cli_data, cli_infer, cli_realloc, cli_train

    for module in (cli_data, cli_train, cli_realloc, cli_infer):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_outputs(args)
        rc = args.func(args)
    except Exception as e:
        message = error_message(e)
        if message is None:
            raise
        print(f"lightrnn {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lightrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)
