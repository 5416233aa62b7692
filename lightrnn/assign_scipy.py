"""SciPy-compatible exact assignment over the C++ core: drop-ins for
``scipy.optimize.linear_sum_assignment`` and ``scipy.sparse.csgraph.min_weight_full_bipartite_matching``
(same arguments, results and errors; SciPy's own tests for both run against them in
tests/test_assign_scipy_suite.py), and the value checks that every entry point of
:mod:`lightrnn.assign` shares. Import them from :mod:`lightrnn.assign`.
"""
from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy as np

from lightrnn import _assign

__all__ = ["linear_sum_assignment", "min_weight_full_bipartite_matching"]

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


def _checked_edges(biadjacency: Any, shape: tuple[int, int] | None, maximize: bool):
    """The graph's CSR arrays, validated: (indptr, indices, data, row of each entry, which entries
    are edges, (n, m)). Raises as min_weight_full_bipartite_matching documents; warns on a scipy
    matrix's explicit zeros."""
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
        warnings.warn("explicit zero weights are removed before matching", UserWarning, stacklevel=3)
    keep = np.isfinite(data) & ((data != 0) if from_scipy else True)  # +-inf weight: the edge is forbidden
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
    return indptr, indices, data, rows, keep, (n, m)


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
    indptr, indices, data, rows, keep, (n, m) = _checked_edges(biadjacency, shape, maximize)
    if n == 0 or m == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
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
