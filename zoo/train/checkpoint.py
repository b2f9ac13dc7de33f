"""Training checkpoints: everything a run needs to continue bit-for-bit, and nothing executable.

A checkpoint is a directory ``checkpoints/step_XXXXXXXX/`` holding

* the model as :func:`zoo.hub.save_pretrained` writes it (``config.json``, ``model.safetensors``,
  model card), so ``zoo.from_pretrained`` and ``zoo eval`` read any checkpoint of a run;
* ``training_weights.safetensors`` instead of (or, for a model with parametrized weights such as
  low-rank adapters, besides) that: the exact ``state_dict`` being trained, when it is not the
  exported one (unregistered architectures, parametrizations);
* ``optimizer.pt``: the optimizer's ``state_dict`` (plain tensors, numbers and lists),
* ``rng.pt``: the torch (CPU and CUDA), Python and NumPy random states,
* ``best_weights.safetensors`` (runs with early stopping): the best weights as of this step, so a
  run killed after a later improvement (which rewrites ``best/``) still resumes with the best
  weights that belong to its checkpoint;
* ``trainer_state.json``: the step count and the run's settings.

``.pt`` files are read with ``torch.load(weights_only=True)``, which refuses anything but tensors
and plain containers, so loading never runs code. ``trainer_state.json`` records the sha256 of
``optimizer.pt``, ``rng.pt``, the best and the training weights (``config.json`` that of ``model.safetensors``);
restoring reads each file once, checks it against its record and loads from the bytes read, so a
modified or corrupted checkpoint is refused with the file named. Each directory is written under a temporary name
and renamed when complete, then ``checkpoints/latest`` (a one-line file) is replaced to name it:
a run killed at any moment resumes from the last complete checkpoint.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from zoo.files import atomic_directory, atomic_write_bytes
from zoo.hub import CheckpointError, save_pretrained
from zoo.hub.schema import WEIGHTS_FILE, read_config
from zoo.hub.weights import load_weights_into, read_verified, save_weights
from zoo.models.registry import create_model, get_model_class, list_models

LATEST = "latest"
TRAINING_WEIGHTS_FILE = "training_weights.safetensors"
BEST_WEIGHTS_FILE = "best_weights.safetensors"


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}"


def save_checkpoint(
    checkpoints: Path,
    *,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    trainer_state: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    keep: int = 2,
    best_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write the checkpoint of ``step`` under ``checkpoints`` and keep only the ``keep`` latest.

    ``metadata`` goes into the exported model's ``config.json`` (see :mod:`zoo.hub.schema`);
    ``best_state`` (early stopping's best weights so far) into ``best_weights.safetensors``.
    """
    path = checkpoints / checkpoint_name(step)

    def write(directory: Path) -> None:
        checksums = write_model_files(model, directory, metadata=metadata)
        if best_state is not None:
            checksums[BEST_WEIGHTS_FILE] = save_weights(best_state, directory / BEST_WEIGHTS_FILE)
        for name, state in (("optimizer.pt", optimizer.state_dict()), ("rng.pt", rng_state())):
            buffer = io.BytesIO()
            torch.save(state, buffer)
            (directory / name).write_bytes(buffer.getvalue())
            checksums[name] = hashlib.sha256(buffer.getvalue()).hexdigest()
        state = {"step": step, **trainer_state, "sha256": checksums}
        (directory / "trainer_state.json").write_text(json.dumps(state, indent=2))

    atomic_directory(path, write)
    atomic_write_bytes(checkpoints / LATEST, path.name.encode())
    for old in sorted(checkpoints.glob("step_*"), key=recorded_step)[:-keep] if keep > 0 else []:
        shutil.rmtree(old)
    return path


