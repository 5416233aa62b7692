"""The errors a user can cause, all under one base class.

The command line prints any :class:`LightRNNError` as one line (``lightrnn CMD: error: MESSAGE``,
exit status 2) and never a traceback, so every message must be complete on its own: the file,
key or flag, and the value at fault. The classes also live where they are raised from
(``lightrnn.vocab.CorpusError``, ``lightrnn.checkpoint.CheckpointError``, ``lightrnn.cli.UserError``).
"""
from __future__ import annotations

__all__ = ["LightRNNError", "UserError", "ConfigError", "CorpusError", "CheckpointError", "WriteError"]


class LightRNNError(Exception):
    """A problem with the user's input or surroundings; the message names what and where."""


class UserError(LightRNNError):
    """A bad command-line value or combination of flags."""


class ConfigError(LightRNNError, ValueError):
    """A bad workflow configuration value; the message names the key (``train.epochs``)."""


class CorpusError(LightRNNError, ValueError):
    """Bad corpus or vocabulary input; the message names the file, line and value."""


class CheckpointError(LightRNNError, ValueError):
    """A file that is not a readable LightRNN checkpoint, or one that does not fit its use."""


class WriteError(LightRNNError, OSError):
    """An output that could not be written (no space, no permission...); the message names it.

    Raised by :mod:`lightrnn.atomic`, which leaves the previous file at that path untouched.
    """
