"""Workflow errors are one line naming the key, file or flag and the value, also in the rule's
log: the configuration check (pipeline/workflow_config.py, tested directly where that proves the
point), the pipeline scripts' error handling (pipeline/scripts/_run.py, with a stand-in for
Snakemake's `snakemake` object), and a few dry or short Snakemake runs."""
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "config" / "tiny.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
sys.path.insert(0, str(ROOT / "pipeline"))
sys.path.insert(0, str(ROOT / "pipeline" / "scripts"))

import workflow_config as wc  # noqa: E402

has_snakemake = subprocess.run([sys.executable, "-c", "import snakemake"]).returncode == 0


def config_with(*changes):
    """The tiny config with ``changes`` (partial configs, as Snakemake would pass them) over it."""
    given = yaml.safe_load(TINY.read_text())
    for change in changes:
        given = wc.layer(given, change)
    return wc.load(ROOT / "config", given)


def config_error(*changes) -> str:
    with pytest.raises(wc.ConfigError) as e:
        config_with(*changes)
    message = str(e.value)
    assert "\n" not in message and len(message) < 400, message
    return message


def test_unknown_key_names_it_and_the_nearest_known_key():
    assert config_error({"train": {"epoch": 3}}) == "unknown key train.epoch (did you mean train.epochs?)"
    assert config_error({"epochs": 3}) == "unknown key epochs (did you mean train.epochs?)"
    assert config_error({"model": {"hiden_dim": 3}}) == "unknown key model.hiden_dim (did you mean model.hidden_dim?)"
    assert config_error({"realloc": {"zzz": 1}}).startswith("unknown key realloc.zzz (known keys here: batch_size,")


def test_bad_values_name_the_key_and_the_value():
    assert config_error({"train": {"batch_size": 0}}) == "train.batch_size: 0 is less than the minimum of 1"
    assert config_error({"train": {"epochs": [1, 0]}}) == "train.epochs[1]: 0 is less than or equal to the minimum of 0"
    assert config_error({"train": {"optimizer": "adamw"}}) == "train.optimizer: 'adamw' is not one of ['sgd', 'adam']"
    assert config_error({"corpus": {"source": "files"}}) == \
        "corpus.valid: null is not of type string (needed when corpus.source is files)"
    assert config_error({"rounds": 3, "train": {"epochs": [1, 2]}}).startswith(
        "train.epochs lists 2 rounds but rounds is 3")


def test_numbers_given_as_strings_on_the_command_line():
    """Snakemake passes nested --config values as strings: the ones that spell what the schema
    asks for are read as such; the others get a line that says how to write them."""
    c = config_with({"evaluate": {"batch_size": "5"}, "train": {"lr": "1e-3", "epochs": ["0.5", "1"],
                                                                  "reset_optimizer": "false"},
                     "corpus": {"train": "null"}, "init_table": {"method": "frequency"}})
    assert c["evaluate"]["batch_size"] == 5 and c["train"]["lr"] == 0.001 and c["train"]["epochs"] == [0.5, 1]
    assert c["train"]["reset_optimizer"] is False and c["corpus"]["train"] is None
    assert c["init_table"]["method"] == "frequency" and c["results_dir"] == "results-tiny"
    assert config_with({"results_dir": 2})["results_dir"] == "2"  # `--config results_dir=2` gives a number
    assert config_error({"evaluate": {"batch_size": "5.0"}}) == (
        "evaluate.batch_size: '5.0' is not of type integer; write a whole number without quotes, e.g. "
        "batch_size: 5 in a --configfile or --config 'evaluate={batch_size: 5}'")


def test_round_shorter_than_one_batch_is_refused_when_the_corpus_size_is_known():
    message = config_error({"train": {"epochs": 0.0001}})
    assert message.startswith("train.epochs: round 0 of 0.0001 epochs is less than one batch") and "at least" in message
    assert config_error({"train": {"epochs": [1, 0.001]}}).startswith("train.epochs: round 1 of 0.001 epochs")
    config_with({"train": {"epochs": 0.05}})  # 2 of the tiny split's 42 batches


