"""Checkpoints: plain dicts of tensors and primitives that load with ``weights_only=True``.

A checkpoint holds everything to rebuild the model (its config and table), to use it (the
vocabulary's words) and to continue training exactly (optimizer, RNG states, carried hidden
state, position in the epoch). Layout (docs/DESIGN.md)::

    format="lightrnn-checkpoint", version=1, model_config, train_config, model, optimizer,
    rng, step, epoch, round, state, hidden, table_cells, table_shape, vocab_words, metrics
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lightrnn.atomic import atomic_torch_save
from lightrnn.config import ModelConfig
from lightrnn.errors import CheckpointError
from lightrnn.table import WordTable

__all__ = ["FORMAT", "VERSION", "CheckpointError", "make_checkpoint", "save", "load",
           "build_model_from_checkpoint", "rebuild_model", "table_from_checkpoint", "get_rng_state",
           "set_rng_state"]

FORMAT = "lightrnn-checkpoint"
VERSION = 1
_REQUIRED = ("model_config", "train_config", "model", "step", "epoch", "round")


def get_rng_state() -> dict[str, Any]:
    """Every RNG training may touch, as tensors and primitives (``weights_only``-loadable).

    torch CPU (and CUDA when present) as their ByteTensors; numpy's MT19937 and Python's
    ``random`` as int64 tensors of their key words plus plain ints/floats.
    """
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(np_kind), "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
                  "pos": int(np_pos), "has_gauss": int(np_has_gauss), "cached_gaussian": float(np_gauss)},
        "python": {"version": int(py_version), "internal": torch.tensor(py_internal, dtype=torch.int64),
                   "gauss_next": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` saved (parts missing from older files are skipped)."""
    torch.set_rng_state(state["torch"])
    if "numpy" in state:
        n = state["numpy"]
        np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                             n["cached_gaussian"]))
    if "python" in state:
        p = state["python"]
        random.setstate((p["version"], tuple(int(x) for x in p["internal"].tolist()), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def make_checkpoint(model: nn.Module, optimizer: torch.optim.Optimizer | None, train_config: dict,
                    state: dict, vocab_words: list[str] | None = None, hidden=None) -> dict[str, Any]:
    """Assemble the checkpoint dict (tensors moved to CPU so it loads anywhere)."""
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    table = getattr(model, "table", None)
    cpu = lambda t: t.detach().cpu() if isinstance(t, torch.Tensor) else t  # noqa: E731
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_config": model.config.to_dict(),
        "train_config": dict(train_config),
        "model": {k: cpu(v) for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "rng": get_rng_state(),
        "step": int(state.get("step", 0)),
        "epoch": int(state.get("epoch", 0)),
        "round": int(state.get("round", 0)),
        "state": dict(state),
        "hidden": [cpu(h) for h in hidden] if hidden is not None else None,
        "table_cells": torch.from_numpy(table.cells()) if table is not None else None,
        "table_shape": list(table.shape) if table is not None else None,
        "vocab_words": list(vocab_words) if vocab_words is not None else None,
        "metrics": list(state.get("metrics", [])),
    }


def save(path: str | os.PathLike, ckpt: dict[str, Any]) -> None:
    """Write atomically: readers see the old file or the complete new one."""
    atomic_torch_save(path, ckpt)


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint with ``weights_only=True``.

    Raises CheckpointError naming the file when it is missing, truncated, not a torch file,
    unsafe to unpickle, or a torch file that is not a LightRNN checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # a damaged file can fail anywhere inside the unpickler (KeyError, ...)
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"{p}: not a readable checkpoint (truncated or not a torch file?): {msg}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not a LightRNN checkpoint (no format={FORMAT!r} marker)")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"{p}: checkpoint version {ckpt.get('version')!r}, this code reads {VERSION}")
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{p}: checkpoint lacks {missing}")
    for key in ("model_config", "train_config", "model"):
        if not isinstance(ckpt[key], dict):
            raise CheckpointError(f"{p}: {key!r} is a {type(ckpt[key]).__name__}, expected a dict")
    if (ckpt.get("table_cells") is None) != (ckpt.get("table_shape") is None):
        raise CheckpointError(f"{p}: table_cells and table_shape must both be present or both None")
    return ckpt


def table_from_checkpoint(ckpt: dict[str, Any]) -> WordTable | None:
    if ckpt.get("table_cells") is None:
        return None
    r, c = ckpt["table_shape"]
    return WordTable.from_cells(ckpt["table_cells"].numpy(), r, c)


def build_model_from_checkpoint(ckpt: dict[str, Any], table: WordTable | None = None,
                                device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the architecture from the saved config and load the weights.

    ``table`` overrides the saved table (LightRNN: the next round's table; the row and column
    vectors stay with their positions).
    """
    from lightrnn.factory import build_model

    try:
        config = ModelConfig.from_dict(ckpt["model_config"])
        model = build_model(config, table if table is not None else table_from_checkpoint(ckpt))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint model cannot be rebuilt: {e}") from None
    mismatch = _weight_mismatch(ckpt["model"], model.state_dict())
    if mismatch:
        raise CheckpointError(f"weights do not fit the architecture in its model_config ({_arch(config)}): {mismatch}")
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise CheckpointError(f"weights cannot be loaded: {str(e).splitlines()[0]}") from None
    return model.to(device)


def rebuild_model(ckpt: dict[str, Any], table: WordTable | None, device: str | torch.device,
                  source: str) -> nn.Module:
    """:func:`build_model_from_checkpoint`; an error names ``source``, where the checkpoint came from."""
    try:
        return build_model_from_checkpoint(ckpt, table, device)
    except CheckpointError as e:
        raise CheckpointError(f"{source}: {e}") from None


def _arch(config: ModelConfig) -> str:
    return (f"{config.model}, {config.num_layers} x {config.hidden_dim} LSTM, emb_dim {config.emb_dim}, "
            f"{config.vocab_size} words")


def _weight_mismatch(saved: dict, expected: dict) -> str:
    """'' when the saved tensors have the names and shapes of ``expected``; else the first
    difference with both shapes, and how many more there are."""
    problems = []
    for name, t in expected.items():
        if name not in saved:
            problems.append(f"{name} {tuple(t.shape)} is missing from the file")
        elif tuple(saved[name].shape) != tuple(t.shape):
            problems.append(f"{name} is {tuple(saved[name].shape)} in the file, {tuple(t.shape)} in the model")
    problems += [f"{name} {tuple(saved[name].shape)} in the file is not in the model"
                 for name in saved if name not in expected]
    if not problems:
        return ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
