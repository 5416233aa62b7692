"""Exact minimum-cost assignment: dense, sparse, and the structured LightRNN reallocation.

Three entry points over one C++ core (``lightrnn._assign``; see ``cpp/assign/*.hpp`` for the
algorithms, their sources and complexity):

- :func:`linear_sum_assignment` - drop-in for ``scipy.optimize.linear_sum_assignment``;
- :func:`min_weight_full_bipartite_matching` - a sparse (CSR) graph, like
  ``scipy.sparse.csgraph.min_weight_full_bipartite_matching``;
- :func:`solve_table` - LightRNN reallocation: V words into an R x C table with separable costs
  ``L_r[w, i] + L_c[w, j]``, solved exactly by column generation without forming the V x (R*C)
  matrix, with a dual lower bound that certifies optimality.

Values are validated once here: NaN and -inf are invalid (SciPy's message, then the first bad
entry's index), +inf marks a forbidden pair, costs so large that an assignment's total could
overflow float64 are refused naming the largest entry, and a problem without a complete
assignment raises ValueError saying it is infeasible. The GIL is released during a solve and
Ctrl-C interrupts it. This module needs numpy only (scipy only when you pass a scipy.sparse
matrix); it never imports torch.
"""
from __future__ import annotations

import dataclasses
import math
import operator
from typing import Any

import numpy as np

from lightrnn import _assign
from lightrnn.assign_scipy import _check_no_nan_neginf, linear_sum_assignment, min_weight_full_bipartite_matching

__all__ = ["linear_sum_assignment", "min_weight_full_bipartite_matching", "solve_table", "TableSolution",
           "auto_candidates"]

@dataclasses.dataclass
class TableSolution:
    rows: np.ndarray  # (V,) int32: new row of each word
    cols: np.ndarray  # (V,) int32: new column of each word
    objective: float  # sum over words of L_r[w, rows[w]] + L_c[w, cols[w]]
    current_objective: float  # the same for `current` (NaN when not given)
    lower_bound: float  # proven lower bound on the optimum of the FULL problem (every rounding accounted for)
    certified: bool  # objective - optimum <= max(1e-9, rel_tol) * sum of |costs| in the objective, proven
    stopped: str  # why the rounds ended: optimal, gap_tol, max_seconds, max_rounds or no_progress
    pricing_rounds: int  # sparse solves (column-generation rounds)
    lazy_rounds: int  # of those, rounds solved within eps or leaving rows free (early, while pricing adds many)
    arcs: int  # word-cell pairs in the final candidate graph
    method: str  # algorithm of the first sparse solve
    greedy_seeded: bool  # the words' k x k candidates crowded fewer cells than words: greedy cells added
    times: dict  # seconds: candidates, solve, pricing, total

    @property
    def gap(self) -> float:
        return self.objective - self.lower_bound

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("rows"), d.pop("cols")
        d["gap"] = self.gap
        for key in ("lower_bound", "gap"):  # no bound yet (out of time): null in JSON, not -Infinity
            if not math.isfinite(d[key]):
                d[key] = None
        return d


def _float_arg(name: str, value: Any) -> float:
    """A finite, non-negative float option (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    x = float(value)
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return x


def _current_cells(current: Any, V: int, R: int, C: int) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(current, "rows") and hasattr(current, "cols"):
        r, c = np.asarray(current.rows), np.asarray(current.cols)
    else:
        a = np.asarray(current)
        if a.ndim != 2 or a.shape[1] != 2:
            raise ValueError(f"current must be (V, 2) cells or have .rows/.cols, got shape {a.shape}")
        r, c = a[:, 0], a[:, 1]
    if r.shape != (V,) or c.shape != (V,):
        raise ValueError(f"current must give a cell for each of the {V} words, got {r.shape[0]}")
    for x in (r, c):
        if x.dtype.kind == "f":
            frac = ~np.isfinite(x) | (x != np.round(x))
            if frac.any():
                w = int(np.argmax(frac))
                raise ValueError(f"current cell of word {w} is ({r[w]}, {c[w]}): cells must be integers")
        elif x.dtype.kind not in "iu":
            raise ValueError(f"current cells must be integers, got dtype {x.dtype}")
    if (r < 0).any() or (r >= R).any() or (c < 0).any() or (c >= C).any():
        w = int(np.flatnonzero((r < 0) | (r >= R) | (c < 0) | (c >= C))[0])
        raise ValueError(f"current cell of word {w} is ({int(r[w])}, {int(c[w])}), outside the {R} x {C} table")
    flat = r.astype(np.int64) * C + c
    if np.unique(flat).size != V:
        raise ValueError("current places two words in the same cell")
    return np.ascontiguousarray(r, dtype=np.int32), np.ascontiguousarray(c, dtype=np.int32)


def _int_arg(name: str, value: Any, minimum: int, note: str = "") -> int:
    """An integer option at least ``minimum``, or an error naming it."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}{' ' + note if note else ''}, got {v}")
    if v >= 2**31:
        raise ValueError(f"{name} must be < 2**31, got {v}")
    return v


