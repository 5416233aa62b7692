"""Property-based fuzzing of lightrnn.assign against SciPy's dense solver on small problems.

Shapes (up to 30 words, and 260-400 words where the solver prices candidates in rounds instead of
taking every cell), dynamic ranges (1e-300 .. 1e300 in float64, 1e-30 .. 1e30 in float32), single huge
entries, ties, flat rows, near-degenerate losses (count x a shared marginal plus small word
deviations, as early in training), negative costs, forbidden pairs, warm starts and every option.

Properties, with exact sums (math.fsum) of the original costs:
- nothing crashes: the hypothesis run happens in a child pytest process, so that a crash of the
  interpreter is reported as a failure of this module's one test instead of ending the suite;
- solve_table returns a valid table, and its ``lower_bound`` is never above the cost of SciPy's
  optimal table (no tolerance: the bound is proven);
- a certified table costs at most SciPy's optimum + max(1e-9, rel_tol) x the sum of the |cost
  terms| of the table (the tolerance that ``certified`` claims), + 1e-12 x that sum for SciPy's
  table (SciPy solves the matrix of rounded sums L_r + L_c, off by a rounding each);
- linear_sum_assignment and min_weight_full_bipartite_matching are infeasible exactly when
  SciPy is, and otherwise cost at most SciPy's optimum + 1e-9 x the sum of |costs| of SciPy's
  assignment.

Examples: LIGHTRNN_FUZZ_EXAMPLES per property (default 200, the same ones every run, ~15 s for the
module; set, new random ones each run).
"""
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

CHILD = os.environ.get("LIGHTRNN_FUZZ_CHILD") == "1"
EXAMPLES = int(os.environ.get("LIGHTRNN_FUZZ_EXAMPLES", "200"))
# The default run (CI) draws the same examples every time; a run with LIGHTRNN_FUZZ_EXAMPLES set
# explores new ones.
RANDOM = "LIGHTRNN_FUZZ_EXAMPLES" in os.environ


def test_fuzz_in_a_child_process():
    """Runs the properties below in a child pytest: a crash fails this test, not the suite."""
    pytest.importorskip("hypothesis")
    pytest.importorskip("scipy")
    env = dict(os.environ, LIGHTRNN_FUZZ_CHILD="1")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", __file__,
                          "-k", "property"], cwd=Path(__file__).resolve().parents[1], env=env,
                         capture_output=True, text=True, timeout=3600)
    assert out.returncode == 0, f"child exited with {out.returncode}\n" + out.stdout[-8000:] + out.stderr[-3000:]
    assert " passed" in out.stdout and "failed" not in out.stdout, out.stdout[-3000:]


