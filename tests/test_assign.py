"""The assignment solvers against independent references (networkx network simplex, SciPy)."""
import re

import networkx as nx
import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

from lightrnn.assign import linear_sum_assignment, min_weight_full_bipartite_matching, solve_table

SCALE = 2**20  # costs are multiples of 2**-20: exact in float64 and exact integers for networkx


def random_case(rng, kind):
    n = int(rng.integers(1, 61)) if rng.random() < 0.2 else int(rng.integers(1, 16))
    m = n + (int(rng.integers(0, 6)) if rng.random() < 0.5 else 0)
    if kind == "ties":
        c = rng.integers(0, 3, size=(n, m)).astype(float)
    elif kind == "negative":
        c = rng.integers(-1000, 1000, size=(n, m)).astype(float)
    elif kind == "range":  # rare and frequent words side by side: 1e-6 .. 1e6
        mag = 2.0 ** rng.integers(-20, 20, size=(n, m))
        c = np.round(rng.random((n, m)) * mag * SCALE) / SCALE
    else:  # float
        c = np.round(rng.normal(size=(n, m)) * 100 * SCALE) / SCALE
    if kind != "ties" and rng.random() < 0.3:  # forbidden edges
        c[rng.random((n, m)) < 0.3] = np.inf
    if rng.random() < 0.3:
        c = c.T  # more rows than columns
    return c


def networkx_optimum(c):
    """Min-cost flow on the bipartite network by network simplex (independent of SciPy)."""
    n, m = c.shape
    if n > m:
        c = c.T
        n, m = m, n
    G = nx.DiGraph()
    G.add_node("s", demand=-n)
    G.add_node("t", demand=n)
    for i in range(n):
        G.add_edge("s", ("r", i), capacity=1, weight=0)
        for j in range(m):
            if np.isfinite(c[i, j]):
                G.add_edge(("r", i), ("c", j), capacity=1, weight=int(round(c[i, j] * SCALE)))
    for j in range(m):
        G.add_edge(("c", j), "t", capacity=1, weight=0)
    try:
        cost, _ = nx.network_simplex(G)
    except nx.NetworkXUnfeasible:
        return None
    return cost / SCALE


@pytest.mark.parametrize("kind", ["ties", "negative", "range", "float", "int"])
def test_against_networkx(kind):
    rng = np.random.default_rng({"ties": 1, "negative": 2, "range": 3, "float": 4, "int": 5}[kind])
    for _ in range(110):  # 5 kinds x 110 = 550 cases
        c = random_case(rng, kind)
        if kind == "int":
            c = np.where(np.isfinite(c), np.round(c), c)
        ref = networkx_optimum(c)
        if ref is None:
            with pytest.raises(ValueError, match="infeasible"):
                linear_sum_assignment(c)
            continue
        r, k = linear_sum_assignment(c)
        assert len(r) == min(c.shape) and len(set(k.tolist())) == len(k)
        assert np.all(np.diff(r) > 0)
        assert c[r, k].sum() == pytest.approx(ref, rel=1e-12, abs=1e-9)
        # the sparse form on the same graph (a CSR triple: zero weights are edges there)
        mask = np.isfinite(c)
        g = sp.csr_matrix((c[mask], np.nonzero(mask)), shape=c.shape)
        r2, k2 = min_weight_full_bipartite_matching((g.indptr, g.indices, g.data), shape=c.shape)
        assert c[r2, k2].sum() == pytest.approx(ref, rel=1e-12, abs=1e-9)


def test_matches_scipy_contract():
    rng = np.random.default_rng(0)
    for shape in [(5, 5), (3, 7), (7, 3), (0, 4), (4, 0)]:
        c = rng.random(shape)
        r, k = linear_sum_assignment(c)
        rs, ks = scipy.optimize.linear_sum_assignment(c)
        assert r.dtype == rs.dtype and np.array_equal(r, rs)
        assert c[r, k].sum() == pytest.approx(c[rs, ks].sum())
    c = rng.random((6, 4))
    r, k = linear_sum_assignment(c, maximize=True)
    rs, ks = scipy.optimize.linear_sum_assignment(c, maximize=True)
    assert c[r, k].sum() == pytest.approx(c[rs, ks].sum())


