import random

import pytest

WORDS = ("the cat dog sat on mat a ran fast slow big small red blue house tree bird sang "
         "and then it was over under near far").split()


def make_lines(n_lines: int, seed: int) -> list[str]:
    """A tiny corpus with structure (word pairs repeat) so that models can learn it."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        k = rng.randint(3, 9)
        start = rng.randrange(len(WORDS))
        lines.append(" ".join(WORDS[(start + 2 * t) % len(WORDS)] for t in range(k)))
    return lines


@pytest.fixture
def tiny_corpus(tmp_path):
    """train/valid/test text files (one sentence a line) in tmp_path; returns a dict of paths."""
    paths = {}
    for split, (n, seed) in {"train": (300, 1), "valid": (40, 2), "test": (40, 3)}.items():
        p = tmp_path / f"{split}.txt"
        p.write_text("\n".join(make_lines(n, seed)) + "\n", encoding="utf-8")
        paths[split] = p
    return paths


@pytest.fixture
def tiny_encoded(tiny_corpus, tmp_path):
    """Vocabulary and encoded splits of the tiny corpus: dict with 'vocab' and split arrays."""
    from lightrnn.corpus import encode_file, load_tokens
    from lightrnn.vocab import build_vocab

    vocab = build_vocab(tiny_corpus["train"])
    vocab.save(tmp_path / "vocab.tsv")
    out = {"vocab": vocab, "vocab_path": tmp_path / "vocab.tsv", "dir": tmp_path}
    for split in ("train", "valid", "test"):
        encode_file(tiny_corpus[split], vocab, tmp_path / f"{split}.npy")
        out[split] = load_tokens(tmp_path / f"{split}.npy")
        out[f"{split}_path"] = tmp_path / f"{split}.npy"
    return out