def test_round_shorter_than_one_batch_of_your_own_file_is_refused_from_its_size(tmp_path):
    """Your own files: at most one token a byte bounds the batches; what that cannot refuse,
    `lightrnn train` does once the split is encoded (test_errors.py)."""
    train, other = tmp_path / "train.txt", tmp_path / "other.txt"
    train.write_text("a b c d e f g\n" * 300)  # 4,200 bytes: at most 27 batches of 8 x 20
    other.write_text("a b\n")
    files = {"corpus": {"source": "files", "train": str(train), "valid": str(other), "test": str(other)}}
    message = config_error(files, {"train": {"epochs": 0.01}})
    assert message.startswith("train.epochs: round 0 of 0.01 epochs is less than one batch: an epoch of "
                              f"corpus.train ({train}: 4200 bytes, at most 4201 tokens) is at most 27 batches")
    config_with(files, {"train": {"epochs": 0.03}})  # 2,400 tokens are really 14 batches: lightrnn train refuses
    missing = {"corpus": {"source": "files", "train": str(tmp_path / "none.txt"), "valid": "v", "test": "t"}}
    assert config_error(missing).startswith(f"corpus.train: {tmp_path / 'none.txt'}: no such file (working directory ")
    assert config_error({"init_table": {"method": "file", "file": str(tmp_path)}}).startswith(
        f"init_table.file: {tmp_path}: is a folder, not a file")
    train.write_text("a b\n")
    assert config_error(files) == (f"train.batch_size: 8 streams need at least 16 training tokens, and corpus.train "
                                   f"({train}: 4 bytes, at most 5 tokens) has at most 5")


def test_the_round_length_rule_matches_training():
    """workflow_config counts batches without importing torch; it must agree with training."""
    import numpy as np

    from lightrnn.corpus import ptb_tokens
    from lightrnn.distributed import shard
    from lightrnn.train import epoch_batches

    tokens = ptb_tokens("train", 300)
    for nproc, batch_size, bptt in ((1, 8, 20), (1, 20, 35), (3, 8, 20)):
        rank0 = SimpleNamespace(enabled=nproc > 1, rank=0, world=nproc)
        n = epoch_batches(len(shard(np.zeros(tokens), rank0, batch_size)), batch_size, bptt)
        base = {"resources": {"nproc": nproc}, "train": {"batch_size": batch_size, "bptt": bptt}}
        config_with(base, {"train": {"epochs": round(0.51 / n, 6)}})  # rounds to one batch
        with pytest.raises(wc.ConfigError, match=f"is {n} batches of {batch_size} streams"):
            config_with(base, {"train": {"epochs": round(0.49 / n, 6)}})


def test_two_configfile_flags_warn_that_only_the_last_counts():
    assert wc.configfile_flags_warning(["snakemake", "--configfile", "a.yaml", "b.yaml", "-n"]) is None
    w = wc.configfile_flags_warning(["snakemake", "--configfile", "a.yaml", "--configfile", "b.yaml", "c.yaml", "-n"])
    assert "keeps only the last one's files (b.yaml c.yaml)" in w and "--configfile A.yaml B.yaml" in w
    assert "(b.yaml)" in wc.configfile_flags_warning(["--configfile=a.yaml", "--configfile=b.yaml"])


def fake_job(tmp_path, rule="train_round0"):
    return SimpleNamespace(log=[str(tmp_path / "job.log")], rule=rule)


def test_a_failed_command_ends_its_job_and_its_log_with_the_error_line(tiny_encoded, tmp_path):
    from _run import run_cli

    from lightrnn.cli import main

    d = tiny_encoded["dir"]
    table = d / "t0.npz"
    assert main(["init-table", "--vocab", str(d / "vocab.tsv"), "--out", str(table)]) == 0
    job = fake_job(tmp_path)
    with pytest.raises(SystemExit) as e:
        run_cli(job, ["train", "--vocab", d / "vocab.tsv", "--train", d / "train.npy", "--table", table,
                      "--out", tmp_path / "c.pt", "--batch-size", 4, "--epochs", 0.0001])
    line = str(e.value.code)
    assert line.startswith("lightrnn train: error: --epochs 0.0001 is less than one batch")
    log = Path(job.log[0]).read_text().splitlines()
    assert log[-1] == line and "Traceback" not in "\n".join(log)


