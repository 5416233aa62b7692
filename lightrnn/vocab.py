"""Vocabulary: words and their training counts, most frequent first; a word's id is its rank.

Built from the training split only (the public LightRNN code builds it from train+valid+test,
which leaks the test set). ``<eos>`` closes every line and is a word like any other; words
outside the vocabulary map to ``<unk>``. Frequency order is what the adaptive softmax expects.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from lightrnn.atomic import atomic_open
from lightrnn.errors import CorpusError

__all__ = ["Vocab", "CorpusError", "build_vocab", "read_lines", "UNK", "EOS"]

UNK = "<unk>"
EOS = "<eos>"


def read_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` from a UTF-8 text file, one line at a time (streaming).

    Raises CorpusError for a missing file, a directory, or bytes that are not UTF-8 (with the
    line number and the byte offset within that line).
    """
    p = Path(path)
    if not p.exists():
        raise CorpusError(f"{p}: no such file")
    if not p.is_file():
        raise CorpusError(f"{p}: not a regular file")
    with open(p, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise CorpusError(
                    f"{p}:{lineno}: bytes that are not UTF-8 at byte {e.start} of the line "
                    f"({raw[e.start:e.start + 4]!r})"
                ) from None
            yield lineno, text


class Vocab:
    """Words (id = position) with training counts.

    Args:
        words: the words, most frequent first; must contain ``<unk>`` and ``<eos>``.
        counts: (V,) training counts, same order.
    """

    def __init__(self, words: Sequence[str], counts: Sequence[int] | np.ndarray) -> None:
        words = list(words)
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (len(words),):
            raise CorpusError(f"{len(words)} words but {counts.shape} counts")
        index: dict[str, int] = {}
        for i, w in enumerate(words):
            if not w or any(ch.isspace() for ch in w):
                raise CorpusError(f"word {i} ({w!r}) is empty or contains whitespace")
            if w in index:
                raise CorpusError(f"word {w!r} appears twice (ids {index[w]} and {i})")
            index[w] = i
        for special in (UNK, EOS):
            if special not in index:
                raise CorpusError(f"vocabulary lacks the special word {special}")
        if (counts < 0).any():
            i = int(np.flatnonzero(counts < 0)[0])
            raise CorpusError(f"word {words[i]!r} has a negative count {int(counts[i])}")
        self.words = words
        self.counts = counts
        self.index = index
        self.unk_id = index[UNK]
        self.eos_id = index[EOS]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Vocab({len(self)} words, {int(self.counts.sum())} training tokens)"

    def id(self, word: str) -> int:
        """The id of ``word``, or of ``<unk>`` if it is not in the vocabulary."""
        return self.index.get(word, self.unk_id)

    def encode_line(self, line: str) -> np.ndarray:
        """(n + 1,) int32 ids of the whitespace tokens of ``line`` followed by ``<eos>``."""
        get, unk = self.index.get, self.unk_id
        ids = [get(w, unk) for w in line.split()]
        ids.append(self.eos_id)
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.words[int(i)] for i in ids]

    # ------------------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write ``word<TAB>count`` lines, most frequent first, atomically."""
        with atomic_open(path, "w") as f:
            for w, c in zip(self.words, self.counts.tolist()):
                f.write(f"{w}\t{c}\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocab":
        words: list[str] = []
        counts: list[int] = []
        for lineno, text in read_lines(path):
            text = text.rstrip("\n").rstrip("\r")
            parts = text.split("\t")
            if len(parts) != 2:
                raise CorpusError(f"{path}:{lineno}: expected 'word<TAB>count', got {text!r}")
            word, count = parts
            try:
                n = int(count)
            except ValueError:
                raise CorpusError(f"{path}:{lineno}: count {count!r} is not an integer") from None
            words.append(word)
            counts.append(n)
        if not words:
            raise CorpusError(f"{path}: empty vocabulary file")
        try:
            return cls(words, counts)
        except CorpusError as e:
            raise CorpusError(f"{path}: {e}") from None


def build_vocab(path: str | os.PathLike, max_size: int | None = None, min_count: int = 1,
                exact_size: bool = False) -> Vocab:
    """Count the words of a training text (one sentence a line, whitespace tokens).

    Args:
        path: the training split only.
        max_size: keep at most this many words, ``<unk>`` and ``<eos>`` included.
        min_count: drop words seen fewer times (they become ``<unk>``).
        exact_size: raise CorpusError if fewer than ``max_size`` words qualify.

    Ties in count are broken by the word's string, so the same text gives the same ids.
    ``<eos>`` is counted once per line; ``<unk>`` counts literal ``<unk>`` tokens (as in PTB)
    plus every token of a word that was dropped.
    """
    if max_size is not None and max_size < 2:
        raise CorpusError(f"max_size must be >= 2 (room for {UNK} and {EOS}), got {max_size}")
    if min_count < 1:
        raise CorpusError(f"min_count must be >= 1, got {min_count}")
    counter: Counter[str] = Counter()
    lines = 0
    for _, text in read_lines(path):
        counter.update(text.split())
        lines += 1
    if lines == 0 or not counter:
        raise CorpusError(f"{path}: empty corpus (no words)")
    n_unk = counter.pop(UNK, 0)
    counter.pop(EOS, None)  # a literal <eos> token would double count; lines define sentence ends
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = [(w, c) for w, c in ranked if c >= min_count]
    room = None if max_size is None else max_size - 2
    if room is not None:
        if exact_size and len(kept) < room:
            raise CorpusError(
                f"{path}: asked for a vocabulary of {max_size} words but the corpus has only "
                f"{len(kept) + 2} distinct words (including {UNK} and {EOS}) with count >= {min_count}")
        kept = kept[:room]
    dropped = sum(counter.values()) - sum(c for _, c in kept)
    entries = kept + [(UNK, n_unk + dropped), (EOS, lines)]
    entries.sort(key=lambda kv: (-kv[1], kv[0]))
    return Vocab([w for w, _ in entries], [c for _, c in entries])
