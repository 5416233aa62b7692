"""SciPy's own tests of linear_sum_assignment and min_weight_full_bipartite_matching, run against
lightrnn.assign (which claims the same contract).

At test time the two test files of the installed SciPy are copied into a temporary directory,
their imports of the two functions are pointed at lightrnn.assign, and pytest runs them in a
subprocess.  Selected: every test of scipy/optimize/tests/test_linear_assignment.py (all are about
linear_sum_assignment, one also about min_weight_full_bipartite_matching), and the tests of
scipy/sparse/csgraph/tests/test_matching.py of min_weight_full_bipartite_matching (names with
"min_weight", and test_explicit_zero_causes_warning); the file also tests
maximum_bipartite_matching, which we do not provide.
Nothing of SciPy is committed here.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

scipy = pytest.importorskip("scipy")

SELECT = "linear_sum_assignment or constant_cost or two_methods or min_weight or explicit_zero_causes_warning"


def _scipy_test_file(package: str, name: str) -> Path:
    path = Path(scipy.__file__).parent.joinpath(*package.split(".")[1:], "tests", name)
    if not path.exists():
        pytest.skip(f"this SciPy install ships no {path}")
    return path


def _swap(text: str, pattern: str, replacement: str, what: str) -> str:
    new, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert n == 1, f"SciPy's {what} import changed: cannot point it at lightrnn.assign"
    return new


def test_scipy_suite_against_ours(tmp_path):
    lsa = _scipy_test_file("scipy.optimize", "test_linear_assignment.py").read_text()
    lsa = _swap(lsa, r"^from scipy\.optimize import linear_sum_assignment$",
                "from lightrnn.assign import linear_sum_assignment", "linear_sum_assignment")
    lsa = _swap(lsa, r"^from scipy\.sparse\.csgraph import min_weight_full_bipartite_matching$",
                "from lightrnn.assign import min_weight_full_bipartite_matching", "min_weight_full_bipartite_matching")
    matching = _scipy_test_file("scipy.sparse.csgraph", "test_matching.py").read_text()
    matching = _swap(matching,
                     r"^from scipy\.sparse\.csgraph import \(\s*maximum_bipartite_matching,\s*"
                     r"min_weight_full_bipartite_matching\s*\)",
                     "from scipy.sparse.csgraph import maximum_bipartite_matching\n"
                     "from lightrnn.assign import min_weight_full_bipartite_matching",
                     "min_weight_full_bipartite_matching")
    (tmp_path / "test_linear_assignment.py").write_text(lsa)
    (tmp_path / "test_matching.py").write_text(matching)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          "-k", SELECT, "test_linear_assignment.py", "test_matching.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    summary = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert "failed" not in summary and "error" not in summary, summary
    # 22 tests in test_linear_assignment.py, 21 selected in test_matching.py (SciPy 1.17.1).
    assert passed >= 40, summary
