"""Word reallocation: from a trained LightRNN to the table that minimises its training loss.

One pass over the training data in eval mode (no dropout) with the current table's hidden states
held fixed (the paper's approximation) accumulates, for every word w and every row i / column j,

    L_r[w, i] = sum over positions t with target w of  -log P_r(i | state before w)
    L_c[w, j] = sum over positions t with target w of  -log P_c(j | state after w's true row)

Moving w to cell (i, j) would then cost L_r[w, i] + L_c[w, j]; the new table is the exact
minimum-cost assignment of words to cells (lightrnn.assign.solve_table, certified optimal).

The softmaxes here are UNMASKED: in the new table any cell may hold a word, so the current
table's empty cells must not be priced at +inf. The actual (masked) NLL of the current table is
measured in the same pass and reported beside the predicted objective.

Precision: each batch's log-softmax is computed in float32 (as in training) and added with
``index_add_`` into float64 accumulators, so the sum over a word's many positions (the most
frequent PTB word occurs 50k times, One Billion Word's tens of millions) loses nothing to
accumulation (float64 keeps ~16 digits; float32 sums would drift after ~10^7 terms).
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from lightrnn.table import WordTable
from lightrnn.data import PassProgress, batchify, chunks_at, sampled_starts

__all__ = ["accumulate_losses", "reallocate", "predicted_nll"]


@torch.no_grad()
def accumulate_losses(model, tokens: np.ndarray, batch_size: int = 64, bptt: int = 35,
                      device: torch.device | str | None = None, reduce_fn=None,
                      log: Callable[[str], None] | None = None, sample: float = 1.0) -> dict[str, Any]:
    """One eval-mode pass: the loss matrices of every word over every row and column.

    Args:
        model: a LightRNN (needs ``component_logits`` and ``table``).
        tokens: (N,) int ids of the training split.
        reduce_fn: optional callable applied to each accumulator tensor before it is returned
            (distributed runs all-reduce the sums across ranks here).
        log: called with a progress line at every tenth of the pass (a bar shows on a terminal).
        sample: the fraction of the training tokens the pass reads (0 < sample <= 1; 1 = all):
            evenly spread runs of 8 x bptt tokens per stream, the state carried across the runs
            skipped (:func:`lightrnn.data.sampled_starts`). The sums then cover those tokens
            only; the assignment compares words by them, so a uniform sample keeps its scale.
    Returns:
        {"L_r": (V, R) float64, "L_c": (V, C) float64, "tokens": targets scored,
         "nll_sum": masked NLL of the current table (nats), "seconds": pass time}
    """
    if not hasattr(model, "component_logits"):
        raise TypeError(f"reallocation needs a LightRNN model, got {type(model).__name__}")
    t0 = time.perf_counter()
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    head = model.head
    V, R, C = model.vocab_size, head.n_rows, head.n_cols
    L_r = torch.zeros(V, R, dtype=torch.float64, device=device)
    L_c = torch.zeros(V, C, dtype=torch.float64, device=device)
    nll = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    if bptt < 1:
        raise ValueError(f"bptt must be >= 1, got {bptt}")
    if not (0.0 < sample <= 1.0):
        raise ValueError(f"sample must be in (0, 1] (a fraction of the training tokens), got {sample}")
    data = batchify(tokens, batch_size).to(device)  # (N/B, B)
    if data.size(0) < 2:
        raise ValueError(f"{len(tokens)} tokens are too few for a reallocation pass with {batch_size} "
                         f"streams (need at least {2 * batch_size})")
    hidden = model.init_hidden(batch_size)
    starts = sampled_starts(data.size(0), bptt, sample)
    progress = PassProgress("loss pass", sum(min(bptt, data.size(0) - 1 - i) for i in starts) * batch_size, log)
    for x, y in chunks_at(data, starts, bptt):  # (T, B) each
        row_logits, col_logits, hidden = model.component_logits(x, y, hidden)  # (T,B,R), (T,B,C)
        target = y.reshape(-1)  # (T*B,)
        row_logits = row_logits.reshape(-1, R)  # (T*B, R)
        col_logits = col_logits.reshape(-1, C)  # (T*B, C)
        L_r.index_add_(0, target, (-F.log_softmax(row_logits, dim=-1)).double())
        L_c.index_add_(0, target, (-F.log_softmax(col_logits, dim=-1)).double())
        # The current table's exact (masked) NLL, from the same logits.
        rows, cols = head.word_row[target], head.word_col[target]
        lp_r = F.log_softmax(row_logits + head.row_mask, dim=-1).gather(1, rows[:, None])
        lp_c = F.log_softmax(col_logits + head.cell_mask[rows], dim=-1).gather(1, cols[:, None])
        nll -= (lp_r + lp_c).double().sum()
        count += target.numel()
        progress.update(target.numel())
    progress.close()
    if reduce_fn is not None:
        L_r, L_c, nll = reduce_fn(L_r), reduce_fn(L_c), reduce_fn(nll)
        count = int(reduce_fn(torch.tensor(float(count), dtype=torch.float64, device=device)).item())
    model.train(was_training)
    return {"L_r": L_r.cpu().numpy(), "L_c": L_c.cpu().numpy(), "tokens": count,
            "nll_sum": float(nll.item()), "seconds": time.perf_counter() - t0, "sample": sample}


def predicted_nll(L_r: np.ndarray, L_c: np.ndarray, table: WordTable) -> float:
    """The separable objective of ``table``: sum_w L_r[w, row(w)] + L_c[w, col(w)] (nats)."""
    w = np.arange(table.vocab_size)
    return float(L_r[w, table.rows].sum() + L_c[w, table.cols].sum())


def reallocate(model, tokens: np.ndarray, batch_size: int = 64, bptt: int = 35,
               device: torch.device | str | None = None, k: int = 0, method: str = "auto",
               losses: dict[str, Any] | None = None, rescore: bool = False,
               threads: int = 0, max_seconds: float | None = None,
               gap_tol: float = 0.0, sample: float = 1.0) -> tuple[WordTable, dict[str, Any]]:
    """Accumulate the loss matrices (unless given) and solve for the new table.

    Returns (new_table, report); the report holds the objective of the old and the new table
    (total and per token), words moved, the solver's certificate (gap, why it stopped) and times,
    and the pass time. ``max_seconds`` and ``gap_tol`` go to the solver (default: exact).
    With ``rescore`` a second eval pass scores ``tokens`` with the new table installed (weights
    unchanged, masked softmax) and reports that actual NLL next to the predicted one: the
    separable objective ignores that moving a word changes the states that later words see, so
    the predicted gain can be far from the real one. The model keeps its old table afterwards.
    """
    if losses is None:
        losses = accumulate_losses(model, tokens, batch_size, bptt, device, sample=sample)
    from lightrnn.assign import solve_table

    old = model.table
    sol = solve_table(losses["L_r"], losses["L_c"], current=old, k=k, method=method, threads=threads,
                      max_seconds=max_seconds, gap_tol=gap_tol)
    new = WordTable(sol.rows, sol.cols, old.n_rows, old.n_cols)
    n = max(1, losses["tokens"])
    report = {
        "tokens": losses["tokens"],
        "pass_seconds": losses["seconds"],
        "pass_sample": losses.get("sample", 1.0),
        "softmax": "unmasked (any cell may hold a word in the new table)",
        "objective_old": sol.current_objective,
        "objective_new": sol.objective,
        "objective_old_per_token": sol.current_objective / n,
        "objective_new_per_token": sol.objective / n,
        "ppl_predicted_old": math.exp(min(sol.current_objective / n, 50)),
        "ppl_predicted_new": math.exp(min(sol.objective / n, 50)),
        "actual_nll_old_per_token": losses["nll_sum"] / n,
        "actual_ppl_old": math.exp(min(losses["nll_sum"] / n, 50)),
        "words_moved": old.moved(new),
        "vocab_size": old.vocab_size,
        "table_shape": list(old.shape),
        "solver": sol.to_dict(),
    }
    if rescore:
        from lightrnn.data import evaluate

        t0 = time.perf_counter()
        model.set_table(new)
        try:
            ev = evaluate(model, tokens, batch_size, bptt, device)
        finally:
            model.set_table(old)
        report["actual_nll_new_per_token"] = ev["loss"]
        report["actual_ppl_new"] = ev["ppl"]
        report["rescore_seconds"] = time.perf_counter() - t0
    return new, report
