"""Data subcommands through lightrnn.cli.main: happy path and user errors (no tracebacks)."""
import numpy as np

from lightrnn.cli import main
from lightrnn.corpus import load_tokens
from lightrnn.vocab import Vocab


def test_cli_build_vocab_and_encode(tiny_corpus, tmp_path):
    vocab = tmp_path / "vocab.tsv"
    assert main(["build-vocab", "--train", str(tiny_corpus["train"]), "--out", str(vocab), "--max-size", "12"]) == 0
    v = Vocab.load(vocab)
    assert len(v) == 12
    out = tmp_path / "test.npy"
    assert main(["encode", "--vocab", str(vocab), "--text", str(tiny_corpus["test"]), "--out", str(out)]) == 0
    toks = load_tokens(out, len(v))
    assert toks.dtype == np.int32 and (toks == v.eos_id).sum() == 40


def test_cli_input_problems_are_user_errors(tiny_corpus, tmp_path, capsys):
    vocab = tmp_path / "vocab.tsv"
    assert main(["build-vocab", "--train", str(tmp_path / "missing.txt"), "--out", str(vocab)]) != 0
    assert "missing.txt" in capsys.readouterr().err
    assert main(["build-vocab", "--train", str(tiny_corpus["train"]), "--out", str(vocab),
                 "--max-size", "1000", "--exact-size"]) != 0
    assert "1000" in capsys.readouterr().err
    assert main(["build-vocab", "--train", str(tiny_corpus["train"]), "--out", str(vocab)]) == 0
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"the cat\nthe \xff dog\n")
    assert main(["encode", "--vocab", str(vocab), "--text", str(bad), "--out", str(tmp_path / "b.npy")]) != 0
    assert "bad.txt:2" in capsys.readouterr().err
    assert not (tmp_path / "b.npy").exists()
