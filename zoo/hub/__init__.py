"""Save, load, publish and discover pretrained operators in Hugging Face Hub layout.

A checkpoint is a directory (or a Hub repo) holding ``config.json`` (architecture, constructor
arguments, metadata), ``model.safetensors``, an optional ``evaluation.json`` and ``README.md``, the
model card generated from them (see :mod:`zoo.hub.checkpoint` and :mod:`zoo.hub.schema`).
"""

from zoo.hub.cards import render_card, write_card
from zoo.hub.catalog import PretrainedCheckpoint, list_pretrained
from zoo.hub.checkpoint import load_checkpoint, save_pretrained
from zoo.hub.errors import CheckpointError, CheckpointNotFoundError
from zoo.hub.publish import push_to_hub
from zoo.hub.sources import PRETRAINED_PATH_ENV, download, from_pretrained, pretrained_roots

__all__ = [
    "PRETRAINED_PATH_ENV",
    "CheckpointError",
    "CheckpointNotFoundError",
    "PretrainedCheckpoint",
    "download",
    "from_pretrained",
    "list_pretrained",
    "load_checkpoint",
    "pretrained_roots",
    "push_to_hub",
    "render_card",
    "save_pretrained",
    "write_card",
]
