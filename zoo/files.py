"""Atomic file writes: a reader (or a resumed run) sees the old file or the new one, never half of one.

Single files go through :func:`atomic_path` (temporary file, fsync, ``os.replace``); checkpoints
are directories of several files that must appear together (:func:`atomic_directory`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one step.

    The temporary file lives in the same directory so that ``os.replace`` is a rename within one
    file system (atomic on POSIX and Windows); on error it is removed and ``target`` is untouched.
    """
    target = Path(target)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` (parents created) through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def atomic_directory(path: Path, write: Callable[[Path], object]) -> None:
    """Fill a temporary directory with ``write(tmp_dir)`` then rename it to ``path``.

    The temporary directory already carries the final name (inside a hidden staging directory),
    so files that record their directory's name read right. An existing ``path`` is moved aside
    first and deleted only after the rename, so a crash never leaves a half-written directory
    under ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp = staging / path.name
        tmp.mkdir()
        write(tmp)
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb") as handle:
                    os.fsync(handle.fileno())
        if path.exists():
            os.replace(path, staging / f"{path.name}.old")
        os.replace(tmp, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
