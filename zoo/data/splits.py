"""Disjoint, seeded splits of a data set's trajectories (train / validation / test)."""

from __future__ import annotations

import torch

from zoo.data.generate import sample_seed
from zoo.data.store import DataFileError


def split_trajectories(count: int, fractions: dict[str, float], *, seed: int = 0, source: str = "data") -> dict[str, list[int]]:
    """Trajectory indices for ``"train"`` and each named held-out split, e.g. ``{"validation": 0.2}``.

    Each held-out split gets ``round(fraction * count)`` trajectories, at least one; the rest
    train. The order is a permutation drawn from ``sample_seed(seed, 0)``, so the same ``count``
    and ``seed`` give the same splits on every machine; the splits are disjoint and cover all
    trajectories. Raises :class:`DataFileError` when fewer than one trajectory is left to train.
    """
    sizes = {name: max(1, round(fraction * count)) for name, fraction in fractions.items()}
    if count - sum(sizes.values()) < 1:
        needed = sum(sizes.values()) + 1
        raise DataFileError(
            f"{source}: {count} trajectories cannot be split into train + {' + '.join(sizes)} "
            f"(needs at least {needed}); add trajectories or pass a separate test file (--eval-data)"
        )
    order = torch.randperm(count, generator=torch.Generator().manual_seed(sample_seed(seed, 0))).tolist()
    splits, start = {}, 0
    for name, size in sizes.items():
        splits[name] = sorted(order[start : start + size])
        start += size
    splits["train"] = sorted(order[start:])
    return splits
