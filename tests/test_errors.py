"""User errors of the command line are one line naming the file, flag and value (exit status 2,
no traceback); outputs are checked before work starts, survive a failed write, respect the
umask; the encode step, `lightrnn evaluate` and the summary give each split's OOV rate."""
import errno
import io
import json
import os
import stat

import pytest
import torch

from lightrnn import atomic
from lightrnn import checkpoint as ck
from lightrnn.cli import main
from lightrnn.errors import CheckpointError, CorpusError, LightRNNError, UserError, WriteError


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def one_error_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lightrnn {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


TRAIN_FLAGS = ("--emb-dim", 8, "--hidden-dim", 8, "--batch-size", 4, "--bptt", 10, "--log-interval", 1000)


@pytest.fixture
def round0(tiny_encoded, capsys):
    """A trained round-0 LightRNN checkpoint of the tiny corpus and the flags that made it."""
    d = tiny_encoded["dir"]
    assert main(["init-table", "--vocab", str(d / "vocab.tsv"), "--out", str(d / "t0.npz")]) == 0
    common = ["--vocab", d / "vocab.tsv", "--train", d / "train.npy", "--valid", d / "valid.npy"]
    rc, _, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--out", d / "c0.pt", *TRAIN_FLAGS,
                     "--max-steps", 3)
    assert rc == 0, err
    rc, _, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--out", d / "c0.pt", *TRAIN_FLAGS,
                     "--no-resume", "--epochs", 0.1)
    assert rc == 0, err
    return d, common


def test_error_classes_keep_their_homes():
    from lightrnn.cli import UserError as CliUserError
    from lightrnn.report import ReportError
    from lightrnn.vocab import CorpusError as VocabCorpusError

    assert CliUserError is UserError and VocabCorpusError is CorpusError and ck.CheckpointError is CheckpointError
    for cls in (CorpusError, CheckpointError, ReportError):
        assert issubclass(cls, LightRNNError) and issubclass(cls, ValueError)
    assert issubclass(WriteError, OSError) and issubclass(WriteError, LightRNNError)


def test_round_shorter_than_one_batch_is_one_line(round0, capsys):
    d, common = round0
    rc, out, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--out", d / "short.pt", *TRAIN_FLAGS,
                       "--epochs", 0.0001)
    line = one_error_line(err, "train")
    assert rc == 2 and "--epochs 0.0001 is less than one batch" in line and "must be at least" in line
    assert str(d / "train.npy") in line
    assert not (d / "short.pt").exists()


def test_init_from_another_architecture_names_both_shapes(round0, capsys):
    d, common = round0
    saved = torch.load(d / "c0.pt", weights_only=True)
    saved["model_config"]["hidden_dim"] = 16  # the weights are 8 wide
    torch.save(saved, d / "other.pt")
    rc, _, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--init-from", d / "other.pt",
                     "--round", 1, "--out", d / "c1.pt")
    line = one_error_line(err, "train")
    assert rc == 2 and f"--init-from {d / 'other.pt'}: weights do not fit" in line
    assert "in the file" in line and "in the model" in line and "(32, 8)" in line and "(64, 8)" in line
    # model flags that differ from the saved architecture: both values, as flags
    rc, _, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--init-from", d / "c0.pt",
                     "--round", 1, "--out", d / "c1.pt", "--hidden-dim", 16)
    line = one_error_line(err, "train")
    assert rc == 2 and "--hidden-dim 16 (saved: 8)" in line


def test_unwritable_output_fails_before_training(round0, capsys):
    d, common = round0
    (d / "afile").write_text("not a folder")
    rc, out, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--out", d / "afile" / "c.pt",
                       *TRAIN_FLAGS)
    line = one_error_line(err, "train")
    assert rc == 2 and f"--out {d / 'afile' / 'c.pt'}: cannot write ({d / 'afile'} is a file, not a folder)" in line
    assert "end of round" not in out and "parameters" not in out  # nothing was trained
    rc, out, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--out", d / "c.pt",
                       "--metrics", d / "afile" / "m.csv", *TRAIN_FLAGS)
    assert rc == 2 and "--metrics" in one_error_line(err, "train") and "parameters" not in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_fails_before_training(round0, capsys):
    d, common = round0
    ro = d / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, out, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--out", ro / "c.pt", *TRAIN_FLAGS)
    finally:
        ro.chmod(0o755)
    assert rc == 2 and "Permission denied" in one_error_line(err, "train") and "parameters" not in out


class _FullDisk(io.FileIO):
    """A file on a disk that fills up after ``limit`` bytes."""
    limit = 64

    def write(self, b):
        if self.tell() + len(b) > self.limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(b)


@pytest.fixture
def full_disk(monkeypatch):
    def fdopen(fd, mode="r", encoding=None):
        raw = _FullDisk(fd, "wb")
        return raw if "b" in mode else io.TextIOWrapper(io.BufferedWriter(raw), encoding=encoding)

    monkeypatch.setattr(atomic.os, "fdopen", fdopen)


