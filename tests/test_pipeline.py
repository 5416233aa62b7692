"""The Snakemake workflow: end to end on the tiny config, reproducibility, incremental reruns."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "config" / "tiny.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
DETERMINISTIC = ["round", "epoch", "step", "lr", "train_loss", "train_ppl", "valid_loss", "valid_ppl"]

pytestmark = pytest.mark.skipif(shutil.which("snakemake") is None and
                                subprocess.run([sys.executable, "-c", "import snakemake"]).returncode != 0,
                                reason="snakemake not installed")


def smk(workdir, *args, configs=(TINY,)):
    cmd = SNAKEMAKE + ["--directory", str(workdir), "--configfile", *map(str, configs), *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def planned_jobs(workdir, config):
    """{rule: count} of a dry run with ``config`` (a dict written over the tiny config)."""
    path = Path(workdir) / "changed.yaml"
    path.write_text(yaml.safe_dump(config))
    out = smk(workdir, "-n", configs=(TINY, path))
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return {}
    jobs, table = {}, text.split("Job stats:")[1].splitlines()[3:]
    for line in table:
        name, count = line.split()
        if name == "total":
            break
        jobs[name] = int(count)
    return jobs


def deterministic_metrics(csv_path):
    import csv

    return [{k: r[k] for k in DETERMINISTIC} for r in csv.DictReader(open(csv_path))]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    runs = []
    for name in ("a", "b"):
        d = tmp_path_factory.mktemp(name)
        out = smk(d, "--cores", "2")
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        runs.append(d / "results-tiny")
    return runs


@pytest.mark.slow
def test_tiny_end_to_end_outputs(tiny_runs):
    res = tiny_runs[0]
    summary = json.loads((res / "summary.json").read_text())
    assert summary["model"] == "lightrnn" and 1 < summary["test_ppl"] < 2000
    assert len(summary["reallocations"]) == 1 and summary["reallocations"][0]["certified"]
    for f in ("tables/table_1.npz", "train/checkpoint_1.pt", "plots/perplexity.png", "plots/table.png",
              "summary.md", "benchmarks/train_0.tsv", "logs/realloc_1.log"):
        assert (res / f).stat().st_size > 0, f
    assert not list(res.rglob("*.partial")) and not list(res.rglob(".*.tmp"))


@pytest.mark.slow
def test_two_runs_from_scratch_are_identical(tiny_runs):
    a, b = tiny_runs
    for f in ("tables/table_0.npz", "tables/table_1.npz", "data/vocab.tsv", "data/train.npy"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    for r in (0, 1):  # timings (tokens/s, seconds) vary; every other column must match exactly
        assert deterministic_metrics(a / f"train/metrics_{r}.csv") == deterministic_metrics(b / f"train/metrics_{r}.csv")
    for split in ("valid", "test"):
        assert json.loads((a / f"eval/{split}.json").read_text())["loss"] == \
            json.loads((b / f"eval/{split}.json").read_text())["loss"]


@pytest.mark.slow
def test_incremental_reruns(tiny_runs):
    workdir = tiny_runs[0].parent
    base = yaml.safe_load(TINY.read_text())
    assert planned_jobs(workdir, base) == {}
    realloc = yaml.safe_load(TINY.read_text())
    realloc["realloc"]["candidates"] = 5
    assert set(planned_jobs(workdir, realloc)) == {"realloc", "train_round", "evaluate", "summarize", "all"}
    train = yaml.safe_load(TINY.read_text())
    train["train"]["lr"] = 0.02
    assert set(planned_jobs(workdir, train)) == {"train_round0", "realloc", "train_round", "evaluate", "summarize", "all"}
    unrelated = yaml.safe_load(TINY.read_text())
    unrelated["resources"]["gpu"] = 0
    unrelated["train"]["log_interval"] = 100  # unchanged value: nothing to do
    assert planned_jobs(workdir, unrelated) == {}


def test_lint_is_clean():
    out = subprocess.run(SNAKEMAKE + ["--lint"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "Congratulations" in out.stdout + out.stderr, out.stdout + out.stderr


def test_schema_error_names_the_key(tmp_path):
    bad = yaml.safe_load(TINY.read_text())
    bad["train"]["batch_size"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    out = smk(tmp_path, "-n", configs=(TINY, path))
    assert out.returncode != 0
    assert "batch_size" in out.stderr and "minimum" in out.stderr