def test_bad_input():
    with pytest.raises(ValueError, match=r"contains invalid numeric entries: nan at index \[1, 2\]"):
        linear_sum_assignment(np.array([[0, 1, 2], [3, 4, np.nan]]))
    with pytest.raises(ValueError, match=r"contains invalid numeric entries: -inf at index \[0, 1\]"):
        linear_sum_assignment(np.array([[0, -np.inf], [1, 2]]))
    with pytest.raises(ValueError, match=r"contains invalid numeric entries: inf at index \[1, 1\]"):
        linear_sum_assignment(np.array([[0, -np.inf], [1, np.inf]]), maximize=True)
    with pytest.raises(ValueError, match="infeasible"):
        linear_sum_assignment(np.array([[np.inf, 1], [np.inf, 2]]))
    with pytest.raises(ValueError, match="2-D"):
        linear_sum_assignment(np.zeros(3))
    with pytest.raises(TypeError, match="Cannot cast array data"):
        linear_sum_assignment(np.array([["a"]]))
    with pytest.raises(ValueError, match="no full matching"):
        min_weight_full_bipartite_matching(sp.csr_matrix(np.array([[1.0, 0], [2.0, 0]])))
    with pytest.raises(TypeError, match="graph must be sparse"):
        min_weight_full_bipartite_matching(np.eye(2))
    with pytest.raises(ValueError, match="indptr"):
        min_weight_full_bipartite_matching((np.array([0, 2, 1]), np.array([0, 1]), np.array([1.0, 2.0])), shape=(2, 2))
    L = np.zeros((5, 3))
    with pytest.raises(ValueError, match="infeasible"):
        solve_table(np.zeros((10, 3)), np.zeros((10, 3)))
    L[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"L_r contains invalid numeric entries: nan at index \[2, 1\]"):
        solve_table(L, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="same cell"):
        solve_table(np.zeros((2, 2)), np.zeros((2, 2)), current=np.array([[0, 0], [0, 0]]))
    with pytest.raises(ValueError, match="words"):
        solve_table(np.zeros((5, 3)), np.zeros((4, 3)))


def test_empty():
    r, k = linear_sum_assignment(np.zeros((0, 0)))
    assert r.size == 0 and k.size == 0
    s = solve_table(np.zeros((0, 3)), np.zeros((0, 3)))
    assert s.rows.size == 0 and s.certified


def lightrnn_problem(V, seed=0, dtype=np.float64):
    """Zipf counts, each word peaked on a few rows and columns, cost = count * -log softmax."""
    rng = np.random.default_rng(seed)
    R = C = int(np.ceil(np.sqrt(V)))
    counts = np.maximum(1.0, np.floor(1e5 / np.arange(1, V + 1)))
    out = []
    for side in (R, C):
        z = rng.normal(size=(V, side))
        for _ in range(3):
            z[np.arange(V), rng.integers(0, side, V)] += 4.0
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        out.append((counts[:, None] * -logp).astype(dtype))
    return out[0], out[1], R, C


