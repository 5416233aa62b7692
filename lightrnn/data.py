"""Token streams for truncated back-propagation through time: the one place that says how an
encoded split is cut into batches (training, evaluation, the reallocation pass and scoring all
read it through these functions), and the device they run on.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["batchify", "bptt_chunks", "bptt_starts", "chunks_at", "epoch_batches", "evaluate", "resolve_device",
           "sampled_chunks", "sampled_starts",
           "progress_bar", "PassProgress"]


def progress_bar(total: int, initial: int = 0, unit: str = "batch"):
    """A tqdm bar on a terminal (stderr a TTY, tqdm installed: the `progress` extra), else None."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit=unit, leave=False)


class PassProgress:
    """Progress of a long pass over a split: a bar on a terminal, and a log line at every tenth of
    the pass (tokens done, tokens/s, seconds left), so that a job's log shows it as it goes."""

    def __init__(self, name: str, total_tokens: int, log: Callable[[str], None] | None):
        self.name, self.total, self.log = name, max(1, total_tokens), log
        self.done, self.next_tenth, self.t0 = 0, 1, time.perf_counter()
        self.bar = progress_bar(total_tokens, unit="tok")

    def update(self, tokens: int) -> None:
        self.done += tokens
        if self.bar is not None:
            self.bar.update(tokens)
        if self.log is not None and self.done * 10 >= self.next_tenth * self.total:
            self.next_tenth = self.done * 10 // self.total + 1
            seconds = time.perf_counter() - self.t0
            rate = self.done / max(seconds, 1e-9)
            self.log(f"| {self.name} | {100 * self.done / self.total:3.0f}% | {self.done}/{self.total} tokens "
                     f"| tok/s {rate:8.0f} | {seconds:6.0f} s, about {(self.total - self.done) / rate:.0f} s left")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for but CUDA is not available")
    return dev


def batchify(tokens: np.ndarray, batch_size: int) -> Tensor:
    """Cut the text into ``batch_size`` contiguous streams, one per column.

    Reads ``tokens`` (e.g. a memory-mapped int32 ``.npy``) once, with a single copy into the
    int64 result; the last N % B tokens are dropped (at most B - 1), as in the standard PTB setup.

    Shape:
        tokens: (N,) word ids -> (N // B, B) LongTensor; column b is tokens[b*N//B:(b+1)*N//B].
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if np.ndim(tokens) != 1:
        raise ValueError(f"tokens must be a 1-D array of word ids, got shape {np.shape(tokens)}")
    rows = len(tokens) // batch_size
    if rows == 0:
        raise ValueError(f"{len(tokens)} tokens cannot fill {batch_size} streams")
    streams = np.asarray(tokens[:rows * batch_size]).reshape(batch_size, rows)  # (B, N/B), a view
    return torch.from_numpy(np.ascontiguousarray(streams.T, dtype=np.int64))  # (N/B, B)


def bptt_starts(n_rows: int, bptt: int) -> range:
    """First row of every batch of a (n_rows, B) stream matrix: each batch predicts rows
    i+1 .. i+T from rows i .. i+T-1, so the last row is a target only."""
    if bptt < 1:
        raise ValueError(f"bptt must be >= 1, got {bptt}")
    return range(0, n_rows - 1, bptt)


def chunks_at(data: Tensor, starts: Iterable[int], bptt: int) -> Iterator[tuple[Tensor, Tensor]]:
    """(input, target) batches of ``data`` beginning at the rows ``starts`` (from
    :func:`bptt_starts`); the last may be shorter.

    Shape:
        data: (N, B) streams -> input, target: (T <= bptt, B), target one row ahead.
    """
    for i in starts:
        n = min(bptt, data.size(0) - 1 - i)
        yield data[i:i + n], data[i + 1:i + 1 + n]


def bptt_chunks(data: Tensor, bptt: int, first: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
    """(input, target) batches of ``data`` from batch ``first`` on (see :func:`chunks_at`)."""
    return chunks_at(data, bptt_starts(data.size(0), bptt)[first:], bptt)


def sampled_starts(n_rows: int, bptt: int, fraction: float, span: int = 8) -> list[int]:
    """The batches of :func:`bptt_starts` in evenly spread runs of ``span`` (runs of span x bptt
    tokens per stream), about ``fraction`` of them: run b is kept when ceil((b + 1) f) >
    ceil(b f), the first run always. Deterministic; fraction 1 keeps every batch. The caller
    carries its state across the skipped runs (a state from earlier in the same stream, not a
    cold start)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    starts = bptt_starts(n_rows, bptt)
    if fraction == 1.0:
        return list(starts)
    return [i for c, i in enumerate(starts) if math.ceil((c // span + 1) * fraction) > math.ceil(c // span * fraction)]


def sampled_chunks(data: Tensor, bptt: int, fraction: float, span: int = 8) -> Iterator[tuple[Tensor, Tensor]]:
    """The batches of :func:`sampled_starts`."""
    return chunks_at(data, sampled_starts(data.size(0), bptt, fraction, span), bptt)


def epoch_batches(n_tokens: int, batch_size: int, bptt: int) -> int:
    """Training batches in one epoch of ``n_tokens`` tokens (the last may be shorter than ``bptt``)."""
    return len(bptt_starts(n_tokens // batch_size, bptt))


@torch.no_grad()
def evaluate(model: nn.Module, tokens: np.ndarray, batch_size: int = 10, bptt: int = 35,
             device: torch.device | str | None = None) -> dict:
    """Perplexity over ``tokens`` with the state carried; every target (``<eos>`` too) counts.

    Returns {"loss": mean NLL in nats, "ppl": exp(loss), "tokens": targets scored}. The text is
    cut into ``batch_size`` streams (:func:`batchify`); each stream's first token is only an
    input, so ``tokens`` = (N // B - 1) * B.

    Shape:
        tokens: (N,) word ids; batches are (T <= bptt, B) inputs and targets.
    """
    if bptt < 1:
        raise ValueError(f"bptt must be >= 1, got {bptt}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    data = batchify(tokens, batch_size).to(device)  # (N, B)
    if data.size(0) < 2:
        raise ValueError(f"{len(tokens)} tokens are too few to score with {batch_size} streams "
                         f"(need at least {2 * batch_size})")
    hidden = getattr(model, "module", model).init_hidden(batch_size)
    total, count = 0.0, 0
    for x, y in bptt_chunks(data, bptt):  # (T, B) each
        out = model(x, y, hidden)
        total += out.token_nll.double().sum().item()
        count += out.token_nll.numel()
        hidden = out.hidden
    model.train(was_training)
    loss = total / count
    return {"loss": loss, "ppl": math.exp(loss), "tokens": count}
