"""Publish a checkpoint to the Hugging Face Hub: config, weights, evaluation and card in one commit."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from zoo.hub.checkpoint import load_checkpoint, save_pretrained
from zoo.hub.schema import checkpoint_files

if TYPE_CHECKING:
    from huggingface_hub import CommitInfo


def push_to_hub(
    model_or_directory: nn.Module | str | os.PathLike,
    repo_id: str,
    *,
    token: str | bool | None = None,
    revision: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload zoo checkpoint",
    metadata: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
) -> CommitInfo:
    """Upload a model, or a checkpoint directory, to the Hub repo ``repo_id`` as a single commit.

    The repo is created if needed, and the branch ``revision`` (from ``main``) too. A directory is
    first loaded strictly (checksum included), so a broken checkpoint is never published; only the
    files of the format are uploaded, as they are (config.json, model.safetensors, evaluation.json,
    README.md, plots/*.png: see :func:`zoo.hub.schema.checkpoint_files`, which refuses symbolic links). A
    model is first saved with :func:`save_pretrained` (``metadata``, ``evaluation``), its card
    naming the repo.

    Returns:
        The ``huggingface_hub.CommitInfo``; its ``oid`` is the commit hash to pin downloads to.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    if isinstance(model_or_directory, nn.Module):
        with tempfile.TemporaryDirectory() as scratch:
            directory = save_pretrained(model_or_directory, scratch, metadata=metadata, evaluation=evaluation, name=repo_id)
            return push_to_hub(directory, repo_id, token=token, revision=revision, private=private, commit_message=commit_message)
    if metadata is not None or evaluation is not None:
        raise ValueError("metadata and evaluation apply when pushing a model; a directory already holds its own")
    directory = Path(model_or_directory)
    files = checkpoint_files(directory)  # before loading: a symlinked config.json is never read
    load_checkpoint(directory)
    operations = [
        CommitOperationAdd(path_in_repo=path.relative_to(directory).as_posix(), path_or_fileobj=str(path))
        for path in files
    ]
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision not in (None, "main"):
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    # One create_commit (not upload_folder, which may split large folders into several commits):
    # a reader never sees new weights with an old config.
    return api.create_commit(repo_id, operations, commit_message=commit_message, revision=revision)