if CHILD:
    import scipy.optimize
    import scipy.sparse as sp
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from lightrnn.assign import linear_sum_assignment, min_weight_full_bipartite_matching, solve_table

    SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
                        suppress_health_check=list(HealthCheck))
    KINDS = ("uniform", "scaled_words", "huge_entries", "ties", "flat_rows", "degenerate", "negative", "wide",
             "extreme")

    def _costs(rng, kind, V, n, dtype, lo_exp, hi_exp):
        """(V, n) costs of one kind; exponents within [lo_exp, hi_exp] (decimal)."""
        if kind == "uniform":
            a = rng.random((V, n)) * 10.0 ** rng.integers(lo_exp, hi_exp + 1)
        elif kind == "scaled_words":  # rare and frequent words side by side
            a = rng.random((V, n)) * 10.0 ** rng.integers(lo_exp, hi_exp + 1, size=(V, 1))
        elif kind == "huge_entries":
            a = rng.random((V, n))
            for _ in range(int(rng.integers(1, 4))):
                a[rng.integers(V), rng.integers(n)] = 10.0 ** rng.integers(max(lo_exp, 1), max(hi_exp, 1) + 1)
        elif kind == "ties":
            a = rng.integers(0, 3, (V, n)).astype(float)
        elif kind == "flat_rows":
            a = rng.random((V, n))
            flat = rng.random(V) < 0.4
            a[flat] = rng.integers(0, 3, size=(int(flat.sum()), 1))
        elif kind == "degenerate":  # count_w x a shared marginal + small word-specific deviations
            counts = np.maximum(1.0, np.floor(1e4 / np.arange(1, V + 1)))
            marginal = rng.random(n) * 3.0
            a = counts[:, None] * (marginal[None, :] + 1e-3 * rng.random((V, n)))
        elif kind == "negative":
            a = rng.normal(size=(V, n)) * 10.0 ** rng.integers(lo_exp, hi_exp + 1)
        elif kind == "wide":  # every entry its own magnitude
            a = rng.random((V, n)) * 10.0 ** rng.integers(lo_exp, hi_exp + 1, size=(V, n)).astype(float)
        else:  # "extreme": entries up to the largest finite value, sums that may overflow
            a = rng.random((V, n))
            top = float(np.finfo(dtype).max)
            hit = rng.random((V, n)) < rng.choice([0.05, 0.3, 1.0])
            a[hit] = top * rng.uniform(0.3, 1.0, int(hit.sum())) * rng.choice([-1.0, 1.0], int(hit.sum()))
        return a.astype(dtype)

    def _exact(terms):
        return math.fsum(float(x) for x in terms)

    def _abs_sum(terms):
        return math.fsum(abs(float(x)) for x in terms)

    @st.composite
    def table_problems(draw):
        if draw(st.integers(0, 4)) == 0:  # above the all-cells size: candidates, pricing rounds
            V = draw(st.integers(260, 400))
            R = draw(st.integers(12, 24))
        else:
            V = draw(st.integers(1, 30))
            R = draw(st.integers(1, 8))
        C = -(-V // R) + draw(st.integers(0, 2))
        dtype = draw(st.sampled_from([np.float64, np.float32]))
        kind = draw(st.sampled_from(KINDS))
        lim = 300 if dtype == np.float64 else 30
        lo = draw(st.integers(-lim, lim))
        hi = draw(st.integers(lo, lim))
        seed = draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        L_r = _costs(rng, kind, V, R, dtype, lo, hi)
        L_c = _costs(rng, draw(st.sampled_from([kind, "uniform"])), V, C, dtype, lo, hi)
        current = None
        if draw(st.booleans()):
            cells = rng.permutation(R * C)[:V]
            current = np.stack([cells // C, cells % C], axis=1)
        opts = dict(k=draw(st.sampled_from([0, 1, 2, 3])), method=draw(st.sampled_from(["auto", "auction", "ssp"])),
                    max_rounds=draw(st.sampled_from([1, 2, 500])), rel_tol=draw(st.sampled_from([0.0, 1e-12, 1e-6])),
                    threads=draw(st.sampled_from([0, 1, 2])), max_add_per_word=draw(st.sampled_from([1, 8])))
        return L_r, L_c, current, opts

    @SETTINGS
    @given(table_problems())
    def test_property_solve_table_never_certifies_above_the_optimum(problem):
        L_r, L_c, current, opts = problem
        V, R = L_r.shape
        C = L_c.shape[1]
        try:
            sol = solve_table(L_r, L_c, current=current, **opts)
        except ValueError as e:  # only for costs whose sums overflow float64, naming the entry
            assert "costs too large" in str(e) and ("L_r[" in str(e) or "L_c[" in str(e)), e
            with np.errstate(over="ignore"):
                assert not np.isfinite((np.abs(L_r.astype(np.float64)).max(axis=1)
                                        + np.abs(L_c.astype(np.float64)).max(axis=1)).sum())
            return
        cells = sol.rows.astype(np.int64) * C + sol.cols
        assert np.unique(cells).size == V and sol.rows.min() >= 0 and sol.rows.max() < R
        assert sol.cols.min() >= 0 and sol.cols.max() < C
        ours = list(L_r[np.arange(V), sol.rows]) + list(L_c[np.arange(V), sol.cols])
        full = (L_r.astype(np.float64)[:, :, None] + L_c.astype(np.float64)[:, None, :]).reshape(V, R * C)
        _, ref_cells = scipy.optimize.linear_sum_assignment(full)
        ref = list(L_r[np.arange(V), ref_cells // C]) + list(L_c[np.arange(V), ref_cells % C])
        opt = _exact(ref)
        assert sol.lower_bound <= opt, (sol.lower_bound, opt)
        assert math.isfinite(sol.objective)
        if sol.certified:
            tol = max(1e-9, opts["rel_tol"]) * _abs_sum(ours) + 1e-12 * _abs_sum(ref)
            assert _exact(ours) <= opt + tol, (_exact(ours), opt, tol, sol)

    @st.composite
    def matrices(draw):
        n = draw(st.integers(0, 8))
        m = draw(st.integers(0, 8))
        kind = draw(st.sampled_from(KINDS))
        lo = draw(st.integers(-300, 300))
        hi = draw(st.integers(lo, 300))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        a = _costs(rng, kind, n, m, np.float64, lo, hi) if n and m else np.zeros((n, m))
        if draw(st.booleans()) and a.size:
            a[rng.random((n, m)) < draw(st.sampled_from([0.1, 0.3, 0.6]))] = np.inf
        return a, draw(st.booleans())

    def _check_against_scipy(a, maximize, solver):
        mag = np.where(np.isfinite(a), np.abs(a), 0.0)
        with np.errstate(over="ignore"):
            overflow = a.size and not np.isfinite(mag.max(axis=1 if a.shape[0] <= a.shape[1] else 0).sum())
        if overflow:  # an assignment's cost could be infinite: refused, naming the entry
            with pytest.raises(ValueError, match=r"too large to solve: .* at index \[\d+, \d+\]"):
                solver(a, maximize)
            return
        try:
            rs, cs = scipy.optimize.linear_sum_assignment(a, maximize=maximize)
        except ValueError:
            with pytest.raises(ValueError, match="infeasible|no full matching"):
                solver(a, maximize)
            return
        r, c = solver(a, maximize)
        assert len(r) == min(a.shape) and np.all(np.diff(r) > 0) and len(set(c.tolist())) == len(c)
        assert np.all(np.isfinite(a[r, c]))
        sign = -1.0 if maximize else 1.0
        ours, ref = _exact(sign * a[r, c]), _exact(sign * a[rs, cs])
        if math.isfinite(ref):  # SciPy's own sum may overflow where ours stays finite
            assert ours <= ref + 1e-9 * _abs_sum(a[rs, cs]), (ours, ref)

    @SETTINGS
    @given(matrices())
    def test_property_linear_sum_assignment_matches_scipy(problem):
        a, maximize = problem
        if maximize:
            a = -a  # +inf forbids a pair when minimising, -inf when maximising
        _check_against_scipy(a, maximize, lambda x, mx: linear_sum_assignment(x, maximize=mx))

    @SETTINGS
    @given(matrices())
    def test_property_sparse_matching_matches_scipy(problem):
        a, maximize = problem
        if maximize:
            a = -a

        def solver(x, mx):
            mask = np.isfinite(x)
            indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))])
            return min_weight_full_bipartite_matching((indptr, np.nonzero(mask)[1], x[mask]), maximize=mx,
                                                      shape=x.shape)

        _check_against_scipy(a, maximize, solver)
        if a.size and np.isfinite(a).all() and (a != 0).all():  # the scipy.sparse form (zeros would be dropped)
            _check_against_scipy(a, maximize, lambda x, mx: min_weight_full_bipartite_matching(sp.csr_array(x),
                                                                                               maximize=mx))
