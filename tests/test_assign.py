"""The assignment solvers against independent references (networkx network simplex, SciPy)."""
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
        # the sparse form on the same graph
        mask = np.isfinite(c)
        g = sp.csr_matrix((c[mask], np.nonzero(mask)), shape=c.shape)
        r2, k2 = min_weight_full_bipartite_matching(g)
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
    with pytest.raises(ValueError, match=r"invalid entry nan at index \[1, 2\]"):
        linear_sum_assignment(np.array([[0, 1, 2], [3, 4, np.nan]]))
    with pytest.raises(ValueError, match="invalid entry -inf"):
        linear_sum_assignment(np.array([[0, -np.inf], [1, 2]]))
    with pytest.raises(ValueError, match="infeasible"):
        linear_sum_assignment(np.array([[np.inf, 1], [np.inf, 2]]))
    with pytest.raises(ValueError, match="2-D"):
        linear_sum_assignment(np.zeros(3))
    with pytest.raises(ValueError, match="numeric"):
        linear_sum_assignment(np.array([["a"]]))
    with pytest.raises(ValueError, match="no full matching"):
        min_weight_full_bipartite_matching(sp.csr_matrix(np.array([[1.0, 0], [2.0, 0]])))
    with pytest.raises(ValueError, match="indptr"):
        min_weight_full_bipartite_matching((np.array([0, 2, 1]), np.array([0, 1]), np.array([1.0, 2.0])), shape=(2, 2))
    L = np.zeros((5, 3))
    with pytest.raises(ValueError, match="infeasible"):
        solve_table(np.zeros((10, 3)), np.zeros((10, 3)))
    L[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"L_r contains an invalid entry nan at index \[2, 1\]"):
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
    cell): the exact rounds solve the rectangular problem, the flat words share the cheapest
    cells; the optimum must still be the dense one, and twice the same."""
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
