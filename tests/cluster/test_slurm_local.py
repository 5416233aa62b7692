"""The workflow on a one-node Slurm cluster (tests/cluster/slurm_local.sh), on demand only.

    LIGHTRNN_SLURM_LOCAL=1 python -m pytest -m cluster tests/cluster

needs root on a Debian machine: the script installs Slurm, munge and MariaDB with apt and starts
(then stops) a private cluster; it takes about 15 minutes on 2 cores. Without the variable the
test is skipped. The comparison tool it uses is tested here too (quick, always run).
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compare_results  # noqa: E402


@pytest.mark.cluster
@pytest.mark.skipif(os.environ.get("LIGHTRNN_SLURM_LOCAL") != "1",
                    reason="starts a Slurm cluster as root: set LIGHTRNN_SLURM_LOCAL=1 to run it")
def test_workflow_on_a_local_slurm_cluster():
    r = subprocess.run(["bash", str(HERE / "slurm_local.sh")], capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0 and "ALL CHECKS PASSED" in r.stdout, r.stdout[-6000:] + r.stderr[-3000:]


def _results(root: Path, ppl: float, seconds: float):
    (root / "eval").mkdir(parents=True)
    (root / "train").mkdir()
    (root / "tables").mkdir()
    (root / "eval" / "test.json").write_text(json.dumps({"ppl": ppl, "tokens": 100}))
    (root / "summary.json").write_text(json.dumps({"test_ppl": ppl, "timing": {"s": seconds}}))
    with open(root / "train" / "metrics_0.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["round", "epoch", "valid_ppl", "tokens_per_s", "elapsed_s"])
        w.writerow([0, 1, ppl, 1000 * seconds, seconds])
    np.savez(root / "tables" / "table_0.npz", cells=np.arange(6, dtype=np.int64))
    (root / "logs").mkdir()
    (root / "logs" / "x.log").write_text(f"took {seconds}")
    return root


def test_compare_ignores_timings_and_reports_differences(tmp_path, capsys):
    a = _results(tmp_path / "a", 100.0, 1.0)
    b = _results(tmp_path / "b", 100.0, 2.5)  # other timings and logs only
    assert compare_results.main([str(a), str(b)]) == 0
    c = _results(tmp_path / "c", 100.00001, 1.0)  # a perplexity 1e-7 off
    assert compare_results.main([str(a), str(c)]) == 1
    assert compare_results.main(["--rtol", "1e-6", str(a), str(c)]) == 0
    assert compare_results.main(["--ignore", "valid_ppl", "--ignore", "ppl", "--ignore", "test_ppl",
                                 str(a), str(c)]) == 0
    (c / "extra.json").write_text("{}")
    assert compare_results.main(["--rtol", "1e-6", str(a), str(c)]) == 1
    assert "only in" in capsys.readouterr().out
