"""A picture of the word table: a few rows and columns with their words (matplotlib, lazily)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from lightrnn.table import WordTable

__all__ = ["table_picture"]


def table_picture(table: WordTable, words: Sequence[str], out_png: str | os.PathLike,
                  rows: Sequence[int] | None = None, max_rows: int = 8, max_cols: int = 8,
                  title: str | None = None) -> None:
    """Draw ``max_rows`` rows x ``max_cols`` columns of the table with their words (atomic PNG).

    By default shows the rows holding the most frequent words (ids are frequency ranks), and in
    them the columns that hold the most frequent words, so related words sharing a row or a
    column are easy to spot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lightrnn.atomic import atomic_open

    if rows is None:
        rows = list(dict.fromkeys(table.rows[: max(1, table.vocab_size)].tolist()))[:max_rows]
    rows = list(rows)[:max_rows]
    cw = table.cell_word[rows]  # (r, C)
    # columns ordered by the most frequent word they hold within the chosen rows
    score = np.where(cw >= 0, cw, np.iinfo(np.int64).max).min(axis=0)
    cols = [int(c) for c in np.argsort(score, kind="stable")[:max_cols]]
    fig, ax = plt.subplots(figsize=(1.4 * len(cols) + 1.2, 0.5 * len(rows) + 1.2))
    ax.set_xlim(-0.5, len(cols) - 0.5)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            w = int(table.cell_word[r, c])
            ax.text(b, a, words[w] if w >= 0 else "·", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(cols)), [f"col {c}" for c in cols], fontsize=7, rotation=45)
    ax.set_yticks(range(len(rows)), [f"row {r}" for r in rows], fontsize=7)
    ax.grid(False)
    ax.set_title(title or f"word table ({table.n_rows} x {table.n_cols}, V = {table.vocab_size})", fontsize=9)
    fig.tight_layout()
    with atomic_open(out_png, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
