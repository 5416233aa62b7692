"""The bootstrap's round policy: how a training round starts, and what it takes over from the
round before it or from its own interrupted run.

A LightRNN run is rounds of training with a reallocation of the word table between them. Round
r > 0 starts from the checkpoint of round r - 1 and takes over

- its weights, always, and with them its architecture (:func:`architecture_clash`);
- with ``TrainConfig.carry_lr`` (the default): the learning rate, the epoch counter and the place
  in the data (after a 0.25-epoch round the next one goes on from there), and the plateau rule's
  best validation loss, but only under the same word table (:func:`carried_state`);
- with ``reset_optimizer`` off: the optimizer's state, when it is the same kind of optimizer
  (:func:`carry_optimizer`).

Round r is seeded with ``seed + 1000 * r`` (:func:`round_seed`). A round interrupted midway (its
partial checkpoint) resumes only with the same settings, apart from :data:`RESUME_MAY_CHANGE`, the
same table and the same vocabulary (:func:`resume_mismatch`); on another number of ranks it goes
on at the same fraction of the epoch with a fresh carried state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from lightrnn import checkpoint as ck
from lightrnn.config import OPERATIONAL_TRAIN_KEYS, ModelConfig, TrainConfig
from lightrnn.factory import build_model
from lightrnn.table import WordTable
from lightrnn.train import TrainState, make_optimizer, seed_everything

__all__ = ["RESUME_MAY_CHANGE", "RoundStart", "round_seed", "vocab_matches", "architecture_clash",
           "resume_mismatch", "carried_state", "carry_optimizer", "start_round"]

# TrainConfig keys a resumed run may give other values: the operational ones, max_steps (how a
# run is stopped to be resumed later) and the device (a run may go on on another machine).
RESUME_MAY_CHANGE = frozenset(OPERATIONAL_TRAIN_KEYS) | {"max_steps", "device"}


@dataclass
class RoundStart:
    """A round ready to train: its fields are the arguments of :func:`lightrnn.train.train`."""
    model: nn.Module
    state: TrainState
    optimizer: torch.optim.Optimizer
    hidden: tuple[Tensor, Tensor] | None = None  # this rank's carried state at state.batch (resumed mid-epoch)
    notes: list[str] = field(default_factory=list)  # lines for the log: how a resumed run goes on


def round_seed(cfg: TrainConfig, round_: int) -> int:
    """The seed of round ``round_``: every round draws its own dropout masks."""
    return cfg.seed + 1000 * round_


def vocab_matches(ckpt: dict, vocab_words: list[str]) -> bool:
    """False when ``ckpt`` was trained with another vocabulary (one saved without its words matches)."""
    return ckpt.get("vocab_words") is None or list(ckpt["vocab_words"]) == vocab_words


def architecture_clash(prev: dict, given: dict) -> dict[str, tuple]:
    """The model settings of ``given`` that differ from the architecture saved in ``prev``, as
    {key: (given value, saved value)}: a later round keeps the saved architecture."""
    saved = prev["model_config"]
    return {k: (v, saved.get(k)) for k, v in given.items() if saved.get(k) != v}


def resume_mismatch(resume: dict, model_cfg: ModelConfig, cfg: TrainConfig, round_: int,
                    table: WordTable | None, vocab_words: list[str]) -> str | None:
    """What keeps the partial checkpoint ``resume`` from continuing this run ("other settings",
    "another table or vocabulary"), or None when it may."""
    def essential(d: dict) -> dict:  # the settings that change the numbers
        return {k: v for k, v in d.items() if k not in RESUME_MAY_CHANGE}

    if resume["model_config"] != model_cfg.to_dict() or resume["round"] != round_ \
            or essential(resume["train_config"]) != essential(cfg.to_dict()):
        return "other settings"
    if ck.table_from_checkpoint(resume) != table or not vocab_matches(resume, vocab_words):
        return "another table or vocabulary"
    return None


def carried_state(prev_state: dict, cfg: TrainConfig, round_: int, same_table: bool) -> TrainState:
    """The state round ``round_`` starts from after a round that ended in ``prev_state`` (a saved
    ``TrainState`` dict); ``same_table``: the round trains with the table the previous one had."""
    state = TrainState(round=round_, lr=cfg.lr)
    if cfg.carry_lr:
        state.epoch = state.round_start_epoch = int(prev_state["epoch"])
        # After a fractional round (e.g. 0.25 epochs) go on from where it stopped in the data.
        state.batch = state.round_start_batch = int(prev_state.get("batch", 0))
        state.lr = float(prev_state["lr"])
        # The plateau rule compares validation losses measured under one word table. A new
        # table (a reallocation) makes a round's first epoch worse than the previous round's
        # best by construction; judged against it, the lr halved at every round (PTB, 4
        # rounds: 0.002 -> 0.000125 by round 3, and the later rounds could not re-learn).
        state.best_valid = float(prev_state["best_valid"]) if same_table else math.inf
    return state


def carry_optimizer(optimizer: torch.optim.Optimizer, prev: dict, cfg: TrainConfig, lr: float) -> bool:
    """With ``reset_optimizer`` off, load the optimizer state of ``prev`` (a checkpoint) into
    ``optimizer``, at learning rate ``lr``, if it is the same kind; True when it did."""
    if cfg.reset_optimizer or prev.get("optimizer") is None \
            or prev["train_config"].get("optimizer") != cfg.optimizer:
        return False
    optimizer.load_state_dict(prev["optimizer"])
    for g in optimizer.param_groups:
        g["lr"] = lr
    return True


def start_round(model_cfg: ModelConfig, cfg: TrainConfig, round_: int, table: WordTable | None,
                device: torch.device, *, prev: dict | None = None, resume: dict | None = None,
                rank: int = 0, world: int = 1, prev_name: str = "the previous round's checkpoint",
                resume_name: str = "the partial checkpoint") -> RoundStart:
    """Seed round ``round_`` and build its model, state and optimizer.

    From ``resume`` (this round's partial checkpoint, checked with :func:`resume_mismatch`) when
    given, else from ``prev`` (the previous round's checkpoint), else from scratch. ``table`` is
    the round's table (None for the peers); ``rank`` and ``world`` place this process in a
    torchrun job. The names say where the checkpoints came from in error messages.
    """
    seed_everything(round_seed(cfg, round_), device)
    if resume is not None:
        return _resumed(resume, cfg, table, device, rank, world, resume_name)
    if prev is not None:
        model = ck.rebuild_model(prev, table, device, prev_name)
        same_table = table is None or ck.table_from_checkpoint(prev) == table
        state = carried_state(prev["state"], cfg, round_, same_table)
        optimizer = make_optimizer(model, cfg, state.lr)
        carry_optimizer(optimizer, prev, cfg, state.lr)
        return RoundStart(model, state, optimizer)
    model = build_model(model_cfg, table).to(device)
    state = TrainState(round=round_, lr=cfg.lr)
    return RoundStart(model, state, make_optimizer(model, cfg, state.lr))


def _resumed(resume: dict, cfg: TrainConfig, table: WordTable | None, device: torch.device, rank: int,
             world: int, name: str) -> RoundStart:
    """A round continued from its partial checkpoint: weights, optimizer, RNG, position, carried state."""
    model = ck.rebuild_model(resume, table, device, name)
    state = TrainState.from_dict(resume["state"])
    optimizer = make_optimizer(model, cfg, state.lr)
    optimizer.load_state_dict(resume["optimizer"])
    ck.set_rng_state(resume["rng"])
    start = RoundStart(model, state, optimizer)
    old_world = int(resume.get("world_size", 1))
    if old_world != world:
        # Another number of ranks: the shards change, so the carried state cannot be reused;
        # continue at the same fraction of the epoch with a fresh state.
        state.batch = state.batch * old_world // world
        start.notes.append(f"resuming a {old_world}-process run with {world}: epoch position scaled, state reset")
    elif resume["hidden"] is not None:
        B = cfg.batch_size
        start.hidden = tuple(h[:, rank * B:(rank + 1) * B].contiguous().to(device)  # type: ignore[assignment]
                             for h in resume["hidden"])
    start.notes.append(f"resuming {name} at epoch {state.epoch + 1}, batch {state.batch}, step {state.step}")
    return start
