"""A run directory belongs to one run: a fresh run never writes over another, two processes never share one.

A folder holds a run when it has any of :data:`RUN_ENTRIES` (what the trainer writes). A fresh run
there is refused unless it resumes (``--resume``) or replaces it (``--overwrite``, which moves the
old run's entries to a timestamped sibling ``<name>.replaced-<UTC time>``: nothing is deleted).
While a run trains it holds the folder's lock (:func:`zoo.files.locked_folder`).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from zoo.data.specs import ConfigError
from zoo.files import locked_folder

# Everything the trainer writes into its run directory.
RUN_ENTRIES = ("train_config.json", "metrics.jsonl", "metrics.csv", "checkpoints", "model", "plots")


class RunExistsError(ConfigError):
    """A fresh run was asked for in a folder that already holds a run."""


def holds_run(directory: Path) -> bool:
    return any((directory / entry).exists() for entry in RUN_ENTRIES)


@contextlib.contextmanager
def claimed_run_directory(directory: str | os.PathLike, *, resume: bool, overwrite: bool) -> Iterator[Path]:
    """Lock ``directory`` for one run (created if needed) and make sure it may start there.

    Raises :class:`RunExistsError` for a fresh run (neither ``resume`` nor ``overwrite``) in a
    folder that holds one, and :class:`zoo.files.FolderLockedError` while another process holds it.
    """
    if resume and overwrite:
        raise ConfigError("--resume continues the run in the folder and --overwrite moves it aside: give one of them")
    directory = Path(directory)
    with locked_folder(directory, purpose="zoo training run", subfolders=("checkpoints", "plots")) as folder:
        if holds_run(folder) and not resume:
            if not overwrite:
                raise RunExistsError(
                    f"{folder} already holds a run; continue it with --resume, replace it with --overwrite "
                    "(the old run is moved aside, not deleted), or choose another --out-dir"
                )
            moved = move_run_aside(folder)
            print(f"zoo: moved the previous run in {folder} to {moved}", file=sys.stderr)
        yield folder


def move_run_aside(directory: Path) -> Path:
    """Move the run's entries of ``directory`` into a new sibling ``<name>.replaced-<UTC time>``."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = directory.with_name(f"{directory.name}.replaced-{stamp}")
    suffix = 1
    while target.exists():
        suffix += 1
        target = directory.with_name(f"{directory.name}.replaced-{stamp}-{suffix}")
    target.mkdir()
    for entry in RUN_ENTRIES:
        if (directory / entry).exists():
            os.replace(directory / entry, target / entry)
    return target
