"""The Snakemake workflow: end to end on the tiny config, reproducibility (also after a hard kill),
incremental reruns, lint, the config schema, and the report.

The end-to-end runs use ``--directory TMP`` so nothing lands in the source tree. Run ``b`` is
killed with SIGKILL as soon as round 0 has written its first resumable checkpoint, unlocked and
started again; it must end with the same results as the uninterrupted run ``a``. Metrics CSVs
hold two timing columns (tokens_per_s, elapsed_s): every other column is compared exactly, and
summary.json is compared without its ``timing`` object.
"""
import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "config" / "tiny.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
DETERMINISTIC = ["round", "epoch", "step", "lr", "train_loss", "train_ppl", "valid_loss", "valid_ppl"]

pytestmark = pytest.mark.skipif(subprocess.run([sys.executable, "-c", "import snakemake"]).returncode != 0,
                                reason="snakemake not installed")


def smk_cmd(workdir, *args, configs=(TINY,), root=ROOT):
    return SNAKEMAKE + ["--snakefile", str(root / "Snakefile"), "--directory", str(workdir),
                        "--configfile", *map(str, configs), *args]


def smk(workdir, *args, configs=(TINY,), root=ROOT):
    return subprocess.run(smk_cmd(workdir, *args, configs=configs, root=root), capture_output=True, text=True)


def planned_jobs(workdir, changes=None, root=ROOT):
    """{rule: count} of a dry run with ``changes`` (a partial config) layered over the tiny config."""
    configs = [TINY]
    if changes is not None:
        path = Path(workdir) / "changed.yaml"
        path.write_text(yaml.safe_dump(changes))
        configs.append(path)
    out = smk(workdir, "-n", configs=configs, root=root)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
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


def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def deterministic_metrics(csv_path):
    with open(csv_path, newline="") as f:
        return [{k: r[k] for k in DETERMINISTIC} for r in csv.DictReader(f)]


