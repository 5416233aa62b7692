"""The word table: every word sits in one distinct cell (row, col) of an R x C grid.

LightRNN shares a row vector among the words of a row and a column vector among the words of a
column; the table decides which words share. It is rewritten by reallocation after every round.
Invariants (checked on construction and on load): 0 <= row < R, 0 <= col < C, no two words in the
same cell, V <= R * C.
"""
from __future__ import annotations

import math
import os
import zipfile
from typing import Sequence

import numpy as np

from lightrnn.atomic import atomic_open

__all__ = ["WordTable", "TableError", "default_side"]


class TableError(ValueError):
    """A word table that breaks an invariant, or a table file that cannot be read."""


def default_side(vocab_size: int) -> int:
    """ceil(sqrt(V)): the side of the square table that holds V words."""
    if vocab_size < 1:
        raise TableError(f"vocabulary size must be >= 1, got {vocab_size}")
    return math.isqrt(vocab_size - 1) + 1


class WordTable:
    """Word <-> cell mapping.

    Args:
        rows: (V,) row of each word.
        cols: (V,) column of each word.
        n_rows: R, number of rows.
        n_cols: C, number of columns.

    Attributes:
        rows, cols: (V,) int64, read-only.
        cell_word: (R, C) int64, the word in each cell, -1 where empty.
        occupied: (R, C) bool.
    """

    def __init__(self, rows, cols, n_rows: int, n_cols: int) -> None:
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        if rows.ndim != 1 or cols.ndim != 1 or rows.shape != cols.shape:
            raise TableError(f"rows and cols must be 1-D of equal length, got shapes {rows.shape} and {cols.shape}")
        for name, a in (("rows", rows), ("cols", cols)):
            if a.size and not np.issubdtype(a.dtype, np.integer):
                raise TableError(f"{name} must hold integers, got dtype {a.dtype}")
        n_rows, n_cols = int(n_rows), int(n_cols)
        if n_rows < 1 or n_cols < 1:
            raise TableError(f"table shape must be positive, got {n_rows} x {n_cols}")
        vocab = rows.shape[0]
        if vocab < 1:
            raise TableError("a word table needs at least one word")
        if vocab > n_rows * n_cols:
            raise TableError(f"{vocab} words do not fit in a {n_rows} x {n_cols} table ({n_rows * n_cols} cells)")
        rows = rows.astype(np.int64)
        cols = cols.astype(np.int64)
        for name, a, bound in (("row", rows, n_rows), ("column", cols, n_cols)):
            bad = np.flatnonzero((a < 0) | (a >= bound))
            if bad.size:
                w = int(bad[0])
                raise TableError(f"word {w} has {name} {int(a[w])}, outside [0, {bound})")
        flat = rows * n_cols + cols
        cell_word = np.full(n_rows * n_cols, -1, dtype=np.int64)
        cell_word[flat] = np.arange(vocab, dtype=np.int64)
        clash = np.flatnonzero(cell_word[flat] != np.arange(vocab))
        if clash.size:
            w = int(clash[0])
            other = int(cell_word[flat[w]])
            raise TableError(f"words {w} and {other} share cell ({int(rows[w])}, {int(cols[w])})")
        self.rows = rows
        self.cols = cols
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.cell_word = cell_word.reshape(n_rows, n_cols)  # (R, C)
        for a in (self.rows, self.cols, self.cell_word):
            a.setflags(write=False)

    # ----------------------------------------------------------------------------- properties
    @property
    def vocab_size(self) -> int:
        return int(self.rows.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, self.n_cols)

    @property
    def occupied(self) -> np.ndarray:
        """(R, C) bool: True where a word sits."""
        return self.cell_word >= 0

    def cells(self) -> np.ndarray:
        """(V, 2) int32 array of (row, col) per word."""
        return np.stack([self.rows, self.cols], axis=1).astype(np.int32)

    def __len__(self) -> int:
        return self.vocab_size

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WordTable):
            return NotImplemented
        return (self.shape == other.shape and np.array_equal(self.rows, other.rows)
                and np.array_equal(self.cols, other.cols))

    def __repr__(self) -> str:
        return f"WordTable(V={self.vocab_size}, shape={self.n_rows}x{self.n_cols})"

    def moved(self, other: "WordTable") -> int:
        """Number of words whose cell differs between this table and ``other``."""
        if other.vocab_size != self.vocab_size:
            raise TableError(f"tables hold {self.vocab_size} and {other.vocab_size} words")
        return int(np.count_nonzero((self.rows != other.rows) | (self.cols != other.cols)))

    # ----------------------------------------------------------------------------- builders
    @staticmethod
    def _shape(vocab_size: int, n_rows: int | None, n_cols: int | None) -> tuple[int, int]:
        side = default_side(vocab_size)
        r, c = int(n_rows or side), int(n_cols or side)
        if vocab_size > r * c:
            raise TableError(f"{vocab_size} words do not fit in a {r} x {c} table ({r * c} cells)")
        return r, c

    @classmethod
    def from_cells(cls, cells, n_rows: int, n_cols: int) -> "WordTable":
        cells = np.asarray(cells)
        if cells.ndim != 2 or cells.shape[1] != 2:
            raise TableError(f"cells must have shape (V, 2), got {cells.shape}")
        return cls(cells[:, 0], cells[:, 1], n_rows, n_cols)

    @classmethod
    def random(cls, vocab_size: int, seed: int = 0, n_rows: int | None = None,
               n_cols: int | None = None) -> "WordTable":
        """Each word in a uniformly random distinct cell (deterministic for ``seed``)."""
        r, c = cls._shape(vocab_size, n_rows, n_cols)
        rng = np.random.default_rng(seed)
        flat = rng.permutation(r * c)[:vocab_size]
        return cls(flat // c, flat % c, r, c)

    @classmethod
    def by_frequency(cls, vocab_size: int, n_rows: int | None = None,
                     n_cols: int | None = None) -> "WordTable":
        """Word ids are frequency ranks: fill the table row by row (an ablation baseline)."""
        r, c = cls._shape(vocab_size, n_rows, n_cols)
        flat = np.arange(vocab_size)
        return cls(flat // c, flat % c, r, c)

    # ----------------------------------------------------------------------------- files
    def save(self, path: str | os.PathLike) -> None:
        """Write ``.npz`` with ``cells`` int32 (V, 2) and ``shape`` int64 (2,), atomically."""
        with atomic_open(path, "wb") as f:
            np.savez(f, cells=self.cells(), shape=np.array(self.shape, dtype=np.int64))

    @classmethod
    def load(cls, path: str | os.PathLike, vocab_size: int | None = None) -> "WordTable":
        """Read a table written by :meth:`save`; checks every invariant and, if given, V."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if "cells" not in z or "shape" not in z:
                    raise TableError(f"{path}: not a word table (needs arrays 'cells' and 'shape', has {sorted(z.files)})")
                cells, shape = z["cells"], z["shape"]
        except FileNotFoundError:
            raise TableError(f"{path}: no such table file") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            if isinstance(e, TableError):
                raise
            raise TableError(f"{path}: cannot read word table: {e}") from None
        if shape.shape != (2,):
            raise TableError(f"{path}: 'shape' must hold (R, C), got {shape.tolist()}")
        try:
            table = cls.from_cells(cells, int(shape[0]), int(shape[1]))
        except TableError as e:
            raise TableError(f"{path}: {e}") from None
        if vocab_size is not None and table.vocab_size != vocab_size:
            raise TableError(f"{path}: table holds {table.vocab_size} words, vocabulary has {vocab_size}")
        return table

    def dump(self, words: Sequence[str] | None = None, max_words_per_row: int | None = None) -> str:
        """Human-readable listing: one line per row, ``row 3: the of and ...`` (empty cells as ``.``)."""
        lines = [f"# word table: {self.vocab_size} words in {self.n_rows} rows x {self.n_cols} columns"]
        for i in range(self.n_rows):
            ids = self.cell_word[i]
            names = [(str(words[w]) if words is not None else str(w)) if w >= 0 else "." for w in ids.tolist()]
            if max_words_per_row is not None and len(names) > max_words_per_row:
                names = names[:max_words_per_row] + ["..."]
            lines.append(f"row {i}: " + " ".join(names))
        return "\n".join(lines) + "\n"
