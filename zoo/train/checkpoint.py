"""Training checkpoints: everything a run needs to continue bit-for-bit, and nothing executable.

A checkpoint is a directory ``checkpoints/step_XXXXXXXX/`` holding

* ``model.safetensors`` and ``config.json``: the weights and the architecture (loadable alone),
* ``optimizer.pt``: the optimizer's ``state_dict`` (plain tensors, numbers and lists),
* ``rng.pt``: the torch (CPU and CUDA), Python and NumPy random states,
* ``trainer_state.json``: the step count and the run's settings.

``.pt`` files are read with ``torch.load(weights_only=True)``, which refuses anything but tensors
and plain containers, so loading never runs code. Each directory is written under a temporary name
and renamed when complete, then ``checkpoints/latest`` (a one-line file) is replaced to name it:
a run killed at any moment resumes from the last complete checkpoint.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from zoo.train.atomic import atomic_directory, atomic_write_bytes

LATEST = "latest"


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}"


def save_checkpoint(
    checkpoints: Path,
    *,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    trainer_state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write the checkpoint of ``step`` under ``checkpoints`` and keep only the ``keep`` latest."""
    path = checkpoints / checkpoint_name(step)

    def write(directory: Path) -> None:
        save_model_files(model, directory)
        torch.save(optimizer.state_dict(), directory / "optimizer.pt")
        torch.save(rng_state(), directory / "rng.pt")
        (directory / "trainer_state.json").write_text(json.dumps({"step": step, **trainer_state}, indent=2))

    atomic_directory(path, write)
    atomic_write_bytes(checkpoints / LATEST, path.name.encode())
    for old in sorted(checkpoints.glob("step_*"))[:-keep] if keep > 0 else []:
        shutil.rmtree(old)
    return path


def latest_checkpoint(checkpoints: Path) -> Path | None:
    """The directory named by ``checkpoints/latest``, or ``None`` when there is none yet."""
    pointer = checkpoints / LATEST
    if not pointer.exists():
        return None
    path = checkpoints / pointer.read_text().strip()
    if not (path / "trainer_state.json").exists():
        raise FileNotFoundError(f"{pointer} names {path.name}, which is missing or incomplete")
    return path


def load_checkpoint(path: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    """Restore weights, optimizer state and RNG states from ``path``; return its trainer state."""
    load_model_weights(model, path)
    if optimizer is not None:
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True, map_location="cpu"))
    set_rng_state(torch.load(path / "rng.pt", weights_only=True))
    return json.loads((path / "trainer_state.json").read_text())


def save_model_files(model: nn.Module, directory: Path) -> None:
    """``model.safetensors`` (weights) and ``config.json`` (architecture and its arguments)."""
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    config = getattr(model, "config", None)
    (directory / "config.json").write_text(
        json.dumps({"architecture": type(model).__name__, "config": config}, indent=2)
    )


def load_model_weights(model: nn.Module, directory: Path) -> None:
    """Load ``model.safetensors`` strictly: a missing or unexpected weight is an error."""
    state = load_file(str(directory / "model.safetensors"))
    model.load_state_dict(state, strict=True)


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
