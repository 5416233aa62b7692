"""Atomic file writes: a reader sees either the old file or the complete new one, never half.

Every writer in the package goes through these helpers: write to a temporary name in the same
folder (same filesystem, so ``os.replace`` is an atomic rename), flush and fsync, then rename.
The file gets the mode a plain ``open(path, "w")`` would leave: an existing file's, or 0666 less
the umask for a new one. A write that fails (disk full, no permission, read-only filesystem)
raises :class:`lightrnn.errors.WriteError` naming the file; the previous file at that path is
kept.
"""
from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from lightrnn.errors import WriteError

__all__ = ["atomic_open", "atomic_write_text", "atomic_write_json", "atomic_save_npy",
           "atomic_save_npz", "atomic_torch_save", "check_writable", "new_file_mode"]


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (``os.umask`` can only be
    read by setting it, which would briefly change it for every thread)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permission bits ``open(path, "w")`` gives a new file: 0666 less the umask."""
    return 0o666 & ~_umask()


def _mode_for(path: Path) -> int:
    """What ``open(path, "w")`` leaves: an existing file's permission bits, else a new file's."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o777
    except OSError:
        return new_file_mode()


def _write_failure(tmp: str, exc: BaseException) -> OSError | None:
    """The OSError behind a failed write into the temporary file ``tmp``, if that is what ``exc``
    is. torch.save reports a failed write as a RuntimeError whose context is the OSError; an
    OSError naming another file (an input read inside the ``with`` block) is not ours."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, WriteError):
            return None
        if isinstance(exc, OSError):
            return exc if exc.filename is None or os.fspath(exc.filename) == tmp else None
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _write_error(path: Path, err: OSError, attempted: bool = True) -> WriteError:
    reason = err.strerror or str(err)
    blocker = next((a for a in path.parents if a.exists()), None)
    if blocker is not None and not blocker.is_dir():
        reason = f"{blocker} is a file, not a folder"
    elif err.filename is not None and Path(err.filename).parent not in (path.parent, path.parent.parent):
        reason += f": {err.filename}"  # not the file itself nor its temporary name beside it
    kept = "the previous file is unchanged" if path.is_file() else "nothing was written"
    e = WriteError(f"{path}: cannot write ({reason})" + (f"; {kept}" if attempted else ""))
    e.errno = err.errno  # str(e) stays the message: strerror and filename are left unset
    return e


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched; a failed write
    (an OSError such as ENOSPC) is raised as WriteError naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _write_error(path, e) from None
    binary = "b" in mode
    try:
        os.fchmod(fd, _mode_for(path))  # mkstemp creates 0600 whatever the umask
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        err = _write_failure(tmp, e)
        if err is not None:
            raise _write_error(path, err) from None
        raise


def check_writable(path: str | os.PathLike) -> None:
    """Raise WriteError naming ``path`` unless a file can be created in its folder (made if
    missing). Run before long work, so that a bad output path fails at once, not after it."""
    path = Path(path)
    if path.is_dir():
        raise WriteError(f"{path}: is a folder, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _write_error(path, e, attempted=False) from None
    os.close(fd)
    os.unlink(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON (byte-for-byte reproducible)."""
    with atomic_open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def atomic_save_npy(path: str | os.PathLike, array) -> None:
    import numpy as np

    with atomic_open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)


def atomic_save_npz(path: str | os.PathLike, **arrays) -> None:
    import numpy as np

    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> None:
    import torch

    with atomic_open(path, "wb") as f:
        torch.save(obj, f)
