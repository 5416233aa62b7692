"""Training and evaluation: truncated BPTT with the state carried across batches (standard PTB).

One loop serves every model type (they share the interface of docs/DESIGN.md). A run is one
*round* of a bootstrap: LightRNN rounds are separated by reallocation. Everything needed to
continue a run exactly (weights, optimizer, RNG, the carried hidden state, the position in the
epoch) goes into the checkpoint, so a resumed run is bit-identical to an uninterrupted one on CPU.
"""
from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from lightrnn.config import TrainConfig
from lightrnn.data import batchify, bptt_chunks, bptt_starts, epoch_batches, evaluate, progress_bar, resolve_device
from torch import Tensor, nn

__all__ = ["TrainConfig", "TrainState", "TrainResult", "batchify", "evaluate", "train", "resolve_device",
           "make_optimizer", "seed_everything", "epoch_batches", "round_end", "round_finished"]


@dataclass
class TrainState:
    round: int = 0  # bootstrap round of this run
    epoch: int = 0  # completed epochs, counted across rounds when carry_lr
    round_start_epoch: int = 0  # value of `epoch` when this round started; the round ends cfg.epochs later
    round_start_batch: int = 0  # batch inside that epoch where it started (after a fractional round)
    batch: int = 0  # next batch index inside the current epoch (mid-epoch resume)
    step: int = 0  # optimizer steps taken in this run
    lr: float = 1.0  # current learning rate
    best_valid: float = math.inf  # best validation loss so far (plateau rule)
    epoch_loss_sum: float = 0.0  # running sums of the current epoch (mid-epoch resume)
    epoch_tokens: int = 0
    epoch_time: float = 0.0
    # The epoch's batch, loss sum, tokens and time at its last metrics row (valid_every rows inside
    # it): each row covers the stretch since the previous one, so the rows' fractions and times add up.
    row_batch: int = 0
    row_loss_sum: float = 0.0
    row_tokens: int = 0
    row_time: float = 0.0
    metrics: list = field(default_factory=list)  # one dict per metrics row (finished epoch, round end, valid_every)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainState":
        return cls(**d)


def round_end(state: "TrainState", cfg: TrainConfig, n_batches: int) -> int:
    """Where the current round stops, in batches counted from the start of epoch 0.

    ``cfg.epochs`` may be a fraction: the round then ends inside an epoch and the next round
    (same ``epoch``/``batch`` carried, see ``TrainConfig.carry_lr``) goes on from there. An end
    one batch off an epoch boundary is put on it: schedules like 0.25 + 0.75 epochs must not
    leave a one-batch sliver to the next round because each fraction was rounded on its own.
    """
    start = state.round_start_epoch * n_batches + state.round_start_batch
    end = start + round(cfg.epochs * n_batches)
    boundary = round(end / n_batches) * n_batches
    if end != start and abs(end - boundary) <= 1 and boundary > start:
        end = boundary
    return end


def round_finished(state: "TrainState", cfg: TrainConfig, n_batches: int) -> bool:
    """True once ``state`` is at (or past) the end of its round."""
    return state.epoch * n_batches + state.batch >= round_end(state, cfg, n_batches)


