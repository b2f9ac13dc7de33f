"""Process-group setup for data-parallel training under ``torchrun``.

``torchrun --nproc_per_node=N -m zoo train CONFIG`` starts N processes with ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` set; :func:`init_distributed` joins them into one process group
(NCCL on GPUs, gloo on CPUs). Multi-node runs are the standard torchrun way: start the same
command on every node with ``--nnodes=M --node_rank=i --rdzv_backend=c10d
--rdzv_endpoint=HOST:PORT`` (``HOST`` reachable from every node). Without those variables,
everything runs as a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from zoo.devices import resolve_device


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: its rank, how many there are, and its device."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, logs and plots; the others only compute."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the torchrun process group if launched by torchrun, else a one-process context.

    Each process on a GPU node takes GPU ``LOCAL_RANK``; CPU processes use gloo.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    base = resolve_device(device)
    if world_size == 1:
        return DistributedContext(device=base)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if base.type == "cuda":
        base = torch.device("cuda", local_rank)
        torch.cuda.set_device(base)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if base.type == "cuda" else "gloo", device_id=base if base.type == "cuda" else None)
    return DistributedContext(rank=rank, local_rank=local_rank, world_size=world_size, device=base)


def all_reduce_sum(tensor: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """Sum of ``tensor`` over all processes (``tensor`` itself when single-process)."""
    if context.enabled:
        tensor = tensor.clone()
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def union_of_keys(values: dict[str, object], context: DistributedContext) -> list[str]:
    """Sorted union of the keys of ``values`` over all processes."""
    keys = set(values)
    if context.enabled:
        gathered: list[list[str] | None] = [None] * context.world_size
        dist.all_gather_object(gathered, sorted(keys))
        keys = set().union(*gathered)
    return sorted(keys)


def shutdown_distributed(context: DistributedContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
