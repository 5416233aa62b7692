"""Exact top-k / top-p next words: LightRNN's row-pruned search, and a sort for the peers.

LightRNN: ``P(w) = P_r(row(w)) * P_c(col(w) | row(w))`` and the column distribution
depends on the row fed, so every candidate row costs one LSTM half-step. Rows are visited in
descending ``P_r`` in geometrically growing batches (one batched half-step per batch); because
``P_c <= 1`` (in floating point too: a log_softmax is never positive), no word of an unvisited row
can beat ``P_r`` of the next row, and the search stops as soon as the k-th best found reaches it.
The result equals a brute force over the whole vocabulary (tests/test_infer.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lightrnn.table import WordTable

__all__ = ["Hidden", "TopSearch", "lightrnn_top", "lightrnn_top_many", "sorted_top", "check_kp",
           "cell_word_tensor"]

Hidden = tuple[Tensor, Tensor]


@dataclass
class TopSearch:
    logp: Tensor  # (m,) log P of the kept words, descending
    ids: Tensor  # (m,) their word ids
    rows_evaluated: int = 0  # LightRNN: candidate rows fed (R for a brute force); 0 for the peers
    rows_total: int = 0  # LightRNN: rows that hold a word
    batches: int = 0  # LightRNN: batched half-steps the search took (LSTM calls)


def cell_word_tensor(table: WordTable, device: torch.device) -> Tensor:
    """(R, C) word id of each cell of ``table``, -1 where empty, on ``device``."""
    return torch.from_numpy(np.array(table.cell_word)).to(device)  # (R, C), -1 where empty


def check_kp(k: int | None, p: float | None) -> None:
    """ValueError unless k >= 1 and 0 < p <= 1 (each may be None)."""
    if k is not None and k < 1:
        raise ValueError(f"top-k must be >= 1, got {k}")
    if p is not None and not 0 < p <= 1:
        raise ValueError(f"top-p must be in (0, 1], got {p}")


def sorted_top(logp: Tensor, k: int | None, p: float | None) -> TopSearch:
    """Top-k / top-p of a full (V,) log-prob vector (the peers, and brute force)."""
    vals, ids = torch.sort(logp, descending=True)
    m = int(_keep_lengths(vals[None], k, p)[0][0])
    return TopSearch(vals[:m], ids[:m])


def _keep_lengths(sorted_logp: Tensor, k: int | None, p: float | None) -> tuple[Tensor, Tensor]:
    """Per row of a (B, M) descending log-prob array (-inf padded): the kept prefix length (B,)
    and whether that length is settled (k words present, or mass p reached)."""
    n = torch.isfinite(sorted_logp).sum(1)  # (B,)
    m = n.clone()
    settled = torch.zeros_like(n, dtype=torch.bool)
    if k is not None:
        m = m.clamp(max=k)
        settled |= n >= k
    if p is not None:
        cum = torch.cumsum(sorted_logp.double().exp(), 1)  # (B, M)
        reach = (cum < p).sum(1) + 1  # (B,) shortest prefix with mass >= p
        settled |= reach <= n
        m = torch.minimum(m, reach)
    return m.clamp(min=1), settled


@torch.no_grad()
def lightrnn_top_many(model: nn.Module, hidden: Hidden, k: int | None = None, p: float | None = None,
                      first_rows: int = 16, max_rows: int | None = None,
                      cell_word: Tensor | None = None) -> list[TopSearch]:
    """Exact top-k / top-p words of a LightRNN after each of B states, pruning rows by a bound.

    Every state visits its rows in descending P_r. The first batch feeds ``first_rows`` rows;
    each later batch feeds every unvisited row that could still hold a kept word (P_r above the
    last kept word found so far; all rows while the kept prefix is not settled), at most
    ``max_rows`` at a time (None: no limit, so a top-k search takes at most two batches). All
    unfinished states are fed in one batched half-step. A state is finished when its kept
    prefix is settled and its last word reaches P_r of the state's next row.

    Args:
        model: a LightRNN in eval mode.
        hidden: (h, c), each (L, B, H): the states after the last word's column step.
        k, p: keep the k most likely words and/or the shortest prefix with mass >= p.
        cell_word: (R, C) word of each cell, -1 where empty (default: from ``model.table``).

    Shape: returns B ``TopSearch`` with logp, ids (m,), m = the kept length of that state.
    """
    if k is None and p is None:
        raise ValueError("lightrnn_top needs k and/or p")
    lp_r = model.row_log_probs(hidden)  # (B, R)
    B, dev = lp_r.shape[0], lp_r.device
    n_rows = int(torch.isfinite(lp_r[0]).sum())  # rows holding a word (the same for every state)
    lp_sorted, order = torch.sort(lp_r, dim=1, descending=True)  # (B, R)
    lp_sorted, order = lp_sorted[:, :n_rows], order[:, :n_rows]  # rows holding no word have P_r = 0
    if cell_word is None:
        cell_word = cell_word_tensor(model.table, dev)  # (R, C)
    results: list[TopSearch | None] = [None] * B
    active = torch.arange(B, device=dev)  # states still searching
    best_lp = lp_r.new_empty(B, 0)  # (A, M) descending, -inf padded
    best_id = torch.empty(B, 0, dtype=torch.long, device=dev)
    pos, size, batches = 0, max(1, first_rows), 0
    while True:
        batches += 1
        rows = order[active, pos:pos + size]  # (A, K)
        h = tuple(x[:, active] for x in hidden)
        lp_c, _ = model.step_rows(h, rows)  # (A, K, C)
        joint = lp_sorted[active, pos:pos + size][:, :, None] + lp_c  # (A, K, C), as model.log_prob adds them
        words = cell_word[rows]  # (A, K, C), -1 in empty cells
        joint = joint.masked_fill(words < 0, float("-inf")).flatten(1)  # (A, K*C)
        cand_lp = torch.cat([best_lp, joint], 1)
        if k is not None:  # the result never holds more than the k best: topk beats a full sort
            best_lp, idx = torch.topk(cand_lp, min(k, cand_lp.shape[1]), dim=1)  # sorted, descending
        else:
            best_lp, idx = torch.sort(cand_lp, dim=1, descending=True)
        best_id = torch.gather(torch.cat([best_id, words.flatten(1)], 1), 1, idx)
        keep = int(torch.isfinite(best_lp).sum(1).max())  # drop the all -inf tail
        best_lp, best_id = best_lp[:, :keep], best_id[:, :keep]
        pos += rows.shape[1]
        m, settled = _keep_lengths(best_lp, k, p)
        last_kept = best_lp.gather(1, (m - 1)[:, None])[:, 0]  # (A,)
        if pos >= n_rows:
            done = torch.ones_like(settled)
        else:  # no word of an unvisited row beats that row's P_r
            done = settled & (last_kept >= lp_sorted[active, pos])
        for j in torch.nonzero(done)[:, 0].tolist():
            mj = int(m[j])
            results[int(active[j])] = TopSearch(best_lp[j, :mj], best_id[j, :mj], pos, n_rows, batches)
        keep_on = ~done
        active, best_lp, best_id = active[keep_on], best_lp[keep_on], best_id[keep_on]
        if not active.numel():
            return results  # type: ignore[return-value]
        # Rows that can still hold a kept word: P_r above the last kept word (sorted, so a prefix).
        tau = torch.where(settled[keep_on], last_kept[keep_on], float("-inf"))  # (A,)
        size = int((lp_sorted[active, pos:] > tau[:, None]).sum(1).max())
        if max_rows is not None:
            size = min(size, max_rows)


def lightrnn_top(model: nn.Module, hidden: Hidden, k: int | None = None, p: float | None = None,
                 **kw) -> TopSearch:
    """:func:`lightrnn_top_many` for ONE state (hidden (L, 1, H) each)."""
    return lightrnn_top_many(model, hidden, k, p, **kw)[0]
