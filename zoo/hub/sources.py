"""Where a checkpoint comes from: a local directory, a pretrained name, or a Hugging Face Hub repo.

``from_pretrained(name_or_path)`` tries, in order:

1. an existing directory ``name_or_path`` (as ``transformers`` does, a local folder wins);
2. a plain name (``fno-darcy``): the first ``<root>/<name>/`` over :func:`pretrained_roots`, which
   are the directories listed in ``$ZOO_PRETRAINED_PATH`` (``os.pathsep``-separated; your own
   checkpoint stores, searched first so they can shadow a bundled name), then the checkpoints
   bundled with zoo: ``zoo/pretrained/`` inside an installed wheel (shipped as package data, so a
   ``pip install`` works offline with no extra step) or ``pretrained/`` beside the package in a
   source checkout (editable installs);
3. a Hub repo id ``org/name``: ``huggingface_hub.snapshot_download`` into the standard cache,
   which honours ``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, ``HF_HOME``/``HF_HUB_CACHE`` and tokens
   (``token=`` or ``HF_TOKEN``). A ``revision`` may be a branch, a tag or a commit hash; pin the
   hash for reproducibility (a pinned, cached revision needs no network at all).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from torch import nn

from zoo.hub.checkpoint import load_checkpoint
from zoo.hub.schema import CONFIG_FILE, WEIGHTS_FILE
from zoo.hub.errors import CheckpointNotFoundError

PRETRAINED_PATH_ENV = "ZOO_PRETRAINED_PATH"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
CHECKPOINT_NAME = re.compile(r"^[\w][\w.-]*$")
REPO_ID = re.compile(r"^[\w][\w.-]*/[\w][\w.-]*$")


def from_pretrained(
    name_or_path: str | os.PathLike,
    revision: str | None = None,
    *,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    trust_unverified: bool = False,
) -> nn.Module:
    """Load a pretrained model, in eval mode, from a directory, a checkpoint name or a Hub repo id.

    Args:
        name_or_path: a checkpoint directory, a name from :func:`zoo.list_pretrained`, or ``org/name``.
        revision: Hub branch, tag or commit hash (Hub repos only; default ``main``).
        token: Hub token for private repos (default: the one ``huggingface_hub`` finds).
        cache_dir: Hub cache directory (default: the standard one, ``$HF_HUB_CACHE``).
        trust_unverified: accept weights whose config.json records no sha256 (hand-made files).

    Raises:
        CheckpointNotFoundError: no such directory, name, repo or revision, or not cached offline.
        CheckpointError: the checkpoint is malformed, corrupted or does not fit its architecture.
    """
    directory = locate(name_or_path, revision, token=token, cache_dir=cache_dir, files=[CONFIG_FILE, WEIGHTS_FILE])
    return load_checkpoint(directory, trust_unverified=trust_unverified)


def locate(
    name_or_path: str | os.PathLike,
    revision: str | None = None,
    *,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    files: list[str] | None = None,
) -> Path:
    """The local directory holding a checkpoint, downloading ``files`` (default: all) from the Hub."""
    text = os.fspath(name_or_path)
    local = Path(text).expanduser()
    if local.is_dir() or isinstance(name_or_path, os.PathLike) or CHECKPOINT_NAME.match(text):
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to Hub repos only, not to {text!r}")
        if local.is_dir():
            return local
        if isinstance(name_or_path, os.PathLike):  # a Path is always meant as a local directory
            raise CheckpointNotFoundError(f"no checkpoint directory {text!r}")
        return find_pretrained(text)
    if REPO_ID.match(text):
        return download(text, revision, token=token, cache_dir=cache_dir, files=files)
    raise CheckpointNotFoundError(
        f"{text!r} is not a directory, a checkpoint name ({_known_names()}) or a Hub repo id 'org/name'"
    )


def pretrained_roots() -> list[Path]:
    """Directories whose subdirectories are checkpoints, in search order (see the module docstring)."""
    roots = [Path(entry).expanduser() for entry in os.environ.get(PRETRAINED_PATH_ENV, "").split(os.pathsep) if entry]
    return [root for root in [*roots, *bundled_roots()] if root.is_dir()]


def bundled_roots() -> list[Path]:
    """Where the checkpoints shipped with zoo live (existing or not): ``zoo/pretrained/`` in an
    installed wheel, and ``pretrained/`` beside the package in a source checkout."""
    roots = [PACKAGE_DIR / "pretrained"]
    if (PACKAGE_DIR.parent / "pyproject.toml").is_file():  # a source checkout, not site-packages
        roots.append(PACKAGE_DIR.parent / "pretrained")
    return roots


def pretrained_directories() -> dict[str, Path]:
    """Every checkpoint name and its directory; a name found in an earlier root shadows later ones."""
    found: dict[str, Path] = {}
    for root in pretrained_roots():
        for config in sorted(root.glob(f"*/{CONFIG_FILE}")):
            found.setdefault(config.parent.name, config.parent)
    return found


def find_pretrained(name: str) -> Path:
    directory = pretrained_directories().get(name)
    if directory is None:
        raise CheckpointNotFoundError(f"unknown checkpoint {name!r}; {_known_names()}")
    return directory


def download(
    repo_id: str,
    revision: str | None = None,
    *,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    files: list[str] | None = None,
) -> Path:
    """Fetch a Hub repo's ``files`` (default: all) at ``revision`` into the cache; its snapshot path.

    The revision is resolved to one commit first, so the files always come from the same commit.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    where = f"at {constants.ENDPOINT}"
    try:
        return Path(snapshot_download(repo_id, revision=revision, token=token, cache_dir=cache_dir, allow_patterns=files))
    except RevisionNotFoundError as error:
        raise CheckpointNotFoundError(f"Hub repo {repo_id!r} has no revision {revision!r} {where}") from error
    except RepositoryNotFoundError as error:
        raise CheckpointNotFoundError(
            f"no local directory {repo_id!r} and no Hub repo of that name {where} "
            "(or it is private and no valid token was given)"
        ) from error
    except LocalEntryNotFoundError as error:
        cache = cache_dir or constants.HF_HUB_CACHE
        if constants.HF_HUB_OFFLINE:
            reason = f"HF_HUB_OFFLINE is set and it is not in the cache {cache}; fetch it first with `zoo download {repo_id}`"
        else:
            reason = f"the Hub {where} could not be reached and it is not in the cache {cache}"
        raise CheckpointNotFoundError(f"cannot load {repo_id!r} (revision {revision or 'main'}): {reason}") from error


def _known_names() -> str:
    names = sorted(pretrained_directories())
    return "known: " + ", ".join(names) if names else f"none installed; see ${PRETRAINED_PATH_ENV}"