def test_disk_full_names_the_file_and_keeps_the_previous_one(tiny_corpus, tmp_path, capsys, full_disk):
    vocab = tmp_path / "vocab.tsv"
    vocab.write_text("previous\n")
    rc, _, err = run(capsys, "build-vocab", "--train", tiny_corpus["train"], "--out", vocab)
    line = one_error_line(err, "build-vocab")
    assert rc == 2 and f"{vocab}: cannot write (No space left on device); the previous file is unchanged" in line
    assert vocab.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.txt", "train.txt", "valid.txt", "vocab.tsv"]


def test_disk_full_on_every_kind_of_output(tiny_encoded, tmp_path, full_disk):
    from lightrnn.corpus import encode_file

    out = tmp_path / "new"
    with pytest.raises(WriteError, match=r"train.npy: cannot write \(No space left on device\); nothing was written"):
        encode_file(tiny_encoded["dir"] / "train.txt", tiny_encoded["vocab"], out / "train.npy")
    with pytest.raises(WriteError, match=r"c.pt: cannot write \(No space left on device\)"):
        ck.save(out / "c.pt", {"w": torch.zeros(1000)})  # torch reports it as a RuntimeError: unwrapped
    with pytest.raises(WriteError, match=r"a.npz: cannot write"):
        atomic.atomic_save_npz(out / "a.npz", a=torch.zeros(1000).numpy())
    assert list(out.iterdir()) == []


def test_an_input_error_inside_a_write_is_not_a_write_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic.atomic_open(tmp_path / "out.txt") as f:
            f.write(open(tmp_path / "missing.txt").read())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic.atomic_write_text(tmp_path / "a.txt", "x")
        atomic.atomic_save_npy(tmp_path / "b.npy", torch.zeros(3).numpy())
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    assert stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode) == expected
    for name in ("a.txt", "b.npy"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == expected, name
    # rewriting a file keeps its mode, as open(path, "w") does
    os.chmod(tmp_path / "a.txt", 0o640)
    atomic.atomic_write_text(tmp_path / "a.txt", "y")
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == 0o640


def test_encode_and_evaluate_report_the_oov_rate(round0, capsys):
    d, _ = round0
    text = d / "mostly_unknown.txt"
    text.write_text("zz1 zz2 zz3 zz4 the\nqq1 qq2 qq3 qq4 cat\n")  # 8 of 12 tokens (<eos> included) unknown
    rc, out, err = run(capsys, "encode", "--vocab", d / "vocab.tsv", "--text", text, "--out", d / "mu.npy")
    assert rc == 0, err
    assert "12 tokens, 8 of them <unk> (OOV rate 66.67%" in out
    rc, out, err = run(capsys, "evaluate", "--checkpoint", d / "c0.pt", "--data", d / "test.npy", "--batch-size", 2)
    assert rc == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["oov_rate"] == 0.0 and result["unk"] == 0


def test_summary_gives_each_split_token_count_and_oov_rate(tiny_encoded, tmp_path):
    import numpy as np

    from lightrnn.report import build_summary, summary_markdown

    vocab = tiny_encoded["vocab"]
    ids = np.array([vocab.unk_id] * 5 + [vocab.eos_id] * 15, dtype=np.int32)
    np.save(tmp_path / "odd.npy", ids)
    s = build_summary([], [], [], splits={"train": tiny_encoded["train_path"], "test": tmp_path / "odd.npy"},
                      vocab=tiny_encoded["vocab_path"])
    assert s["splits"]["test"] == {"tokens": 20, "unk": 5, "oov_rate": 0.25}
    assert s["splits"]["train"]["tokens"] == len(tiny_encoded["train"])
    md = summary_markdown(s)
    assert "| test | 20 | 5 | 25.00% |" in md


def test_missing_and_unreadable_inputs_are_one_line(tmp_path, capsys):
    rc, _, err = run(capsys, "encode", "--vocab", tmp_path / "none.tsv", "--text", tmp_path / "x.txt",
                     "--out", tmp_path / "x.npy")
    assert rc == 2 and f"{tmp_path / 'none.tsv'}: no such file" in one_error_line(err, "encode")
    rc, _, err = run(capsys, "evaluate", "--checkpoint", tmp_path / "none.pt", "--data", tmp_path / "x.npy")
    assert rc == 2 and "no such checkpoint file" in one_error_line(err, "evaluate")


def test_bad_numbers_name_their_flag(round0, capsys):
    d, common = round0
    rc, _, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--out", d / "x.pt", "--eval-batch-size", 0)
    assert rc == 2 and one_error_line(err, "train").endswith("--eval-batch-size must be >= 1, got 0")
    rc, _, err = run(capsys, "realloc", "--checkpoint", d / "c0.pt", "--train", d / "train.npy", "--out-table",
                     d / "t1.npz", "--report", d / "r.json", "--batch-size", 100000)
    line = one_error_line(err, "realloc")
    assert rc == 2 and f"--train {d / 'train.npy'}: " in line and "too few for --batch-size 100000" in line


def test_train_config_file_unknown_key_names_the_nearest(round0, tmp_path, capsys):
    d, common = round0
    (tmp_path / "recipe.yaml").write_text("train: {bach_size: 4}\n")
    rc, _, err = run(capsys, "train", *common, "--table", d / "t0.npz", "--out", d / "x.pt",
                     "--config", tmp_path / "recipe.yaml")
    line = one_error_line(err, "train")
    assert rc == 2 and line.endswith("unknown key train.bach_size (did you mean train.batch_size?)")