def auto_candidates(V: int) -> int:
    """The solver's default candidate rows/columns per word for V words (``k=0``): 4 below
    65,536 words, 5 from there (the figures behind it are in ``cpp/assign/structured.hpp``).
    ``solve_table`` applies it to the words left once words of flat costs are set aside."""
    return int(_assign.auto_candidates(_int_arg("V", V, 0)))


def _table_costs(L_r: Any, L_c: Any) -> tuple[np.ndarray, np.ndarray]:
    """L_r (V, R) and L_c (V, C) as C-contiguous float32 (both float32) or float64, checked:
    2-D, numeric, the same words, a table that fits them and int32 cell indices, finite."""
    L_r, L_c = np.asarray(L_r), np.asarray(L_c)
    if L_r.ndim != 2 or L_c.ndim != 2:
        raise ValueError(f"L_r and L_c must be 2-D, got shapes {L_r.shape} and {L_c.shape}")
    if L_r.shape[0] != L_c.shape[0]:
        raise ValueError(f"L_r has {L_r.shape[0]} words but L_c has {L_c.shape[0]}")
    for name, a in (("L_r", L_r), ("L_c", L_c)):
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    dtype = np.float32 if (L_r.dtype == np.float32 and L_c.dtype == np.float32) else np.float64
    L_r = np.ascontiguousarray(L_r, dtype=dtype)
    L_c = np.ascontiguousarray(L_c, dtype=dtype)
    V, R = L_r.shape
    C = L_c.shape[1]
    if V > 0 and (R < 1 or C < 1):
        raise ValueError(f"the table needs at least one row and one column, got {R} x {C}")
    if V > R * C:
        raise ValueError(f"infeasible: {V} words do not fit in {R} x {C} = {R * C} cells")
    if R * C >= 2**31:
        raise ValueError(f"R * C = {R * C} cells exceeds the int32 cell index")
    _check_no_nan_neginf(L_r, "L_r", forbid_posinf=True)
    _check_no_nan_neginf(L_c, "L_c", forbid_posinf=True)
    return L_r, L_c