def seed_everything(seed: int, device: torch.device | None = None) -> None:
    """Seed torch (CPU and CUDA), numpy and ``random``; ask for deterministic kernels on CPU.

    On CUDA determinism would need CUBLAS_WORKSPACE_CONFIG and slower kernels, so only the
    seeds are set there: CUDA runs are reproducible up to floating-point summation order.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if device is None or device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)


def _detach(hidden):
    return tuple(h.detach() for h in hidden)


def make_optimizer(model: nn.Module, cfg: TrainConfig, lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr


@dataclass
class TrainResult:
    """What :func:`train` hands back to its caller (and, through the checkpoint, to the next round)."""
    state: TrainState  # where training stopped: save it (the next round or a resumption starts from it)
    finished: bool  # the round reached its end; False: stopped by ``cfg.max_steps`` before it
    hidden: tuple[Tensor, Tensor] | None = None  # the carried state at ``state.batch`` when stopped inside an epoch


def train(model: nn.Module, train_tokens: np.ndarray, valid_tokens: np.ndarray | None,
          cfg: TrainConfig, state: TrainState, optimizer: torch.optim.Optimizer,
          hidden=None, on_checkpoint: Callable[[TrainState, object], None] | None = None,
          on_epoch: Callable[[TrainState], None] | None = None,
          log: Callable[[str], None] = print) -> TrainResult:
    """Train ``cfg.epochs`` epochs (or ``cfg.max_steps`` steps) from ``state``, updating it in place.

    Args:
        model: any model of docs/DESIGN.md, already on its device.
        state: where to start (a fresh TrainState, or one read from a checkpoint).
        optimizer: built by :func:`make_optimizer` (state restored by the caller on resume).
        hidden: the carried hidden state at ``state.batch`` (from a mid-epoch checkpoint).
        on_checkpoint: called with (state, hidden) every ``cfg.checkpoint_every`` steps.
        on_epoch: called after each epoch with the metrics appended to ``state.metrics``.
    Returns a :class:`TrainResult` (``result.state.metrics`` holds one dict per epoch).

    Data parallelism (torchrun) fits without changing this loop: each rank passes its own
    contiguous shard as ``train_tokens`` and ``model`` wrapped in DistributedDataParallel (the
    gradient all-reduce happens in ``backward``; ``init_hidden`` is taken from ``model.module``);
    ranks other than 0 pass ``log=lambda s: None`` and no ``on_checkpoint``/``on_epoch``.
    """
    core = getattr(model, "module", model)  # the model itself under a DistributedDataParallel wrapper
    device = next(model.parameters()).device
    data = batchify(train_tokens, cfg.batch_size).to(device)  # (N, B)
    n_batches = _checked_batches(len(bptt_starts(data.size(0), cfg.bptt)), len(train_tokens), cfg, state)
    end = round_end(state, cfg, n_batches)
    _set_lr(optimizer, state.lr)
    steps_this_call = 0
    while state.epoch * n_batches + state.batch < end:
        model.train()
        if state.batch == 0 or hidden is None:
            if state.batch == 0:
                state.epoch_loss_sum, state.epoch_tokens, state.epoch_time = 0.0, 0, 0.0
                state.row_batch, state.row_loss_sum, state.row_tokens, state.row_time = 0, 0.0, 0, 0.0
            hidden = core.init_hidden(cfg.batch_size)
        stop = min(n_batches, end - state.epoch * n_batches)  # this epoch's last batch in this round
        bar = progress_bar(n_batches, state.batch)
        log_loss, log_tokens, log_t0 = 0.0, 0, time.perf_counter()
        t_epoch0 = time.perf_counter() - state.epoch_time
        chunks = bptt_chunks(data, cfg.bptt, first=state.batch)
        while state.batch < stop:
            out = _step(model, *next(chunks), _detach(hidden), optimizer, cfg)
            hidden = out.hidden
            state.batch += 1
            state.step += 1
            steps_this_call += 1
            ntok = out.token_nll.numel()
            loss_sum = out.loss.item() * ntok
            state.epoch_loss_sum += loss_sum
            state.epoch_tokens += ntok
            log_loss += loss_sum
            log_tokens += ntok
            if bar is not None:
                bar.update(1)
            if cfg.log_interval and state.batch % cfg.log_interval == 0:
                _log_progress(log, state, cfg, n_batches, log_loss, log_tokens, time.perf_counter() - log_t0)
                log_loss, log_tokens, log_t0 = 0.0, 0, time.perf_counter()
            state.epoch_time = time.perf_counter() - t_epoch0
            if cfg.valid_every and state.step % cfg.valid_every == 0 and state.batch < stop:
                _metrics_row(model, valid_tokens, cfg, state, device, log, n_batches, mid=True)
                if on_epoch is not None:
                    on_epoch(state)
                t_epoch0 = time.perf_counter() - state.epoch_time  # validation is not training time
                log_t0 = time.perf_counter()
            if cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0 and on_checkpoint is not None:
                on_checkpoint(state, _detach(hidden))
            if cfg.max_steps and steps_this_call >= cfg.max_steps:
                break
        if bar is not None:
            bar.close()
        if state.batch < stop:  # stopped by max_steps inside the epoch
            return TrainResult(state, finished=False, hidden=_detach(hidden))
        _finish_epoch(model, valid_tokens, cfg, state, optimizer, device, log, n_batches)
        if state.batch > 0:  # a fractional round ended inside the epoch
            if on_epoch is not None:
                on_epoch(state)
            break
        hidden = None
        if on_epoch is not None:
            on_epoch(state)
        if cfg.max_steps and steps_this_call >= cfg.max_steps:
            break
    return TrainResult(state, finished=state.epoch * n_batches + state.batch >= end)


def _checked_batches(n_batches: int, n_tokens: int, cfg: TrainConfig, state: TrainState) -> int:
    """``n_batches`` (an epoch's), once it is known that the data, the position and the round fit."""
    if n_batches == 0:
        raise ValueError(f"{n_tokens} training tokens are too few for {cfg.batch_size} streams "
                         f"(need at least {2 * cfg.batch_size})")
    if state.batch > n_batches:
        raise ValueError(f"resume position batch {state.batch} is past the {n_batches} batches of an epoch "
                         "(was the checkpoint written for other data or batch size?)")
    if cfg.epochs > 0 and round(cfg.epochs * n_batches) == 0:
        raise ValueError(f"epochs {cfg.epochs} is less than one batch of the {n_batches} batches of an epoch")
    return n_batches


def _step(model: nn.Module, x: Tensor, y: Tensor, hidden, optimizer: torch.optim.Optimizer, cfg: TrainConfig):
    """One optimizer step on the (T, B) inputs ``x`` and targets ``y``; returns the model's output."""
    out = model(x, y, hidden)
    optimizer.zero_grad(set_to_none=True)
    out.loss.backward()
    if cfg.clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
    optimizer.step()
    return out


def _log_progress(log, state: TrainState, cfg: TrainConfig, n_batches: int, loss_sum: float, tokens: int,
                  seconds: float) -> None:
    cur = loss_sum / max(1, tokens)
    log(f"| round {state.round} | epoch {state.epoch + 1} | step {state.batch:5d}/{n_batches} "
        f"| lr {state.lr:.4g} | ms/batch {1000 * seconds / max(1, cfg.log_interval):7.2f} "
        f"| tok/s {tokens / seconds:8.0f} | loss {cur:6.3f} | ppl {math.exp(min(cur, 50)):9.2f}")


def _metrics_row(model, valid_tokens, cfg, state, device, log, n_batches, mid: bool = False) -> float | None:
    """Validate, log and append the metrics row of the training since the previous row (``mid``: a
    ``valid_every`` row inside the epoch); return the validation loss (None without validation data)."""
    first = max(state.row_batch, state.round_start_batch if state.epoch == state.round_start_epoch else 0)
    tokens = state.epoch_tokens - state.row_tokens
    seconds = state.epoch_time - state.row_time
    train_loss = (state.epoch_loss_sum - state.row_loss_sum) / max(1, tokens)
    tok_s = tokens / max(seconds, 1e-9)
    row = {"round": state.round, "epoch": state.epoch + 1, "epoch_fraction": round((state.batch - first) / n_batches, 6),
           "step": state.step, "lr": state.lr,
           "train_loss": train_loss, "train_ppl": math.exp(min(train_loss, 50)),
           "valid_loss": float("nan"), "valid_ppl": float("nan"),
           "tokens_per_s": tok_s, "elapsed_s": seconds}
    state.row_batch, state.row_loss_sum = state.batch, state.epoch_loss_sum
    state.row_tokens, state.row_time = state.epoch_tokens, state.epoch_time
    state.metrics.append(row)
    if valid_tokens is None:
        return None
    v = evaluate(model, valid_tokens, cfg.eval_batch_size, cfg.bptt, device)
    row["valid_loss"], row["valid_ppl"] = v["loss"], v["ppl"]
    part = f" ({row['epoch_fraction']:.3g} of it)" if row["epoch_fraction"] < 1 else ""
    log(f"| {'in' if mid else 'end of'} round {state.round} epoch {state.epoch + 1}{part} | time {seconds:6.1f}s "
        f"| tok/s {tok_s:8.0f} | train ppl {row['train_ppl']:8.2f} | valid ppl {v['ppl']:8.2f}")
    return v["loss"]


def _finish_epoch(model, valid_tokens, cfg, state, optimizer, device, log, n_batches) -> None:
    """Validate and log the epoch (or the part of it this round trained), then step the lr schedule.

    A fractional round that ends inside the epoch leaves ``state.epoch``/``state.batch`` where it
    stopped and the learning rate as it is: the next round (another table) goes on from there.
    """
    partial = state.batch < n_batches
    valid_loss = _metrics_row(model, valid_tokens, cfg, state, device, log, n_batches)
    improved = valid_loss is None or valid_loss < state.best_valid
    if valid_loss is not None:
        state.best_valid = min(state.best_valid, valid_loss)
    if partial:
        return
    state.epoch += 1
    state.batch = 0
    # Learning-rate schedule for the next epoch.
    if cfg.lr_decay_start > 0:
        decay = state.epoch >= cfg.lr_decay_start
    else:
        decay = not improved
    if decay:
        state.lr = max(cfg.min_lr, state.lr * cfg.lr_decay)
        _set_lr(optimizer, state.lr)
