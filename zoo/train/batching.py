"""Which samples make up each batch: a deterministic plan shared by every process.

Training data is one map-style dataset or several (one per grid resolution, since fields of
different sizes cannot share a batch). Each epoch the plan shuffles every dataset, cuts it into
global batches of ``batch_size`` (dropping the remainder, so every step sees a full batch), and
shuffles the order of all batches together: one run mixes every resolution. The shuffles use a
generator seeded from ``(seed, epoch)`` only, so

* a resumed run re-creates the same order and skips the batches already done, and
* with ``world_size`` processes, rank ``r`` takes items ``r * b .. (r + 1) * b - 1`` of each global
  batch (``b = batch_size / world_size``): the processes together see exactly the batches of a
  single-process run, which is what makes data-parallel training match it step for step. This plays
  the role of ``DistributedSampler``, which cannot keep the resolutions of a batch apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch


class BatchPlan:
    """Global batches of indices into the concatenation of datasets of sizes ``group_sizes``."""

    def __init__(
        self,
        group_sizes: Sequence[int],
        batch_size: int,
        *,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size % world_size:
            raise ValueError(
                f"the global batch_size={batch_size} must be divisible by the {world_size} processes"
            )
        self.group_sizes = list(group_sizes)
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"no dataset holds a full batch of {batch_size} samples (sizes {self.group_sizes}); "
                "lower batch_size or add data"
            )

    @property
    def batches_per_epoch(self) -> int:
        return sum(n // self.batch_size for n in self.group_sizes)

    def global_batches(self, epoch: int) -> list[list[int]]:
        """Every global batch of ``epoch``, in order."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        batches, offset = [], 0
        for size in self.group_sizes:
            order = (torch.randperm(size, generator=generator) + offset).tolist()
            full = size - size % self.batch_size
            batches += [order[i : i + self.batch_size] for i in range(0, full, self.batch_size)]
            offset += size
        shuffle = torch.randperm(len(batches), generator=generator).tolist()
        return [batches[i] for i in shuffle]

    def epoch(self, epoch: int, *, start: int = 0) -> Iterator[list[int]]:
        """This process's share of each global batch of ``epoch``, from batch ``start`` on."""
        share = self.batch_size // self.world_size
        lo = self.rank * share
        for batch in self.global_batches(epoch)[start:]:
            yield batch[lo : lo + share]
