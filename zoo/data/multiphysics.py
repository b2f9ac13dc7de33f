"""Training windows from several systems' data sets, mixed in every batch (multi-physics pretraining).

A corpus root holds one zoo data set per system and split, ``<root>/<system>/<split>/`` (sharded
safetensors, each field ``(trajectory, time, x, y)``; see :mod:`zoo.data.store`), and optionally
``<root>/corpus.json``, whose ``systems.<name>.downstream`` flags the transfer targets that never
enter pretraining. The corpus may still be growing: :func:`discover_systems` lists the systems
whose split has at least one finished shard, and :func:`load_system` reads the finished shards
in order (shards are written atomically, so a shard that exists is complete).

Batches follow :class:`~zoo.models.multiphysics.MultiphysicsOperator`'s contract: systems with
different field counts share one tensor ``(B, T, C_max, H, W)``, absent channels zero, with a
``(B, C_max)`` tensor of field ids in which ``-1`` marks padding. Every batch holds windows of
every system (system ``(offset + j) mod S`` in slot ``j``), so each step sees all the physics, and
a batch is a function of its generator alone, so a resumed run redraws exactly the same batches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo.data.store import DataFileError, read_manifest, read_shard, shard_name, shard_ranges
from zoo.models.multiphysics import PADDING
from zoo.models.multiscale import spectral_resample

CORPUS_TABLE = "corpus.json"


@dataclass(frozen=True)
class SystemTrajectories:
    """One system's trajectories ``(N, T, C, H, W)`` and the names of its ``C`` fields."""

    name: str
    fields: list[str]
    trajectories: torch.Tensor

    @property
    def frames(self) -> int:
        return self.trajectories.shape[1]


def discover_systems(root: str | Path, split: str = "train", *, include_downstream: bool = False) -> list[str]:
    """Systems under ``root`` whose ``split`` has a manifest and at least one finished shard, sorted.

    Systems that ``root/corpus.json`` flags ``downstream`` are left out unless ``include_downstream``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataFileError(f"{root}: corpus root not found")
    downstream = set()
    table = root / CORPUS_TABLE
    if table.is_file():
        systems = json.loads(table.read_text()).get("systems", {})
        downstream = {name for name, entry in systems.items() if entry.get("downstream")}
    found = []
    for directory in sorted(path for path in root.iterdir() if (path / split / "dataset.json").is_file()):
        if (directory / split / shard_name(0)).is_file() and (include_downstream or directory.name not in downstream):
            found.append(directory.name)
    return found


def declared_fields(root: str | Path) -> list[str]:
    """Every field name of the pretraining systems that ``root/corpus.json`` declares (generated or not)."""
    table = Path(root) / CORPUS_TABLE
    if not table.is_file():
        return []
    names: list[str] = []
    for entry in json.loads(table.read_text()).get("systems", {}).values():
        if not entry.get("downstream"):
            names += [name for name in entry.get("fields", []) if name not in names]
    return names


def load_system(
    directory: str | Path,
    *,
    name: str | None = None,
    resolution: int | None = None,
    max_trajectories: int | None = None,
) -> SystemTrajectories:
    """The finished shards of one data set as ``(N, T, C, H, W)`` float32, fields in manifest order.

    ``resolution`` resamples every frame spectrally onto a ``resolution x resolution`` grid
    (truncation when coarsening: the coarse field holds exactly the modes it can, with no
    aliasing, so a resolution-invariant model sees the same function on both grids).
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    fields = list(manifest["fields"])
    parts = []
    loaded = 0
    for index, (start, stop) in enumerate(shard_ranges(manifest["samples"], manifest["shard_size"])):
        path = directory / shard_name(index)
        if not path.is_file() or (max_trajectories is not None and loaded >= max_trajectories):
            break
        shard, _ = read_shard(path)
        frames = torch.stack([shard[field] for field in fields], dim=2)  # (n, T, C, H, W)
        if resolution is not None:
            frames = spectral_resample(frames, resolution)
        parts.append(frames.float())
        loaded += stop - start
    if not parts:
        raise DataFileError(f"{directory}: no finished shard yet ({shard_name(0)} is missing)")
    trajectories = torch.cat(parts)[:max_trajectories].contiguous()
    return SystemTrajectories(name or directory.parent.name, fields, trajectories)