def random_table(rng, V, R, C):
    """(V, 2) distinct random cells of an R x C table: a `current` table for solve_table."""
    cells = rng.permutation(R * C)[:V]
    return np.stack([cells // C, cells % C], axis=1)


def dense_optimum(L_r, L_c):
    """SciPy's exact optimum on the dense V x (R*C) cost matrix."""
    V, R, C = L_r.shape[0], L_r.shape[1], L_c.shape[1]
    full = (L_r.astype(np.float64)[:, :, None] + L_c.astype(np.float64)[:, None, :]).reshape(V, R * C)
    r, k = scipy.optimize.linear_sum_assignment(full)
    return full[r, k].sum()


@pytest.mark.parametrize("V,dtype", [(1024, np.float64), (2000, np.float64), (4096, np.float32)])
def test_solve_table_equals_dense_scipy(V, dtype):
    L_r, L_c, R, C = lightrnn_problem(V, seed=V, dtype=dtype)
    sol = solve_table(L_r, L_c)
    ref = dense_optimum(L_r, L_c)
    assert sol.certified
    assert sol.objective == pytest.approx(ref, rel=1e-9)
    assert sol.lower_bound == pytest.approx(ref, rel=1e-9)
    cells = sol.rows.astype(np.int64) * C + sol.cols
    assert np.unique(cells).size == V and sol.rows.max() < R and sol.cols.max() < C


@pytest.mark.parametrize("with_current", [False, True])
def test_solve_table_crowded_losses_equal_dense_scipy(with_current):
    """Early-training losses: every word prefers the same rows and columns (count x marginal
    plus a little of its own), so the words' k x k candidates crowd a few cells; the solver
    seeds them with a greedy table (reported) and must still reach the exact optimum."""
    V = 2400
    rng = np.random.default_rng(7)
    R = C = int(np.ceil(np.sqrt(V)))
    counts = np.maximum(1.0, np.floor(1e4 / np.arange(1, V + 1)))
    out = []
    for side in (R, C):
        marginal = rng.normal(size=side) * 2.0  # shared by every word
        z = marginal[None, :] + 0.3 * rng.normal(size=(V, side))
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        out.append(counts[:, None] * -logp)
    L_r, L_c = out
    current = random_table(rng, V, R, C) if with_current else None
    sol = solve_table(L_r, L_c, current=current)
    ref = dense_optimum(L_r, L_c)
    assert sol.greedy_seeded and sol.certified
    assert sol.objective == pytest.approx(ref, rel=1e-9) and sol.lower_bound == pytest.approx(ref, rel=1e-9)
    assert np.unique(sol.rows.astype(np.int64) * C + sol.cols).size == V
    assert not solve_table(*lightrnn_problem(2400, seed=3)[:2]).greedy_seeded  # peaked costs: no seed needed


@pytest.mark.parametrize("with_current", [False, True])
def test_solve_table_with_empty_cells_and_flat_words_equals_dense_scipy(with_current):
    """A vocabulary that is not a square (V = 3,000 in 55 x 55 cells: 25 stay empty), above the
    size where every cell is a candidate, with words that never occurred (the same cost in every
    cell; too few to be set aside, they are priced in the problem, dealt the cheapest cells
    round-robin); the optimum must still be the dense one, and twice the same."""
    V = 3000
    L_r, L_c, R, C = lightrnn_problem(V, seed=21)
    assert R * C - V == 25
    L_r[-40:], L_c[-40:] = 0.0, 0.0  # 40 unseen words
    L_r[-45:-40], L_c[-45:-40] = 2.5, 1.0  # and 5 whose costs are flat but not zero
    current = random_table(np.random.default_rng(4), V, R, C) if with_current else None
    sol = solve_table(L_r, L_c, current=current)
    ref = dense_optimum(L_r, L_c)
    assert sol.certified and sol.arcs < V * R * C // 20  # sparse, not every cell
    # With dummy words in the exact rounds, all priced onto the same cheapest cells: 41 rounds.
    assert sol.pricing_rounds <= 10
    assert sol.objective == pytest.approx(ref, rel=1e-9) and sol.lower_bound == pytest.approx(ref, rel=1e-9)
    assert np.unique(sol.rows.astype(np.int64) * C + sol.cols).size == V
    again = solve_table(L_r, L_c, current=current)
    assert np.array_equal(again.rows, sol.rows) and np.array_equal(again.cols, sol.cols)


@pytest.mark.parametrize("share", [0.7, 0.15])
def test_solve_table_flat_words_like_a_sampled_pass(share):
    """A sampled loss pass leaves words unseen (all-zero costs): most of them after a 5% pass at a
    large vocabulary, a fifth after PTB's 1/8-epoch rounds.  From an eighth of the words they are
    set aside: the others are solved over the whole table, optimum and bound equal the dense
    optimum, and the flat words keep their current cells where free (priced in the problem
    instead, they would be dealt the cheapest cells)."""
    rng = np.random.default_rng(8)
    V, R, C = 1600, 40, 40
    L_r, L_c = _real_shaped(rng, V, R, C)
    flat = rng.random(V) < share
    L_r[flat], L_c[flat] = 0.0, 0.0
    current = random_table(rng, V, R, C)
    sol = solve_table(L_r, L_c, current=current)
    ref = dense_optimum(L_r, L_c)
    assert sol.certified and sol.objective == pytest.approx(ref, rel=1e-9)
    assert sol.lower_bound <= ref and sol.lower_bound == pytest.approx(ref, rel=1e-9)
    cells = sol.rows.astype(np.int64) * C + sol.cols
    assert np.unique(cells).size == V
    cur = current[:, 0].astype(np.int64) * C + current[:, 1]
    kept = ~np.isin(cur[flat], cells[~flat])
    assert (cells[flat][kept] == cur[flat][kept]).all()


@pytest.mark.parametrize("method", ["auction", "ssp"])
def test_solve_table_is_the_same_at_any_thread_count(method):
    # The auction's and the row reduction's bids are computed in batches split over the threads;
    # the batches do not depend on the number of threads, so neither does the table.
    L_r, L_c = _real_shaped(np.random.default_rng(11), 1600, 40, 40)
    current = random_table(np.random.default_rng(12), 1600, 40, 40)
    sols = [solve_table(L_r, L_c, current=current, method=method, threads=t) for t in (1, 2, 3)]
    for s in sols[1:]:
        assert np.array_equal(s.rows, sols[0].rows) and np.array_equal(s.cols, sols[0].cols)
        assert s.objective == sols[0].objective and s.pricing_rounds == sols[0].pricing_rounds
    assert sols[0].certified


def test_solve_table_warm_start_methods_and_determinism():
    L_r, L_c, R, C = lightrnn_problem(900, seed=5)
    current = random_table(np.random.default_rng(1), 900, R, C)
    sols = [solve_table(L_r, L_c, current=current, method=m) for m in ("auto", "auction", "ssp")]
    cur = L_r[np.arange(900), current[:, 0]].sum() + L_c[np.arange(900), current[:, 1]].sum()
    for s in sols:
        assert s.certified and s.current_objective == pytest.approx(cur)
        assert s.objective == pytest.approx(sols[0].objective, rel=1e-12) and s.objective <= cur
    again = solve_table(L_r, L_c, current=current)
    assert np.array_equal(again.rows, sols[0].rows) and np.array_equal(again.cols, sols[0].cols)


def test_solve_table_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, lightrnn.assign; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_ctrl_c_interrupts_a_long_solve():
    """SIGINT during a solve (GIL released) raises KeyboardInterrupt promptly, no crash."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    code = (
        "import signal, sys, time, numpy as np\n"
        # A runner started in the background by a non-interactive shell hands its children
        # SIGINT ignored (Python then keeps it ignored): put Python's own handler back.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from lightrnn.assign import solve_table\n"
        "rng = np.random.default_rng(0)\n"
        "V = 65536\n"
        "L_r = (rng.random((V, 256), dtype=np.float32) * np.arange(1, V + 1, dtype=np.float32)[:, None])\n"
        "L_c = L_r[::-1].copy()\n"
        "print('start', flush=True)\n"
        "t = time.perf_counter()\n"
        "try:\n"
        "    solve_table(L_r, L_c, threads=1)\n"
        "    print('finished', flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print(f'interrupted {time.perf_counter() - t:.2f}', flush=True)\n"
    )
    root = Path(__file__).resolve().parents[1]
    p = subprocess.Popen([sys.executable, "-c", code], cwd=root, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "start"
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0 and out.startswith("interrupted"), out


@pytest.mark.parametrize("method", ["auto", "auction", "ssp"])
def test_solve_table_against_networkx(method):
    """The structured mode on small separable problems (R*C > V, R != C, ties, a huge dynamic
    range, k = 1 so that pricing has to add cells) equals network simplex on the expanded matrix."""
    rng = np.random.default_rng({"auto": 11, "auction": 12, "ssp": 13}[method])
    for case in range(60):
        V = int(rng.integers(1, 41))
        R = int(rng.integers(1, 9))
        C = -(-V // R) + int(rng.integers(0, 3))
        if case % 3 == 0:  # ties
            L_r, L_c = rng.integers(0, 3, (V, R)).astype(float), rng.integers(0, 3, (V, C)).astype(float)
        else:  # frequent and rare words side by side: per-word scales 2**-20 .. 2**20
            scale = 2.0 ** rng.integers(-20, 21, size=(V, 1))
            L_r = np.round(rng.random((V, R)) * scale * SCALE) / SCALE
            L_c = np.round(rng.random((V, C)) * scale * SCALE) / SCALE
        full = (L_r[:, :, None] + L_c[:, None, :]).reshape(V, R * C)
        ref = networkx_optimum(full)
        sol = solve_table(L_r, L_c, k=1, method=method)
        cells = sol.rows.astype(np.int64) * C + sol.cols
        assert np.unique(cells).size == V and sol.rows.max() < R and sol.cols.max() < C
        assert sol.certified
        assert full[np.arange(V), cells].sum() == pytest.approx(ref, rel=1e-12, abs=1e-9)
        assert sol.objective == pytest.approx(ref, rel=1e-12, abs=1e-9)


def test_solve_table_k_zero_is_automatic_and_negative_k_is_refused():
    L_r, L_c, R, C = lightrnn_problem(2500, seed=9)  # not small enough for the all-cells mode
    auto, four, five = (solve_table(L_r, L_c, k=k) for k in (0, 4, 5))  # 2,500 words: automatic k is 4
    assert auto.objective == pytest.approx(four.objective, rel=1e-12) == five.objective
    assert auto.arcs == four.arcs != five.arcs
    with pytest.raises(ValueError, match="k must be >= 0"):
        solve_table(L_r, L_c, k=-1)


def test_auto_method_auction_only_for_a_nearly_full_table():
    """The auction's dummy words fight price wars over empty cells: "auto" runs it for tables with
    at most 1% empty cells (counted after flat words are set aside), else shortest paths; and not
    for early-training losses below 65,536 words."""
    L_r, L_c, R, C = lightrnn_problem(2500, seed=9)  # 50 x 50: full
    assert solve_table(L_r, L_c).method == "auction+ssp"
    assert solve_table(L_r[:-50], L_c[:-50]).method == "ssp"  # 2% empty
    flat_r, flat_c = L_r.copy(), L_c.copy()
    flat_r[:1000], flat_c[:1000] = 0.0, 0.0  # a sampled pass missed 1,000 words: 40% of cells left
    assert solve_table(flat_r, flat_c).method == "ssp"
    # Early-training losses (every word ranks the rows alike: candidates crowd a few cells) below
    # 65,536 words start from shortest paths even on a full table.
    L_r, L_c = _real_shaped(np.random.default_rng(5), 1600, 40, 40)
    assert solve_table(L_r, L_c).method == "ssp"


# --- Robustness: each case below was a wrong certificate, a crash or a silent acceptance. ---

def _isolated(code: str) -> "subprocess.CompletedProcess":
    """Runs `code` (with numpy as np and lightrnn.assign's functions imported) in a fresh
    interpreter: a crash there is a failed assertion here, not the end of the test run."""
    import subprocess
    import sys

    prelude = ("import numpy as np\nnan, inf = float('nan'), float('inf')\n"
               "from lightrnn.assign import linear_sum_assignment, min_weight_full_bipartite_matching, solve_table\n")
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)


def _uniform_table(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.random((100, 10)).astype(dtype), rng.random((100, 10)).astype(dtype), rng


@pytest.mark.parametrize("big,dtype,warm", [(1e17, np.float64, False), (1e15, np.float64, True),
                                            (1e20, np.float32, False), (1e20, np.float32, True),
                                            (1e300, np.float64, False), (1e300, np.float64, True)])
def test_one_huge_cost_neither_misleads_the_certificate_nor_the_solve(big, dtype, warm):
    """100 words in 10 x 10, costs in [0, 1) but one of 1e15..1e300: an auction whose eps followed
    the whole range (1e16 steps) returned a random table (103.4 vs 20.6) certified with bound 0."""
    for seed in range(3):
        L_r, L_c, rng = _uniform_table(seed, dtype)
        L_r[int(rng.integers(100)), int(rng.integers(10))] = big
        current = random_table(rng, 100, 10, 10) if warm else None
        sol = solve_table(L_r, L_c, current=current)
        ref = dense_optimum(L_r, L_c)
        assert sol.lower_bound <= ref
        assert sol.certified and sol.objective == pytest.approx(ref, rel=1e-9)
        assert solve_table(L_r, L_c, current=current, method="ssp").objective == pytest.approx(ref, rel=1e-9)


def test_lower_bound_never_above_the_exact_optimum():
    """The bound is summed with a proven error bound: never above the optimum, even by rounding
    (a plain extended-precision sum ended 9e-8 above the objective at 16,384 words)."""
    import math

    for V, seed in ((900, 1), (1024, 2), (2000, 3)):
        L_r, L_c, R, C = lightrnn_problem(V, seed=seed)
        sol = solve_table(L_r, L_c)
        full = (L_r[:, :, None] + L_c[:, None, :]).reshape(V, R * C)
        _, cells = scipy.optimize.linear_sum_assignment(full)
        exact = math.fsum(L_r[np.arange(V), cells // C].tolist() + L_c[np.arange(V), cells % C].tolist())
        assert sol.certified and sol.lower_bound <= exact and sol.gap >= 0
        assert sol.gap <= 1e-9 * exact


def test_costs_whose_sums_overflow_are_refused_naming_the_entry():
    """A column of L_c at the largest float64, or every cost at 1e308: the sums overflowed and
    the solver aborted the interpreter (double free or corruption)."""
    out = _isolated("L_r = np.random.rand(100, 10); L_c = np.random.rand(100, 10)\n"
                    "L_c[:, 3] = np.finfo(np.float64).max\n"
                    "try:\n    solve_table(L_r, L_c)\nexcept ValueError as e:\n    print(e)\n"
                    "try:\n    solve_table(np.full((100, 10), 1e308), np.full((100, 10), 1e308))\n"
                    "except ValueError as e:\n    print(e)\n")
    assert out.returncode == 0, out.stderr[-2000:]
    first, second = out.stdout.splitlines()
    assert first.startswith("costs too large: L_c[0, 3] = 1.7976931348623157e+308") and "overflows float64" in first
    assert second.startswith("costs too large: L_r[0, 0] = 1e+308")
    # One huge word among ordinary ones is solvable (scaled by a power of two inside).
    L_r, L_c, _ = _uniform_table(4)
    L_r[7] = np.finfo(np.float64).max / 4
    sol = solve_table(L_r, L_c)
    assert sol.certified and sol.objective == pytest.approx(dense_optimum(L_r, L_c), rel=1e-9)
    # The dense and sparse forms: refused when a matching's cost could overflow, solved otherwise.
    big = np.finfo(np.float64).max
    with pytest.raises(ValueError, match=r"cost matrix is too large to solve: 1e\+308 at index \[0, 0\]"):
        linear_sum_assignment(np.full((3, 3), 1e308))
    with pytest.raises(ValueError, match=r"too large to solve: .* at index \[0, 1\]"):
        min_weight_full_bipartite_matching(sp.csr_array(np.where(np.arange(5) == 1, big, 1.0 + np.eye(5))))
    a = np.random.default_rng(5).random((6, 6))
    a[2] = big  # one row at the largest value: any matching costs big + small
    r, c = linear_sum_assignment(a)
    rs, cs = scipy.optimize.linear_sum_assignment(np.delete(np.delete(a, 2, 0), c[2], 1))
    assert a[r, c].sum() - big == pytest.approx(np.delete(np.delete(a, 2, 0), c[2], 1)[rs, cs].sum(), abs=big * 1e-15)


@pytest.mark.parametrize("kwargs,match", [
    (dict(max_rounds=0), "max_rounds must be >= 1, got 0"),
    (dict(max_rounds=-1), "max_rounds must be >= 1, got -1"),
    (dict(rel_tol=float("nan")), "rel_tol must be finite and >= 0, got nan"),
    (dict(rel_tol=-1e-9), "rel_tol must be finite and >= 0"),
    (dict(rel_tol=float("inf")), "rel_tol must be finite and >= 0"),
    (dict(threads=-1), r"threads must be >= 0 \(0 = all cores\), got -1"),
    (dict(max_add_per_word=0), "max_add_per_word must be >= 1, got 0"),
])
def test_bad_options_are_refused(kwargs, match):
    """max_rounds 0 or -1 crashed the interpreter (segmentation fault); the others were accepted."""
    out = _isolated(f"try:\n    solve_table(np.random.rand(100, 10), np.random.rand(100, 10), **{kwargs!r})\n"
                    f"except ValueError as e:\n    print('ValueError', e)\n")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ValueError") and __import__("re").search(match, out.stdout), out.stdout
    with pytest.raises(TypeError, match="max_rounds must be an integer"):
        solve_table(np.zeros((4, 2)), np.zeros((4, 2)), max_rounds=2.5)


def test_current_cells_must_be_integers():
    L_r, L_c, _ = _uniform_table(1)
    cells = np.stack(np.divmod(np.arange(100), 10), axis=1)
    with pytest.raises(ValueError, match=r"current cell of word 0 is \(0.5, 0.5\): cells must be integers"):
        solve_table(L_r, L_c, current=cells + 0.5)
    with pytest.raises(ValueError, match="current cells must be integers"):
        solve_table(L_r, L_c, current=cells.astype(str))
    as_float = solve_table(L_r, L_c, current=cells.astype(float))  # integral floats are cells
    assert as_float.current_objective == solve_table(L_r, L_c, current=cells).current_objective


def test_explicit_zeros_of_a_scipy_sparse_matrix_are_removed_with_scipys_warning():
    a = np.array([[9.0, 2, 3], [2, 1, 1], [1, 2, 3]])
    g = sp.csr_array(a)
    g.data[0] = 0.0  # a stored zero at (0, 0): the cheapest edge if it were one
    with pytest.warns(UserWarning, match="explicit zero weights are removed before matching"):
        r, c = min_weight_full_bipartite_matching(g)
    assert c.tolist() == [1, 2, 0]  # 2 + 1 + 1, without (0, 0)
    # A CSR triple has no such ambiguity: its zeros are edges.
    r, c = min_weight_full_bipartite_matching((g.indptr, g.indices, g.data), shape=g.shape)
    assert c.tolist() == [0, 2, 1]  # 0 + 1 + 2


@pytest.mark.parametrize("with_current", [False, True])
def test_near_degenerate_losses_small_equal_dense_scipy(with_current):
    """Early-training losses at the sizes where every cell is a candidate and just above:
    count_w x a marginal shared by all words + small word deviations (many near ties)."""
    rng = np.random.default_rng(17)
    for V, R, C in ((60, 8, 8), (250, 16, 16), (400, 20, 21)):
        counts = np.maximum(1.0, np.floor(1e4 / np.arange(1, V + 1)))
        L_r = counts[:, None] * (rng.random(R)[None, :] * 2 + 1e-3 * rng.random((V, R)))
        L_c = counts[:, None] * (rng.random(C)[None, :] * 2 + 1e-3 * rng.random((V, C)))
        current = random_table(rng, V, R, C) if with_current else None
        sol = solve_table(L_r, L_c, current=current, k=1)
        ref = dense_optimum(L_r, L_c)
        assert sol.certified and sol.lower_bound <= ref
        assert sol.objective == pytest.approx(ref, rel=1e-9)


def _real_shaped(rng, V, R, C):
    """The shape of real early-training losses: every word ranks the rows alike (count x a shared
    marginal, tiny deviations) while its columns are its own (count x a peaked distribution)."""
    counts = np.maximum(1.0, np.floor(1e4 / np.arange(1, V + 1)))
    L_r = counts[:, None] * (rng.random(R)[None, :] * 2 + 1e-3 * rng.random((V, R)))
    z = rng.normal(size=(V, C)) * 3
    L_c = counts[:, None] * (np.log(np.exp(z).sum(1, keepdims=True)) - z)
    return L_r, L_c


@pytest.mark.parametrize("with_current", [False, True])
def test_real_shaped_losses_equal_dense_scipy(with_current):
    rng = np.random.default_rng(23)
    for V, R, C in ((250, 16, 16), (1000, 32, 32), (1500, 39, 40)):
        L_r, L_c = _real_shaped(rng, V, R, C)
        current = random_table(rng, V, R, C) if with_current else None
        sol = solve_table(L_r, L_c, current=current)
        ref = dense_optimum(L_r, L_c)
        assert sol.certified and sol.stopped == "optimal" and sol.lower_bound <= ref
        assert sol.objective == pytest.approx(ref, rel=1e-9)


def test_exactly_tied_losses_are_certified():
    """Counts x a shared marginal rounded to integers: every word ranks the cells alike and most
    cells tie exactly, in a table with empty cells (1,000 words in 32 x 32).  Pricing then finds
    about as many violating cells every round as pruning drops; the solve must still end, at
    scipy's optimum, well within max_rounds."""
    rng = np.random.default_rng(0)
    V, R, C = 1000, 32, 32
    counts = rng.integers(1, 50, size=V).astype(float)
    L_r = np.round(np.outer(counts, rng.random(R)) * 4)
    L_c = np.round(np.outer(counts, rng.random(C)) * 4)
    sol = solve_table(L_r, L_c, threads=2)
    assert sol.certified and sol.stopped == "optimal" and sol.pricing_rounds < 250
    assert sol.objective == dense_optimum(L_r, L_c)


def test_settle_in_phases_beyond_the_roots_a_phase_labels(monkeypatch, capfd):
    """A nearly full table whose warm rounds strand more empty cells than a settle phase's
    backward search labels (64: the others are cut at its last label, kPhaseRoots in
    sparse_settle.cpp): the phases must still settle every one, and the solve end at scipy's
    optimum."""
    rng = np.random.default_rng(31)
    V, R, C = 6000, 78, 78  # 84 empty cells, 1.4% of the table: settled when pricing ends
    L_r, L_c = _real_shaped(rng, V, R, C)
    current = random_table(rng, V, R, C)
    monkeypatch.setenv("LIGHTRNN_SOLVER_TRACE", "1")
    sol = solve_table(L_r, L_c, current=current)
    trace = capfd.readouterr().err
    in_phases = [int(m.group(1)) for m in re.finditer(r"(\d+) in \d+ phases", trace)]
    assert in_phases and max(in_phases) > 64, trace[-2000:]
    ref = dense_optimum(L_r, L_c)
    assert sol.certified and sol.stopped == "optimal" and sol.lower_bound <= ref
    assert sol.objective == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("max_add", [1, 2])
def test_pruned_arcs_still_reach_the_dense_optimum(max_add):
    """Warm rounds keep only each word's 3 x max_add_per_word arcs of least reduced cost (with its
    matched and fallback cells): with one or two cells added a round the graph is pruned hard
    every round, and the solve must still end, certified, at scipy's optimum."""
    rng = np.random.default_rng(29)
    for V, R, C in ((1000, 32, 32), (1500, 39, 40)):
        L_r, L_c = _real_shaped(rng, V, R, C)
        current = random_table(rng, V, R, C)
        sol = solve_table(L_r, L_c, current=current, max_add_per_word=max_add)
        ref = dense_optimum(L_r, L_c)
        assert sol.certified and sol.stopped == "optimal" and sol.lower_bound <= ref
        assert sol.objective == pytest.approx(ref, rel=1e-9)
        # Pruned: a word holds about keep + its matched and fallback cells, not the 16 + rounds
        # x max_add it would have accumulated.
        assert sol.arcs < (3 * max_add + 5) * V


def test_gap_tol_stops_early_with_a_proven_gap():
    rng = np.random.default_rng(5)
    L_r, L_c = _real_shaped(rng, 1500, 39, 40)
    current = random_table(rng, 1500, 39, 40)
    ref = dense_optimum(L_r, L_c)
    exact = solve_table(L_r, L_c, current=current)
    loose = solve_table(L_r, L_c, current=current, gap_tol=1e-2)
    assert loose.stopped in ("gap_tol", "optimal")
    assert loose.lower_bound <= ref <= loose.objective
    assert loose.gap <= 1e-2 * loose.objective
    assert loose.pricing_rounds <= exact.pricing_rounds
    assert np.unique(loose.rows * 40 + loose.cols).size == 1500  # a table: one word a cell


def test_max_seconds_returns_the_best_table_so_far_with_its_bound():
    rng = np.random.default_rng(6)
    L_r, L_c = _real_shaped(rng, 1500, 39, 40)
    current = random_table(rng, 1500, 39, 40)
    ref = dense_optimum(L_r, L_c)
    # Out of time before the first round ends: the current table, with the bound of the
    # relaxation where words may share cells (each word in its cheapest row and column).
    sol = solve_table(L_r, L_c, current=current, max_seconds=1e-9)
    assert sol.stopped == "max_seconds" and not sol.certified
    assert (sol.rows == current[:, 0]).all() and (sol.cols == current[:, 1]).all()
    relaxed = L_r.min(axis=1).sum() + L_c.min(axis=1).sum()
    assert sol.lower_bound == pytest.approx(relaxed, rel=1e-12) and sol.lower_bound <= ref
    assert sol.objective == sol.current_objective
    # A generous budget changes nothing.
    full = solve_table(L_r, L_c, current=current, max_seconds=600)
    assert full.stopped == "optimal" and full.objective == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("kwargs,err,match", [
    (dict(max_seconds=-1.0), ValueError, "max_seconds must be finite and >= 0, got -1.0"),
    (dict(max_seconds=float("nan")), ValueError, "max_seconds must be finite and >= 0, got nan"),
    (dict(gap_tol=float("inf")), ValueError, "gap_tol must be finite and >= 0, got inf"),
    (dict(gap_tol=-0.1), ValueError, "gap_tol must be finite and >= 0"),
    (dict(gap_tol="1e-4"), TypeError, "gap_tol must be a number, got str"),
    (dict(max_seconds=True), TypeError, "max_seconds must be a number, got bool"),
])
def test_bad_budget_options_are_refused(kwargs, err, match):
    with pytest.raises(err, match=match):
        solve_table(np.random.rand(100, 10), np.random.rand(100, 10), **kwargs)
