"""WordTable beyond the basic invariants: seeded determinism, moved, dump, damaged files, CLI."""
import numpy as np
import pytest

from lightrnn.cli import main
from lightrnn.table import TableError, WordTable


def test_random_is_deterministic_per_seed_and_injective():
    a, b, c = WordTable.random(50, seed=3), WordTable.random(50, seed=3), WordTable.random(50, seed=4)
    assert a == b and a != c
    assert a.shape == (8, 8) and a.occupied.sum() == 50
    assert len(set(zip(a.rows.tolist(), a.cols.tolist()))) == 50


def test_moved_counts_words_in_other_cells():
    t = WordTable.by_frequency(6, 2, 3)
    cells = t.cells().copy()
    cells[[0, 1]] = cells[[1, 0]]  # swap two words
    assert t.moved(WordTable.from_cells(cells, 2, 3)) == 2
    assert t.moved(t) == 0
    with pytest.raises(TableError, match="6 and 5 words"):
        t.moved(WordTable.by_frequency(5, 2, 3))


def test_dump_lists_rows_and_empty_cells():
    text = WordTable.by_frequency(5, 2, 3).dump(["a", "b", "c", "d", "e"])
    assert "row 0: a b c" in text and "row 1: d e ." in text


def test_load_rejects_damaged_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(TableError, match="bad.npz"):
        WordTable.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(TableError, match="not a word table"):
        WordTable.load(other)
    clash = tmp_path / "clash.npz"
    np.savez(clash, cells=np.array([[0, 0], [0, 0]], dtype=np.int32), shape=np.array([2, 2]))
    with pytest.raises(TableError, match=r"words 0 and 1 share cell \(0, 0\)"):
        WordTable.load(clash)
    with pytest.raises(TableError, match="no such table"):
        WordTable.load(tmp_path / "missing.npz")


def test_cli_init_and_show_table(tiny_corpus, tmp_path):
    vocab = tmp_path / "vocab.tsv"
    assert main(["build-vocab", "--train", str(tiny_corpus["train"]), "--out", str(vocab)]) == 0
    t0 = tmp_path / "t0.npz"
    assert main(["init-table", "--vocab", str(vocab), "--out", str(t0), "--method", "random", "--seed", "5"]) == 0
    t1 = tmp_path / "t1.npz"
    assert main(["init-table", "--vocab", str(vocab), "--out", str(t1), "--method", "file", "--from", str(t0)]) == 0
    assert WordTable.load(t0) == WordTable.load(t1)
    txt, png = tmp_path / "t.txt", tmp_path / "t.png"
    assert main(["show-table", "--vocab", str(vocab), "--table", str(t0), "--out-text", str(txt),
                 "--out-png", str(png)]) == 0
    assert "<eos>" in txt.read_text() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a missing --from file is a user error (exit code, no traceback)
    assert main(["init-table", "--vocab", str(vocab), "--out", str(t1), "--method", "file",
                 "--from", str(tmp_path / "nope.npz")]) != 0