def field_statistics(systems: Sequence[SystemTrajectories]) -> dict[str, tuple[float, float]]:
    """Per-field ``(mean, std)`` pooled over every frame of every system holding that field."""
    sums: dict[str, list[float]] = {}
    for system in systems:
        for c, field in enumerate(system.fields):
            values = system.trajectories[:, :, c].double()
            total = sums.setdefault(field, [0.0, 0.0, 0])
            total[0] += float(values.sum())
            total[1] += float(values.square().sum())
            total[2] += values.numel()
    statistics = {}
    for field, (total, squares, count) in sums.items():
        mean = total / count
        statistics[field] = (mean, max(squares / count - mean * mean, 0.0) ** 0.5 or 1.0)
    return statistics


class MultiphysicsWindows:
    """Random windows ``context`` frames -> the next ``horizon`` frames, every system in every batch.

    Args:
        systems: the systems' trajectories; all on one grid.
        vocabulary: the model's field names; a window's channels get their ids in it.
        context: frames read by the model.
        horizon: target frames after the context (1: next-frame training; k: k-step targets for
            pushforward training or rollout losses).
    """

    def __init__(self, systems: Sequence[SystemTrajectories], vocabulary: Sequence[str], *, context: int, horizon: int = 1) -> None:
        if not systems:
            raise ValueError("MultiphysicsWindows needs at least one system")
        if context < 1 or horizon < 1:
            raise ValueError(f"context and horizon must be >= 1, got {context}, {horizon}")
        grids = {tuple(system.trajectories.shape[-2:]) for system in systems}
        if len(grids) != 1:
            raise ValueError(f"systems are on different grids {sorted(grids)}; load them with one resolution")
        vocabulary = list(vocabulary)
        for system in systems:
            unknown = [field for field in system.fields if field not in vocabulary]
            if unknown:
                raise ValueError(f"system {system.name!r} has fields {unknown} outside the vocabulary {vocabulary}")
            if system.frames < context + horizon:
                raise ValueError(
                    f"system {system.name!r} has {system.frames} frames per trajectory; windows need context + horizon = {context + horizon}"
                )
        self.systems = list(systems)
        self.vocabulary = vocabulary
        self.context = context
        self.horizon = horizon
        self.channels = max(len(system.fields) for system in systems)
        self.ids = torch.full((len(systems), self.channels), PADDING, dtype=torch.long)
        for s, system in enumerate(systems):
            self.ids[s, : len(system.fields)] = torch.tensor([vocabulary.index(field) for field in system.fields])

    @property
    def names(self) -> list[str]:
        return [system.name for system in self.systems]

    def windows_per_system(self) -> list[int]:
        return [len(system.trajectories) * (system.frames - self.context - self.horizon + 1) for system in self.systems]

    def batch(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``x (B, context, C_max, H, W)``, ``target (B, horizon, C_max, H, W)``, ``ids (B, C_max)``, ``system (B,)``."""
        count = len(self.systems)
        offset = int(torch.randint(count, (), generator=generator))
        which = [(offset + j) % count for j in range(batch_size)]
        span = self.context + self.horizon
        frames = []
        for s in which:
            trajectories = self.systems[s].trajectories
            n, t = int(torch.randint(len(trajectories), (), generator=generator)), int(
                torch.randint(trajectories.shape[1] - span + 1, (), generator=generator)
            )
            window = trajectories[n, t : t + span]
            pad = self.channels - window.shape[1]
            frames.append(torch.nn.functional.pad(window, (0, 0, 0, 0, 0, pad)) if pad else window)
        frames = torch.stack(frames)
        system = torch.tensor(which)
        return {"x": frames[:, : self.context], "target": frames[:, self.context :], "ids": self.ids[system], "system": system}
