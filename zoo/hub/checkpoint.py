"""A checkpoint directory in Hugging Face Hub layout: write one, read one back strictly.

Layout (the same on disk, in ``pretrained/<name>/`` and in a Hub repo)::

    config.json        architecture name, constructor arguments, metadata, weights checksum
    model.safetensors  the state dict (tied tensors once)
    evaluation.json    optional: evaluation results (schema in zoo.hub.schema)
    README.md          the model card, generated from the two JSON files
    plots/*.png        optional: figures the card shows

Only JSON and safetensors are read; nothing is unpickled or executed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.files import atomic_write_text
from zoo.hub.cards import render_card, stored_parameters
from zoo.hub.errors import CheckpointError
from zoo.hub.schema import CARD_FILE, CONFIG_FILE, EVALUATION_FILE, WEIGHTS_FILE, check_evaluation, check_metadata, plot_files, read_config
from zoo.hub.weights import check_header_matches, load_weights_into, save_weights
from zoo.models.registry import create_model, get_model_class, list_models
from zoo.version import __version__

def save_pretrained(
    model: nn.Module,
    directory: str | os.PathLike,
    *,
    metadata: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
    card: str | None = None,
    name: str | None = None,
) -> Path:
    """Write ``model`` to ``directory`` as config.json, model.safetensors, evaluation.json, README.md.

    Args:
        model: an instance of a registered architecture (it carries ``model.config``).
        directory: created if needed; files already there are replaced atomically, one by one,
            config.json last (its checksum of the weights ties the pair together).
        metadata: what the card needs beyond the weights (``zoo.hub.schema.METADATA_FIELDS``).
        evaluation: results in the ``evaluation.json`` schema; ``None`` removes a stale
            evaluation.json left by earlier weights.
        card: the README.md text; by default generated from config, evaluation and ``plots/*.png``.
        name: how the generated card names the checkpoint (a pretrained name or a Hub repo id);
            by default the directory's name.

    Returns:
        The checkpoint directory.
    """
    architecture = type(model).__name__
    if architecture not in list_models() or get_model_class(architecture) is not type(model):
        raise TypeError(f"{architecture} is not a registered architecture; known: {', '.join(list_models())}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    metadata = check_metadata(_as_json(metadata or {}, "metadata"), "metadata")
    if evaluation is not None:
        evaluation = check_evaluation(_as_json(evaluation, "evaluation"), "evaluation")
    config = {
        "architecture": architecture,
        "config": model.config,
        "metadata": metadata,
        "weights_sha256": save_weights(model.state_dict(), directory / WEIGHTS_FILE),
        "zoo_version": __version__,
    }
    if evaluation is None:
        (directory / EVALUATION_FILE).unlink(missing_ok=True)
    else:
        atomic_write_text(directory / EVALUATION_FILE, _dump(evaluation))
    if card is None:
        card = render_card(
            config, evaluation, plot_files(directory), name=name or directory.resolve().name, parameters=stored_parameters(directory)
        )
    atomic_write_text(directory / CARD_FILE, card)
    atomic_write_text(directory / CONFIG_FILE, _dump(config))
    return directory


def load_checkpoint(directory: str | os.PathLike, *, trust_unverified: bool = False) -> nn.Module:
    """Build the architecture named in ``directory/config.json`` and load its weights strictly.

    Raises :class:`CheckpointError` naming the file and the problem for: unknown keys, an unknown
    architecture, a constructor argument the architecture does not take, a size beyond
    :data:`zoo.models.registry.SIZE_LIMITS`, a missing, unexpected or mis-shaped tensor, a
    truncated or corrupted weights file, and a weights file whose sha256 differs from (or is
    missing in) config.json. ``trust_unverified=True`` accepts a missing checksum, for files made
    by hand. Nothing is allocated before the config's sizes and the tensor shapes implied by it
    (built on the meta device) match the weights file's header, whose sizes match the file's.
    The model is returned in eval mode.
    """
    directory = Path(directory)
    config = read_config(directory)
    source = directory / CONFIG_FILE
    architecture = config["architecture"]
    try:
        get_model_class(architecture)
    except KeyError:
        raise CheckpointError(f"{source}: unknown architecture {architecture!r}; known: {', '.join(list_models())}") from None
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{directory}: missing {WEIGHTS_FILE}")
    try:
        with torch.device("meta"):  # shapes only: no memory, whatever the config claims
            skeleton = create_model(architecture, **config["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: config does not build {architecture}: {error}") from None
    check_header_matches(skeleton.state_dict(keep_vars=True), weights, architecture)
    model = create_model(architecture, **config["config"])
    load_weights_into(model, weights, sha256=config.get("weights_sha256"), trust_unverified=trust_unverified)
    return model.eval()


def _as_json(value: Any, name: str) -> Any:
    """``value`` as it will read back from JSON (tuples become lists); non-JSON values are errors."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be JSON-serialisable: {error}") from None


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, allow_nan=False) + "\n"