def test_an_unexpected_failure_keeps_its_traceback_in_the_log(tmp_path):
    from _run import logged

    job = fake_job(tmp_path, "summarize")
    with pytest.raises(SystemExit) as e:
        with logged(job):
            print("working")
            {}["missing"]
    assert str(e.value.code) == f"summarize: error: KeyError: 'missing' (traceback in {job.log[0]})"
    log = Path(job.log[0]).read_text()
    assert log.startswith("working\n") and "Traceback" in log
    assert log.splitlines()[-1] == f"error: KeyError: 'missing' (traceback in {job.log[0]})"


def smk(workdir, *args):
    return subprocess.run(SNAKEMAKE + ["--directory", str(workdir), *args], capture_output=True, text=True)


@pytest.mark.skipif(not has_snakemake, reason="snakemake not installed")
def test_snakemake_config_errors_are_one_line(tmp_path):
    out = smk(tmp_path, "-n", "--configfile", str(TINY), "--config", "train={epoch: 3}")
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "config: unknown key train.epoch (did you mean train.epochs?)" in text
    assert "Traceback" not in text and len(text.splitlines()) < 5, text
    # a number given as a string on the command line works
    out = smk(tmp_path, "-n", "--configfile", str(TINY), "--config", "evaluate={batch_size: 5}")
    assert out.returncode == 0, out.stderr[-2000:]
    # two --configfile flags: Snakemake keeps only the last; the workflow says so
    mine = tmp_path / "mine.yaml"
    mine.write_text("results_dir: mine\n")
    out = smk(tmp_path, "-n", "--configfile", str(TINY), "--configfile", str(mine))
    assert out.returncode == 0 and f"keeps only the last one's files ({mine})" in out.stderr, out.stderr[-2000:]
    default_rounds = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["rounds"]
    assert f"mine/train/checkpoint_{default_rounds - 1}.pt" in out.stdout  # tiny.yaml's 2 rounds were dropped


@pytest.mark.skipif(not has_snakemake, reason="snakemake not installed")
def test_corpus_errors_name_the_users_file(tmp_path):
    (tmp_path / "train.txt").write_bytes(b"a b c\nd \xff e\n" + b"f g h\n" * 100)
    for split in ("valid", "test"):
        (tmp_path / f"{split}.txt").write_text("a b\n")
    files = tmp_path / "files.yaml"
    files.write_text(yaml.safe_dump({"corpus": {"source": "files", "train": "train.txt", "valid": "valid.txt",
                                                "test": "test.txt"}}))
    out = smk(tmp_path, "results-tiny/data/train.txt", "--cores", "1", "--configfile", str(TINY), str(files))
    text = out.stdout + out.stderr
    expected = "corpus.train: train.txt:2: bytes that are not UTF-8 at byte 2 of the line"
    assert out.returncode != 0 and f"prepare_corpus: error: {expected}" in text, text[-3000:]
    log = (tmp_path / "results-tiny" / "logs" / "prepare_corpus.log").read_text()
    assert log.splitlines()[-1].startswith(f"error: {expected}")
    assert not (tmp_path / "results-tiny" / "data" / "train.txt").exists()


def test_readme_says_how_to_layer_and_override_config_and_unlock():
    readme = (ROOT / "README.md").read_text()
    assert "--config 'train={lr: 0.01, epochs: 2}'" in readme
    assert "--configfile config/tiny.yaml mine.yaml" in readme and "keeps only the files of the last flag" in readme
    assert "snakemake --unlock" in readme and "kill -9" in readme
