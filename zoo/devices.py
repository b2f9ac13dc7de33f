"""Where tensors live: picking a device and the CPU threads, moving nested batches onto it, naming it in reports."""

from __future__ import annotations

import os
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


def threads_for_free_cores() -> str | None:
    """Compute on the CPU cores other processes leave free (at least one); say so, or return ``None``.

    torch starts one thread per core. When other jobs keep some cores busy, its threads wait for
    one another at every parallel operation: on the 2-core machine with two other jobs running,
    2 threads made a fine-tuning epoch 3x and a solver step 20x slower than 1 thread. The busy
    cores are the whole part of the 1-minute load average (so the load of a command just finished
    does not count). The user's choice, ``OMP_NUM_THREADS``, is left alone.
    """
    cores = os.cpu_count() or 1
    if "OMP_NUM_THREADS" in os.environ or not hasattr(os, "getloadavg"):
        return None
    load = os.getloadavg()[0]
    threads, free = torch.get_num_threads(), max(1, cores - int(load))
    if free >= threads:
        return None
    torch.set_num_threads(free)
    return (f"zoo: {min(int(load), cores)} of {cores} CPU cores are busy with other jobs (load {load:.1f}): computing on "
            f"{free} thread(s), not {threads}, which would wait for the busy cores; OMP_NUM_THREADS=N chooses")