def solve_table(L_r: np.ndarray, L_c: np.ndarray, current: Any = None, *, k: int = 0,
                max_rounds: int = 500, max_add_per_word: int = 8, threads: int = 0,
                method: str = "auto", rel_tol: float = 1e-12, max_seconds: float | None = None,
                gap_tol: float = 0.0) -> TableSolution:
    """Exact LightRNN reallocation: the one-to-one map of V words into R x C cells that minimises
    ``sum_w L_r[w, row(w)] + L_c[w, col(w)]``.

    Args:
        L_r: (V, R) row costs, float32 or float64 (other numeric types are converted).
        L_c: (V, C) column costs, same dtype. R * C >= V. Finite values only.
        current: the current table, (V, 2) cells or an object with ``.rows``/``.cols`` (a
            WordTable): used as the fallback cell of each word and scored.
        k: candidate rows and columns per word in the first round; 0 (default):
            ``auto_candidates`` of the words solved (those not set aside as flat).
        max_rounds: column-generation rounds before giving up (the result is then uncertified).
        max_add_per_word: most-violating cells added per word per round.
        threads: threads for candidates, pricing, the graph and the bids (0 = all cores, at
            most 8; at most 256 are used); the table does not depend on it.
        method: "auto" (the auction on a table at most 1% empty, except for early-training
            losses below 65,536 words; else shortest paths), "auction" (epsilon-scaling auction
            then shortest paths) or "ssp".
        rel_tol: a cell prices out when it beats a word's dual u by more than
            rel_tol * (|u| + |min L_r[w]| + |min L_c[w]|) (finite, >= 0).
        max_seconds: time budget in seconds from the call, the checks of the inputs included
            (None = none). When it runs out, the best table found so far
            is returned with its proven gap (``stopped == "max_seconds"``); before the first
            round ends, that is ``current`` (or word w in cell w without it).
        gap_tol: stop as soon as the table is proven within gap_tol times the sum of its
            absolute cost terms (the objective, for losses) of the optimum (``stopped ==
            "gap_tol"``). 0 (default): exact.

    Returns:
        TableSolution with ``rows``, ``cols`` (V,) int32 and the objective, the objective of
        ``current``, the certificate (``lower_bound``, ``gap``, ``certified``), the pricing
        rounds, why they stopped (``stopped``) and the time of each phase.

    Words whose costs are the same in every cell (a sampled loss pass leaves the words it did not
    see at zero) cost the same anywhere: when they are at least an eighth of the words they are
    set aside, the others solved over the whole table (on a copy of their costs), and they fill
    the cells left, each keeping its ``current`` cell when it is free.

    Never forms the V x (R*C) cost matrix: memory is O(V (k^2 + added cells)) beside the inputs.

    The certificate never overstates: ``lower_bound`` is a dual bound summed with proven error
    bounds, so it is at most the exact optimum whatever the costs' dynamic range, and
    ``certified`` holds only when the table is proven within max(1e-9, rel_tol) times the sum of
    its absolute cost terms of that optimum.  Costs too large for float64 sums are refused: a
    ValueError names the entry when the sum over words of each word's largest |L_r| + |L_c|
    overflows (a table's cost could be infinite); large but safe costs are solved scaled by a
    power of two.

    Raises:
        ValueError: bad shapes, NaN or +-inf costs, overflowing costs, a ``current`` table outside
        the table, with two words in a cell or non-integer cells, options out of range
        (k < 0, max_rounds < 1, max_add_per_word < 1, threads < 0, rel_tol, max_seconds or gap_tol
        not finite or < 0).
        TypeError: non-numeric costs, or an option that is not an integer.
    """
    # Over 80 lines only through the docstring, the whole contract in one place; the body is the
    # option checks and one call.
    import time

    t0 = time.perf_counter()
    if method not in ("auto", "auction", "ssp"):
        raise ValueError(f"method must be 'auto', 'auction' or 'ssp', got {method!r}")
    k = _int_arg("k", k, 0, "(0 = automatic)")
    max_rounds = _int_arg("max_rounds", max_rounds, 1)
    max_add_per_word = _int_arg("max_add_per_word", max_add_per_word, 1)
    threads = _int_arg("threads", threads, 0, "(0 = all cores)")
    try:
        rel_tol = float(rel_tol)
    except (TypeError, ValueError):
        raise TypeError(f"rel_tol must be a number, got {type(rel_tol).__name__}") from None
    if not (math.isfinite(rel_tol) and rel_tol >= 0):
        raise ValueError(f"rel_tol must be finite and >= 0, got {rel_tol}")
    max_seconds = _float_arg("max_seconds", 0.0 if max_seconds is None else max_seconds)
    gap_tol = _float_arg("gap_tol", gap_tol)
    L_r, L_c = _table_costs(L_r, L_c)
    V, R = L_r.shape
    C = L_c.shape[1]
    cr = cc = None
    if current is not None:
        cr, cc = _current_cells(current, V, R, C)
    fn = _assign.solve_table_f32 if L_r.dtype == np.float32 else _assign.solve_table_f64
    if max_seconds > 0:
        # The budget covers the checks above too (seconds for inputs of several GB).
        max_seconds = max(max_seconds - (time.perf_counter() - t0), 1e-9)
    # Costs whose table could cost more than float64 holds are refused by the core (naming the
    # entry); it checks them in the pass that picks the candidates, at no extra cost.
    d = fn(L_r, L_c, cr, cc, R, C, k, max_rounds, max_add_per_word, threads, rel_tol, method,
           max_seconds, gap_tol)
    total = time.perf_counter() - t0
    return TableSolution(
        rows=np.asarray(d["rows"]), cols=np.asarray(d["cols"]), objective=float(d["objective"]),
        current_objective=float(d["current_objective"]), lower_bound=float(d["lower_bound"]),
        certified=bool(d["certified"]), stopped=str(d["stopped"]), pricing_rounds=int(d["pricing_rounds"]),
        lazy_rounds=int(d["lazy_rounds"]), arcs=int(d["arcs"]),
        method=str(d["method"]), greedy_seeded=bool(d["greedy_seeded"]),
        times={"candidates": d["time_candidates"], "solve": d["time_solve"],
               "pricing": d["time_pricing"], "total": total})
