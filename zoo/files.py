"""Atomic file writes: a reader (or a resumed run) sees the old file or the new one, never half of one.

Single files go through :func:`atomic_path` (temporary file, fsync, ``os.replace``); checkpoints
are directories of several files that must appear together (:func:`atomic_directory`). Both stage
under hidden names ``.<name>.<random>.tmp`` (:data:`TEMPORARY_NAME`). A process killed mid-write
leaves such a name behind; :func:`locked_folder` gives one process a folder to itself and removes
those leftovers when it takes the folder, because no other writer can own them then.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

# What mkstemp/mkdtemp make of prefix ".<name>." and suffix ".tmp": eight random characters.
TEMPORARY_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
LOCK_FILE = ".zoo.lock"


class FolderLockedError(RuntimeError):
    """Another process holds the folder (a run directory or a data set being generated)."""


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
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets what open() would give it
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it; restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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


@contextlib.contextmanager
def locked_folder(directory: str | os.PathLike, *, purpose: str, subfolders: tuple[str, ...] = ()) -> Iterator[Path]:
    """Hold an exclusive lock on ``directory`` (created) and clear its stale temporary files
    (in ``directory`` and its ``subfolders``, not deeper: a folder may hold more than zoo's files).

    The lock is ``fcntl.flock`` on ``directory/.zoo.lock``: the kernel releases it when the
    holder exits or is killed, so a crash never leaves the folder locked. The lock file records
    the holder's pid, host, start time and ``purpose``, which the error names. Temporary files
    of :func:`atomic_path` and :func:`atomic_directory` older than the lock are removed once it
    is held (see :func:`remove_stale_temporaries`). On systems without ``fcntl`` nothing is locked.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} is a file, not a folder; choose another path or move the file")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks
        yield directory
        return
    path = directory / LOCK_FILE
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise FolderLockedError(f"{directory} is in use: {_describe_holder(handle.read())}") from None
        started = datetime.datetime.now(datetime.timezone.utc)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": started.isoformat(timespec="seconds"), "purpose": purpose}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder) + "\n")
        handle.flush()
        for folder in (directory, *(directory / name for name in subfolders)):
            remove_stale_temporaries(folder, older_than=started.timestamp())
        yield directory
    finally:
        handle.close()  # closing the descriptor releases the lock


def _describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return (
            f"{holder['purpose']} by pid {holder['pid']} on {holder['host']}, started {holder['started']}; "
            "wait for it to finish or stop it, or use another folder"
        )
    except (ValueError, KeyError, TypeError):
        return "another process holds its lock; wait for it to finish or use another folder"


def remove_stale_temporaries(directory: str | os.PathLike, *, older_than: float) -> list[Path]:
    """Remove the files and folders directly in ``directory`` named like zoo's temporaries
    (``.<name>.<8 random>.tmp``) and last modified before ``older_than`` (a POSIX time);
    returns what was removed. Call it only while holding the folder's lock."""
    directory = Path(directory)
    removed = []
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        if not TEMPORARY_NAME.match(path.name) or path.lstat().st_mtime >= older_than:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