def copy_workflow(dest: Path, src: Path = ROOT) -> Path:
    """A frozen copy of the workflow and the package sources it hashes. Other people edit the
    package while the tests run; the copy keeps the code hashes (params) of the runs stable. The
    jobs still import the installed package (only the hashes come from the copy)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "build", ".snakemake")
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "pipeline", "config", "profiles", "envs", "lightrnn", "cpp"):
        if (src / name).is_dir():
            shutil.copytree(src / name, dest / name, ignore=ignore)
        else:
            shutil.copy2(src / name, dest / name)
    return dest


def _run_killed_then_resumed(workdir: Path, root: Path) -> bool:
    """Start a run, SIGKILL it (and its jobs) once round 0 saved a resumable checkpoint, unlock,
    run again. Returns whether the kill happened before the run finished."""
    partial = workdir / "results-tiny" / "train" / "checkpoint_0.pt.partial"
    proc = subprocess.Popen(smk_cmd(workdir, "--cores", "2", root=root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    killed = False
    deadline = time.monotonic() + 150
    while proc.poll() is None and time.monotonic() < deadline:
        if partial.exists():
            os.killpg(proc.pid, signal.SIGKILL)  # the whole session we started: snakemake and its job
            killed = True
            break
        time.sleep(0.05)
    proc.wait()
    assert smk(workdir, "--unlock", root=root).returncode == 0
    out = smk(workdir, "--cores", "2", root=root)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return killed


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    wf = copy_workflow(tmp_path_factory.mktemp("wf"))
    a = tmp_path_factory.mktemp("a")
    out = smk(a, "--cores", "2", root=wf)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    b = tmp_path_factory.mktemp("b")
    killed = _run_killed_then_resumed(b, wf)
    return a / "results-tiny", b / "results-tiny", killed, wf


@pytest.mark.slow
def test_tiny_end_to_end_outputs(tiny_runs):
    res = tiny_runs[0]
    summary = json.loads((res / "summary.json").read_text())
    assert summary["model"] == "lightrnn" and 1 < summary["test_ppl"] < 2000
    assert summary["rounds"] == 2 and summary["params_total"] > summary["params_embed_output"] > 0
    assert len(summary["reallocations"]) == 1 and summary["reallocations"][0]["certified"]
    assert summary["timing"]["train_tokens_per_s"] > 0
    splits = summary["splits"]
    assert set(splits) == {"train", "valid", "test"}
    assert all(0 < x["oov_rate"] < 0.5 for x in splits.values())  # PTB's literal <unk> and words unseen in train
    assert splits["test"]["tokens"] > summary["test_tokens"]
    assert "OOV rate" in (res / "summary.md").read_text()
    assert "OOV rate" in (res / "logs" / "encode_test.log").read_text()
    assert oct((res / "summary.json").stat().st_mode & 0o777) == oct(0o666 & ~current_umask())
    for f in ("tables/table_1.npz", "train/checkpoint_1.pt", "realloc/losses_1.npz", "plots/perplexity.png",
              "plots/reallocation.png", "plots/table.png", "summary.md", "benchmarks/train_0.tsv",
              "benchmarks/realloc_1.tsv", "logs/realloc_1.log", "logs/prepare_corpus.log"):
        assert (res / f).stat().st_size > 0, f
    assert not list(res.rglob("*.partial")) and not list(res.rglob(".*.tmp"))


@pytest.mark.slow
def test_killed_run_and_fresh_run_end_identical(tiny_runs):
    a, b, killed, _ = tiny_runs
    assert killed, "run b finished before round 0 wrote a resumable checkpoint: the kill was not exercised"
    for f in ("data/vocab.tsv", "data/train.npy", "data/test.npy", "tables/table_0.npz", "tables/table_1.npz"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    for r in (0, 1):  # timings (tokens/s, seconds) vary; every other column must match exactly
        assert deterministic_metrics(a / f"train/metrics_{r}.csv") == deterministic_metrics(b / f"train/metrics_{r}.csv")
    la, lb = np.load(a / "realloc/losses_1.npz"), np.load(b / "realloc/losses_1.npz")
    for k in la.files:
        assert np.array_equal(la[k], lb[k]), k
    for split in ("valid", "test"):
        assert (a / f"eval/{split}.json").read_bytes() == (b / f"eval/{split}.json").read_bytes()
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    sa.pop("timing"), sb.pop("timing")
    assert sa == sb


@pytest.mark.slow
def test_incremental_reruns(tiny_runs):
    workdir, wf = tiny_runs[0].parent, tiny_runs[3]
    assert planned_jobs(workdir, root=wf) == {}
    downstream_of_realloc = {"realloc", "train_round", "evaluate", "summarize", "all"}
    assert set(planned_jobs(workdir, {"realloc": {"candidates": 6}}, root=wf)) == downstream_of_realloc
    assert set(planned_jobs(workdir, {"train": {"lr": 0.02}}, root=wf)) == {"train_round0"} | downstream_of_realloc
    assert set(planned_jobs(workdir, {"model": {"hidden_dim": 16}}, root=wf)) == {"train_round0"} | downstream_of_realloc
    assert set(planned_jobs(workdir, {"init_table": {"seed": 2}}, root=wf)) == {"init_table", "train_round0"} | downstream_of_realloc
    assert set(planned_jobs(workdir, {"evaluate": {"bptt": 10}}, root=wf)) == {"evaluate", "summarize", "all"}
    # keys that concern no result: scheduler resources and operational training settings
    assert planned_jobs(workdir, {"resources": {"gpu": 1},
                                  "train": {"log_interval": 7, "checkpoint_every": 3, "num_threads": 2}},
                        root=wf) == {}
    # the same values written in another key order
    tiny = yaml.safe_load(TINY.read_text())
    assert planned_jobs(workdir, {k: tiny[k] for k in reversed(list(tiny))}, root=wf) == {}


@pytest.mark.slow
def test_editing_the_package_reruns_the_stages_that_use_it(tiny_runs, tmp_path):
    """A copy of the workflow whose lightrnn/model.py differs reruns training and later only."""
    workdir, wf = tiny_runs[0].parent, tiny_runs[3]
    copy = copy_workflow(tmp_path / "wf", src=wf)
    assert planned_jobs(workdir, root=copy) == {}  # an identical copy: nothing to do
    with open(copy / "lightrnn" / "model.py", "a") as f:
        f.write("\n# an edit\n")
    assert set(planned_jobs(workdir, root=copy)) == {"train_round0", "realloc", "train_round", "evaluate",
                                                      "summarize", "all"}
    with open(copy / "lightrnn" / "report.py", "a") as f:
        f.write("\n# an edit\n")
    (copy / "lightrnn" / "model.py").write_bytes((wf / "lightrnn" / "model.py").read_bytes())
    assert set(planned_jobs(workdir, root=copy)) == {"summarize", "all"}


@pytest.mark.slow
def test_report_is_one_self_contained_page(tiny_runs):
    """With the `compare` key (run b beside run a) the run adds only the comparison, into the report."""
    workdir, wf, other = tiny_runs[0].parent, tiny_runs[3], tiny_runs[1]
    compare = workdir / "compare.yaml"
    compare.write_text(yaml.safe_dump({"compare": [str(other)]}))
    out = smk(workdir, "--cores", "1", configs=(TINY, compare), root=wf)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "rule compare" in out.stdout + out.stderr and "rule train" not in out.stdout + out.stderr
    table = (tiny_runs[0] / "compare.md").read_text().splitlines()
    assert len(table) == 4 and table[2].startswith("| results-tiny | lightrnn |"), table
    summary = json.loads((tiny_runs[0] / "summary.json").read_text())
    curve = summary["timing"]["curve"]
    assert [c["round"] for c in curve] == [0, 1] and curve[1]["wall_seconds"] > curve[1]["train_seconds"] > 0
    assert curve[-1]["tokens"] == pytest.approx(summary["epochs_total"] * summary["splits"]["train"]["tokens"], rel=1e-6)
    out = smk(workdir, "--report", "report.html", configs=(TINY, compare), root=wf)
    assert out.returncode == 0, out.stderr[-2000:]
    html = (workdir / "report.html").read_text(errors="replace")
    assert len(html) > 50_000 and "perplexity.png" in html and "reallocation.png" in html and "compare.png" in html
    assert "data:image/png;base64" in html or "base64" in html


def test_lint_is_clean():
    out = subprocess.run(SNAKEMAKE + ["--lint"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "Congratulations" in out.stdout + out.stderr, out.stdout + out.stderr


def test_schema_error_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"train": {"batch_size": 0}}))
    out = smk(tmp_path, "-n", configs=(TINY, path))
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "config: train.batch_size: 0 is less than the minimum of 1" in text, text[-2000:]
    path.write_text(yaml.safe_dump({"train": {"epoch": 3}}))  # a typo of `epochs`
    out = smk(tmp_path, "-n", configs=(TINY, path))
    assert out.returncode != 0 and "unknown key train.epoch (did you mean train.epochs?)" in out.stdout + out.stderr


def test_epochs_per_round_schedule(tmp_path):
    """`train.epochs` as a list gives each round its own count, fractions included (a round of
    1.5 epochs ends half-way through epoch 2 and the next goes on from there); a list whose
    length is not `rounds` is an error that says so."""
    path = tmp_path / "sched.yaml"
    path.write_text(yaml.safe_dump({"rounds": 2, "train": {"epochs": [1.5, 0.5]}}))
    out = smk(tmp_path, "--cores", "2", str(Path("results-tiny") / "train" / "metrics_1.csv"), configs=(TINY, path))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    rows = [list(csv.DictReader(open(tmp_path / "results-tiny" / "train" / f"metrics_{i}.csv"))) for i in (0, 1)]
    assert [[int(r["epoch"]) for r in rr] for rr in rows] == [[1, 2], [2]]  # counted across rounds
    fractions = [[float(r["epoch_fraction"]) for r in rr] for rr in rows]
    assert fractions[0][0] == 1 and fractions[0][1] + fractions[1][0] == pytest.approx(1.0)
    assert 0.3 < fractions[1][0] < 0.7
    path.write_text(yaml.safe_dump({"rounds": 3, "train": {"epochs": [1, 2]}}))
    out = smk(tmp_path, "-n", configs=(TINY, path))
    assert out.returncode != 0 and "lists 2 rounds but rounds is 3" in out.stdout + out.stderr, out.stderr[-2000:]


def test_config_documents_every_key_and_matches_the_dataclasses():
    from lightrnn.config import ModelConfig, TrainConfig

    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())["properties"]
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert set(config) == set(schema)
    for section, spec in schema.items():
        if spec.get("type") == "object":
            assert set(config[section]) == set(spec["properties"]), section
            assert all("description" in p for p in spec["properties"].values()), section
    assert set(schema["model"]["properties"]) == {f.name for f in dataclasses.fields(ModelConfig)} - {"vocab_size"}
    assert set(schema["train"]["properties"]) == {f.name for f in dataclasses.fields(TrainConfig)}
    text = (ROOT / "config" / "config.yaml").read_text()
    for line in text.splitlines():  # every key line carries a comment
        if ":" in line and not line.lstrip().startswith("#"):
            assert "#" in line, line
    tiny = yaml.safe_load(TINY.read_text())
    for section, values in tiny.items():
        assert section in config and (not isinstance(values, dict) or set(values) <= set(config[section]))


def test_report_summary_from_files_and_bad_metrics(tmp_path):
    from lightrnn.report import ReportError, build_summary, summary_markdown

    header = "round,epoch,step,lr,train_loss,train_ppl,valid_loss,valid_ppl,tokens_per_s,elapsed_s\n"
    (tmp_path / "m0.csv").write_text(header + "0,1,10,0.01,6.0,403.4,5.5,244.7,1000,2.5\n")
    (tmp_path / "m1.csv").write_text(header + "1,2,10,0.01,5.0,148.4,5.0,148.4,2000,1.5\n")
    (tmp_path / "r1.json").write_text(json.dumps({
        "round": 0, "words_moved": 7, "objective_old_per_token": 6.0, "objective_new_per_token": 5.5,
        "pass_seconds": 0.1, "solver": {"certified": True, "times": {"total": 0.2}}}))
    for name, ppl in (("valid", 150.0), ("test", 160.0)):
        (tmp_path / f"{name}.json").write_text(json.dumps({
            "name": name, "ppl": ppl, "loss": 5.0, "tokens": 100, "model": "lightrnn",
            "params_total": 1000, "params_embed_output": 100}))
    s = build_summary([tmp_path / "m0.csv", tmp_path / "m1.csv"], [tmp_path / "r1.json"],
                      [tmp_path / "valid.json", tmp_path / "test.json"])
    assert s["test_ppl"] == 160.0 and s["valid_ppl"] == 150.0 and s["rounds"] == 2
    assert s["epochs"][1] == {"round": 1, "epoch": 2, "epoch_fraction": 1.0, "step": 10, "lr": 0.01,
                              "train_loss": 5.0, "train_ppl": 148.4, "valid_loss": 5.0, "valid_ppl": 148.4}
    assert s["epochs_total"] == 2  # files without epoch_fraction (older runs) hold whole epochs
    assert s["reallocations"] == [{"after_round": 0, "words_moved": 7, "objective_old_per_token": 6.0,
                                   "objective_new_per_token": 5.5, "certified": True}]
    assert s["timing"]["train_tokens_per_s"] == 1500 and s["timing"]["train_epoch_seconds"] == 4.0
    md = summary_markdown(s)
    assert "| lightrnn | 1,000 | 100 | 150.00 | 160.00 | 1,500 |" in md and "after round 0" in md
    # a fractional round: the row says which part of the epoch it trained
    (tmp_path / "f.csv").write_text(header.replace("epoch,", "epoch,epoch_fraction,") +
                                    "0,1,0.25,10,0.01,6.0,403.4,5.5,244.7,1000,2.5\n")
    f = build_summary([tmp_path / "f.csv", tmp_path / "m1.csv"], [], [])
    assert f["epochs_total"] == 1.25 and "| 0 | 1 (0.25) | 0.01 |" in summary_markdown(f)
    (tmp_path / "bad.csv").write_text(header + "0,1,10,0.01,six,403.4,5.5,244.7,1000,2.5\n")
    with pytest.raises(ReportError, match=r"bad.csv, line 2: column 'train_loss'"):
        build_summary([tmp_path / "bad.csv"], [], [])


def test_default_config_plans_the_ptb_run_from_any_directory(tmp_path):
    """No --configfile: config/config.yaml next to the Snakefile is used, whatever the working
    directory; --config values layer over it."""
    def plan(*extra):
        out = subprocess.run(SNAKEMAKE + ["--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                                          "-n", *extra], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        return out.stdout + out.stderr

    text = plan()
    assert "results/data/train.txt" in text and "results/train/checkpoint_8.pt" in text
    assert "results/train/checkpoint_9.pt" not in text
    assert "elsewhere/train/checkpoint_8.pt" in plan("--config", "results_dir=elsewhere")
    # the default lists 9 rounds' epochs: another round count alone is refused, naming both
    out = subprocess.run(SNAKEMAKE + ["--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
                                      "-n", "--config", "rounds=4"], capture_output=True, text=True)
    assert out.returncode != 0 and "lists 9 rounds but rounds is 4" in out.stdout + out.stderr
