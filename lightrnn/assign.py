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
import warnings
from typing import Any

import numpy as np

from lightrnn import _assign

__all__ = ["linear_sum_assignment", "min_weight_full_bipartite_matching", "solve_table", "TableSolution",
           "auto_candidates"]

_CHECK_BLOCK = 1 << 16  # rows per block when scanning big arrays for bad values (bounded memory)


def _first_bad(a: np.ndarray, bad_mask_fn) -> tuple[int, ...] | None:
    """Index of the first entry where ``bad_mask_fn`` is True, scanning in row blocks."""
    if a.size == 0:
        return None
    flat = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(-1, 1)
    for start in range(0, flat.shape[0], _CHECK_BLOCK):
        block = flat[start:start + _CHECK_BLOCK]
        mask = bad_mask_fn(block)
        if mask.any():
            r, c = np.unravel_index(int(np.argmax(mask)), block.shape)
            idx = (start + int(r), int(c))
            return idx if a.ndim > 1 else (idx[0],)
    return None


def _check_no_nan_neginf(a: np.ndarray, name: str, forbid_posinf: bool = False, maximize: bool = False) -> None:
    """SciPy's wording ("contains invalid numeric entries"), then the first bad entry's index.
    With ``maximize`` the roles of +inf and -inf swap (+inf is invalid, -inf forbids a pair)."""
    def bad(b):
        m = np.isnan(b) | (np.isposinf(b) if maximize else np.isneginf(b))
        return m | np.isinf(b) if forbid_posinf else m
    at = _first_bad(a, bad)
    if at is not None:
        if forbid_posinf:
            rule = "NaN and +-inf are invalid here"
        elif maximize:
            rule = "with maximize, NaN and +inf are invalid; -inf means forbidden"
        else:
            rule = "NaN and -inf are invalid; +inf means forbidden"
        raise ValueError(f"{name} contains invalid numeric entries: {float(a[at])} at index {list(at)} ({rule})")


def _check_total(a: np.ndarray, name: str, rows_matched: bool) -> None:
    """Refuses costs whose matchings could cost more than float64 holds: the sum over the matched
    side (every row if ``rows_matched``, else every column) of its largest finite |cost| must be
    finite.  The error names the largest entry."""
    if a.size == 0:
        return
    mag = np.where(np.isfinite(a), np.abs(a), 0.0)
    with np.errstate(over="ignore"):
        total = mag.max(axis=1 if rows_matched else 0).sum()
    if np.isfinite(total):
        return
    r, c = np.unravel_index(int(np.argmax(mag)), mag.shape)
    raise ValueError(f"{name} is too large to solve: {float(a[r, c])} at index {[int(r), int(c)]}, and the sum over the "
                     f"matched {'rows' if rows_matched else 'columns'} of their largest |cost| overflows float64 "
                     f"(a matching's cost could be infinite); scale the costs down")


def _as_cost_matrix(cost_matrix: Any) -> np.ndarray:
    a = np.asarray(cost_matrix)
    if a.ndim != 2:
        raise ValueError(f"expected a matrix (2-D array), got a {a.ndim}-D array")
    if a.dtype.kind not in "biuf":
        # SciPy's error (a cast that numpy's 'safe' rule refuses), so that code written for
        # scipy.optimize.linear_sum_assignment catches the same exception.
        raise TypeError(f"Cannot cast array data from {a.dtype!r} to dtype('float64') according to the rule "
                        f"'safe': the cost matrix must be numeric (bool, int or float)")
    return a.astype(np.float64, copy=False)


