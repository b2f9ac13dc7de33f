"""Where tensors live: picking a device, moving nested batches onto it, naming it in reports."""

from __future__ import annotations

from typing import Any

import torch


def resolve_device(device: str) -> torch.device:
    """``"auto"``: the GPU when there is one, else the CPU; anything else as ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def move_to(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it (nested in tuples, lists, dicts) on ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(move_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    return batch


def describe_device(device: torch.device) -> str:
    """``"NVIDIA H200 (torch 2.11.0)"`` or ``"CPU, 1 thread(s)"``: the device a timing was taken on."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return f"CPU, {torch.get_num_threads()} thread(s)"
