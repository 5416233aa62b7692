"""Command-line helpers shared by the ``cli_*`` modules: flags generated from the typed config
dataclasses (one ``--field-name`` each, its help and choices from the field's metadata), and the
declaration of the flags that name output files.

Every generated flag defaults to ``None`` ("not given") so that callers can tell a user's choice
from a dataclass default: a checkpoint's saved config wins over defaults but not over given flags.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing

__all__ = ["add_dataclass_args", "given_fields", "dataclass_from_args", "output_flags"]


def output_flags(parser: argparse.ArgumentParser, *flags: str) -> None:
    """Declare the flags of ``parser`` that name files it writes: `lightrnn.cli.main` checks that
    each given one can be written before the command runs (a read-only folder fails at once, not
    after an epoch of training)."""
    dests = {flag: parser._option_string_actions[flag].dest for flag in flags}
    parser.set_defaults(output_flags=dests)


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_dataclass_args(parser: argparse.ArgumentParser, cls, title: str | None = None) -> None:
    """Add ``--field-name`` for every field of dataclass ``cls`` (default None = not given).

    The help is the field's ``metadata["help"]`` (the field's name without one) followed by its
    default; ``metadata["choices"]``, where given, limits the values the flag accepts.
    """
    group = parser.add_argument_group(title or f"{cls.__name__} options")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = f"{f.metadata.get('help', f.name)} (default: {default})".replace("%", "%%")
        typ = hints[f.name]
        if typ is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif typing.get_origin(typ) is list:
            group.add_argument(flag, dest=f.name, type=_int_list, default=None, metavar="N,N,...", help=help_text)
        else:
            group.add_argument(flag, dest=f.name, type=typ, default=None, metavar=f.name.upper(), help=help_text,
                               choices=f.metadata.get("choices"))


def given_fields(cls, args: argparse.Namespace) -> dict:
    """The fields of ``cls`` the user gave on the command line."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if getattr(args, f.name, None) is not None}


def dataclass_from_args(cls, args: argparse.Namespace, base: dict | None = None, **overrides):
    """Build ``cls`` from ``base`` (e.g. a saved config), then given flags, then ``overrides``."""
    values = dict(base or {})
    values.update(given_fields(cls, args))
    values.update(overrides)
    return cls(**values)