def linear_sum_assignment(cost_matrix: Any, maximize: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Solve the linear sum assignment problem (same contract as SciPy's).

    Args:
        cost_matrix: (n, m) costs; +inf (or -inf with ``maximize``) forbids a pair.
        maximize: maximise the total instead.

    Returns:
        (row_ind, col_ind): int64 arrays of length min(n, m); ``row_ind`` sorted, and
        ``cost_matrix[row_ind, col_ind].sum()`` is optimal.

    Raises:
        TypeError: not numeric (SciPy's error).
        ValueError: not 2-D, NaN or -inf (+inf with ``maximize``) entries (SciPy's message, then
        the index of the first), costs so large that a matching's cost could overflow float64
        (the sum over the matched side of its largest |cost| is infinite; the error names the
        largest entry), or no complete assignment (infeasible).
    """
    a = _as_cost_matrix(cost_matrix)
    _check_no_nan_neginf(a, "cost matrix", maximize=maximize)
    n, m = a.shape
    if n == 0 or m == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    _check_total(a, "cost matrix", rows_matched=n <= m)
    if maximize:
        a = -a
    transposed = n > m
    if transposed:
        a = a.T
        n, m = m, n
    finite = np.isfinite(a)  # (n, m): +inf entries are forbidden edges
    counts = finite.sum(axis=1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    rows, cols = np.nonzero(finite)
    r2c, _, _, _ = _assign.solve_sparse(indptr, cols.astype(np.int32), a[rows, cols], n, m, "ssp")
    r2c = np.asarray(r2c, dtype=np.int64)
    if transposed:
        order = np.argsort(r2c, kind="stable")
        return r2c[order], order.astype(np.int64)
    return np.arange(n, dtype=np.int64), r2c


def _csr_parts(biadjacency: Any, shape: tuple[int, int] | None):
    """(indptr, indices, data, shape, from_scipy) of a CSR triple or a scipy.sparse matrix."""
    if isinstance(biadjacency, tuple) and len(biadjacency) == 3:
        indptr, indices, data = (np.asarray(x) for x in biadjacency)
        if shape is None:
            n = len(indptr) - 1
            shape = (n, int(indices.max()) + 1 if indices.size else 0)
        return indptr, indices, data, tuple(shape), False
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy missing and a non-tuple given
        raise TypeError("biadjacency must be (indptr, indices, data) or a scipy.sparse matrix") from None
    if not sp.issparse(biadjacency):
        raise TypeError(f"graph must be sparse: biadjacency must be (indptr, indices, data) or a scipy.sparse "
                        f"matrix, got {type(biadjacency).__name__}")
    csr = sp.csr_matrix(biadjacency)
    return csr.indptr, csr.indices, csr.data, csr.shape, True


def _transpose_csr(indptr, indices, data, n, m):
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    order = np.lexsort((rows, indices))
    t_indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(indices, minlength=m), out=t_indptr[1:])
    return t_indptr, rows[order], data[order]


def min_weight_full_bipartite_matching(biadjacency: Any, maximize: bool = False,
                                       shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-weight matching covering the smaller side of a sparse bipartite graph (same
    contract as ``scipy.sparse.csgraph.min_weight_full_bipartite_matching``).

    Args:
        biadjacency: a scipy.sparse matrix (stored entries are the edges, their values the
            weights; explicit zeros are removed with a UserWarning, as SciPy does) or a CSR
            triple ``(indptr, indices, data)``, whose entries are all edges, zero weights included.
        maximize: maximise the total weight instead.
        shape: (n, m) for a CSR triple (default: n from indptr, m from the largest index).

    Returns:
        (row_ind, col_ind) as :func:`linear_sum_assignment`.

    Raises:
        TypeError: a dense array, or weights that are not numeric.
        ValueError: bad structure, NaN or -inf (+inf with ``maximize``) weights (SciPy's message,
        then the edge), weights so large that a matching's cost could overflow float64, or no full
        matching ("no full matching exists", SciPy's message: infeasible).
    """
    indptr, indices, data, (n, m), from_scipy = _csr_parts(biadjacency, shape)
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"Cannot cast array data from {data.dtype!r} to dtype('float64') according to the rule "
                        f"'safe': edge weights must be numeric")
    data = np.asarray(data, dtype=np.float64)
    if indptr.ndim != 1 or len(indptr) != n + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ValueError("indptr must be non-decreasing, start at 0 and have n_rows + 1 entries")
    if len(indices) != indptr[-1] or len(data) != indptr[-1]:
        raise ValueError(f"indices and data must have indptr[-1] = {int(indptr[-1])} entries")
    if indices.size and (indices.min() < 0 or indices.max() >= m):
        raise ValueError(f"column indices must lie in [0, {m})")
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))

    def edge(k):  # the (row, column) of stored entry k, for messages
        return [int(rows[k]), int(indices[k])]

    bad = np.isnan(data) | (np.isposinf(data) if maximize else np.isneginf(data))
    if bad.any():
        k = int(np.argmax(bad))
        rule = ("with maximize, NaN and +inf are invalid; -inf means forbidden" if maximize
                else "NaN and -inf are invalid; +inf means forbidden")
        raise ValueError(f"biadjacency matrix contains invalid numeric entries: {float(data[k])} at index "
                         f"{edge(k)} ({rule})")
    if from_scipy and (data == 0).any():
        # SciPy's rule: a stored zero cannot be told from a missing edge once converted between
        # sparse formats, so it is not an edge.
        warnings.warn("explicit zero weights are removed before matching", UserWarning, stacklevel=2)
    keep = np.isfinite(data) & ((data != 0) if from_scipy else True)  # +-inf weight: the edge is forbidden
    if n == 0 or m == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if keep.any():
        mag = np.where(keep, np.abs(data), 0.0)
        side, size = (rows, n) if n <= m else (indices, m)  # the side every vertex of which is matched
        side_max = np.zeros(size)
        np.maximum.at(side_max, side, mag)
        with np.errstate(over="ignore"):
            total = side_max.sum()
        if not np.isfinite(total):
            k = int(np.argmax(mag))
            raise ValueError(f"biadjacency matrix is too large to solve: {float(data[k])} at index {edge(k)}, and "
                             f"the sum over the matched {'rows' if n <= m else 'columns'} of their largest |weight| "
                             f"overflows float64 (a matching's cost could be infinite); scale the weights down")
    w = -data if maximize else data
    if not keep.all():
        indices, w = indices[keep], w[keep]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[keep], minlength=n), out=indptr[1:])
    transposed = n > m
    if transposed:
        indptr, indices, w = _transpose_csr(indptr, indices, w, n, m)
        n, m = m, n
    try:
        r2c, _, _, _ = _assign.solve_sparse(indptr, indices.astype(np.int32), w, n, m, "ssp")
    except ValueError as e:
        if "infeasible" not in str(e):
            raise
        raise ValueError(f"no full matching exists: {e}") from None
    r2c = np.asarray(r2c, dtype=np.int64)
    if transposed:
        order = np.argsort(r2c, kind="stable")
        return r2c[order], order.astype(np.int64)
    return np.arange(n, dtype=np.int64), r2c


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
    """The solver's default candidate rows/columns per word for V words.

    k = 5 is faster from 65,536 words (262,144: 30.2 -> 27.2 s), k = 4 below (4,096: median
    0.046 vs 0.055 s; 16,384: 0.232 vs 0.259 s); benchmarks/solver.py, 2 threads.
    """
    return 5 if V >= 65536 else 4


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
            ``auto_candidates(V)``, 4 below 65,536 words and 5 from there.
        max_rounds: column-generation rounds before giving up (the result is then uncertified).
        max_add_per_word: most-violating cells added per word per round.
        threads: threads for candidates and pricing (0 = all cores, at most 8; at most 256 are used).
        method: "auto", "auction" (epsilon-scaling auction then shortest paths) or "ssp".
        rel_tol: a cell prices out when it beats a word's dual u by more than
            rel_tol * (|u| + |min L_r[w]| + |min L_c[w]|) (finite, >= 0).
        max_seconds: time budget (None = none). When it runs out, the best table found so far
            is returned with its proven gap (``stopped == "max_seconds"``); before the first
            round ends, that is ``current`` (or word w in cell w without it).
        gap_tol: stop as soon as the table is proven within gap_tol times the sum of its
            absolute cost terms (the objective, for losses) of the optimum (``stopped ==
            "gap_tol"``). 0 (default): exact.

    Returns:
        TableSolution with ``rows``, ``cols`` (V,) int32 and the objective, the objective of
        ``current``, the certificate (``lower_bound``, ``gap``, ``certified``), the pricing
        rounds, why they stopped (``stopped``) and the time of each phase.

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
    cr = cc = None
    if current is not None:
        cr, cc = _current_cells(current, V, R, C)
    fn = _assign.solve_table_f32 if dtype == np.float32 else _assign.solve_table_f64
    # Costs whose table could cost more than float64 holds are refused by the core (naming the
    # entry); it checks them in the pass that picks the candidates, at no extra cost.
    d = fn(L_r, L_c, cr, cc, R, C, k or auto_candidates(V), max_rounds, max_add_per_word, threads, rel_tol, method,
           max_seconds, gap_tol)
    total = time.perf_counter() - t0
    return TableSolution(
        rows=np.asarray(d["rows"]), cols=np.asarray(d["cols"]), objective=float(d["objective"]),
        current_objective=float(d["current_objective"]), lower_bound=float(d["lower_bound"]),
        certified=bool(d["certified"]), stopped=str(d["stopped"]), pricing_rounds=int(d["pricing_rounds"]), arcs=int(d["arcs"]),
        method=str(d["method"]), greedy_seeded=bool(d["greedy_seeded"]),
        times={"candidates": d["time_candidates"], "solve": d["time_solve"],
               "pricing": d["time_pricing"], "total": total})