def recorded_step(path: Path) -> int:
    """The step a checkpoint directory records in ``trainer_state.json`` (its name's number if it
    cannot be read): names order wrongly past step 10^8, where the zero padding runs out."""
    try:
        return int(json.loads((path / "trainer_state.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return int(path.name.removeprefix("step_")) if path.name.removeprefix("step_").isdigit() else -1


def latest_checkpoint(checkpoints: Path) -> Path | None:
    """The directory named by ``checkpoints/latest``, or ``None`` when there is none yet."""
    pointer = checkpoints / LATEST
    if not pointer.exists():
        return None
    path = checkpoints / pointer.read_text().strip()
    if not (path / "trainer_state.json").exists():
        raise FileNotFoundError(f"{pointer} names {path.name}, which is missing or incomplete")
    return path


def restore_checkpoint(
    path: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer | None, trust_unverified: bool = False
) -> dict[str, Any]:
    """Restore weights, optimizer state and RNG states from ``path``; return its trainer state.

    Every file is checked against the sha256 recorded when it was written; ``trust_unverified``
    accepts a checkpoint without records (written by hand, or by zoo before they existed).
    """
    try:
        state = json.loads((path / "trainer_state.json").read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path / 'trainer_state.json'}: unreadable ({error})") from None
    checksums = state.get("sha256", {})
    load_model_weights(model, path, checksums=checksums, trust_unverified=trust_unverified)
    if optimizer is not None:
        try:
            optimizer.load_state_dict(_load_pt(path / "optimizer.pt", checksums, trust_unverified))
        except ValueError as error:  # torch: other parameter groups or sizes than when it was written
            raise CheckpointError(
                f"{path / 'optimizer.pt'}: written with other optimizer settings ({error}); resume with the run's "
                "settings, or start afresh (--overwrite moves the old run aside)"
            ) from None
    set_rng_state(_load_pt(path / "rng.pt", checksums, trust_unverified))
    return state


def load_best_weights(model: nn.Module, path: Path, state: dict[str, Any]) -> bool:
    """Load early stopping's best weights as of checkpoint ``path`` (whose trainer state is ``state``).

    Returns False when the run has recorded no best yet. The checkpoint's own copy is preferred;
    checkpoints written before it had one point to the run's ``best/`` folder (``path``'s
    grandparent), checked against the recorded sha256, so a later best that rewrote it is refused.
    """
    if not state.get("early_stopping", {}).get("best_step"):
        return False
    own = path / BEST_WEIGHTS_FILE
    if own.exists():
        load_weights_into(model, own, state.get("sha256", {}).get(BEST_WEIGHTS_FILE), record="trainer_state.json")
        return True
    best = path.parent.parent / "best" / TRAINING_WEIGHTS_FILE
    if not best.exists():
        return False
    load_weights_into(model, best, state["early_stopping"].get("best_sha256"), record="trainer_state.json")
    return True


def _load_pt(path: Path, checksums: dict[str, str], trust_unverified: bool) -> Any:
    data = read_verified(path, checksums.get(path.name), trust_unverified=trust_unverified, record="trainer_state.json")
    try:
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as error:  # a zip or pickle error: torch's message is several lines
        raise CheckpointError(f"{path}: not a readable tensor file ({type(error).__name__})") from None


def write_model_files(model: nn.Module, directory: Path, *, metadata: dict[str, Any] | None = None) -> dict[str, str]:
    """The exported model when possible, and the exact training weights when they differ from it;
    returns ``{file name: sha256}`` of the training weights when written (``config.json`` records
    the exported model's)."""
    if not export_model(model, directory, metadata=metadata) or _has_parametrizations(model):
        return {TRAINING_WEIGHTS_FILE: save_weights(model.state_dict(), directory / TRAINING_WEIGHTS_FILE)}
    return {}


def export_model(model: nn.Module, directory: Path, *, metadata: dict[str, Any] | None = None) -> bool:
    """Save ``model`` with :func:`zoo.hub.save_pretrained`, parametrizations merged into plain weights.

    Returns ``False`` (and writes nothing) for a model that is not a registered architecture.
    """
    architecture = type(model).__name__
    if architecture not in list_models() or get_model_class(architecture) is not type(model):
        return False
    if _has_parametrizations(model):
        model = merged_copy(model)
    save_pretrained(model, directory, metadata=metadata)
    return True


def merged_copy(model: nn.Module) -> nn.Module:
    """A fresh instance of ``model``'s architecture whose weights are its parametrized weights
    evaluated (e.g. ``W + A B`` for low-rank updates): a plain model with the same outputs."""
    state = {
        name: tensor
        for name, tensor in model.state_dict().items()
        if not (name.startswith("parametrizations.") or ".parametrizations." in name)
    }
    for prefix, module in model.named_modules():
        if parametrize.is_parametrized(module):
            for name in module.parametrizations:
                state[f"{prefix}.{name}" if prefix else name] = getattr(module, name).detach()
    plain = create_model(type(model).__name__, **model.config)
    plain.load_state_dict(state, strict=True)
    return plain


def _has_parametrizations(model: nn.Module) -> bool:
    return any(parametrize.is_parametrized(module) for module in model.modules())


def load_model_weights(
    model: nn.Module, directory: Path, *, checksums: dict[str, str], trust_unverified: bool = False
) -> None:
    """Load the trained ``state_dict`` strictly: a missing or unexpected weight is an error, and so
    is a file whose sha256 differs from ``checksums`` (or, for ``model.safetensors``, config.json's)."""
    training = directory / TRAINING_WEIGHTS_FILE
    if training.exists():
        path, sha256, record = training, checksums.get(TRAINING_WEIGHTS_FILE), "trainer_state.json"
    else:
        path, sha256, record = directory / WEIGHTS_FILE, read_config(directory).get("weights_sha256"), "config.json"
    load_weights_into(model, path, sha256=sha256, trust_unverified=trust_unverified, record=record)


def rng_state() -> dict[str, Any]:
    """Every random state a training step can draw from, as tensors and plain values."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached_gaussian],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
