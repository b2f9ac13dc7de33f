"""Generate a data set into sharded files (resumable, atomic per shard) or one plain array, deterministic for a seed.

A ``Recipe`` says what one equation's data set is (its metadata) and how to solve samples
``[start, stop)``. Sample ``i``'s random input is drawn from its own generator seeded with
``sample_seed(seed, i)``, so a sample does not depend on the shard size, the number of samples or
the order in which shards are produced. :func:`generate` writes a data set directory;
:func:`generate_array` writes the same samples as one ``.npy`` array ``(N, T, C, H, W)``, the
plain file ``zoo finetune --data`` reads, for small sets such as the README's example.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from tqdm.auto import tqdm

from zoo.data.store import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    DataFileError,
    read_manifest,
    shard_name,
    shard_ranges,
    write_manifest,
    write_shard,
)
from zoo.files import atomic_path, atomic_write_text, locked_folder
from zoo.version import __version__


def shard_samples(path: Path) -> tuple[int, int] | None:
    """``(start, stop)`` of the samples a finished shard holds, from its header; ``None`` if absent."""
    if not path.is_file():
        return None
    try:
        with safe_open(path, framework="pt") as handle:
            shard = json.loads((handle.metadata() or {}).get("zoo", "{}")).get("shard", {})
    except (SafetensorError, OSError, json.JSONDecodeError):
        return None  # unreadable: produce it again
    return shard.get("start"), shard.get("stop")


# torch's CPU generator (MT19937) keeps only the low 32 bits of a seed, so a sample's seed must
# carry the data set's seed in those bits. Adding ``seed`` times an odd constant (2^32 / golden
# ratio) keeps the samples of one data set distinct and puts data sets of nearby seeds ~10^9
# indices apart; seed 0 keeps seed = index.
SEED_STRIDE = 0x9E3779B9
SEEDING = "sample i of seed s: torch.Generator().manual_seed((i + s * 0x9E3779B9) mod 2^32)"


def sample_seed(seed: int, index: int) -> int:
    """The 32-bit seed of sample ``index`` in a data set generated with ``seed``."""
    if not 0 <= seed < 2**31 or not 0 <= index < 2**32:
        raise ValueError(f"need 0 <= seed < 2^31 and 0 <= sample index < 2^32, got {seed}, {index}")
    return (index + seed * SEED_STRIDE) % 2**32


def sample_generators(seed: int, start: int, stop: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(sample_seed(seed, i)) for i in range(start, stop)]


@dataclass(frozen=True)
class Recipe:
    """One equation's data set: ``description`` (JSON metadata) and ``solve(start, stop, seed)``.

    ``fields`` maps each stored field to its axes, e.g. ``{"vorticity": ["sample", "time", "x", "y"]}``;
    ``solve`` returns those fields for samples ``[start, stop)`` as CPU float32 tensors.
    """

    equation: str
    fields: dict[str, list[str]]
    description: dict[str, Any]
    solve: Callable[[int, int, int], dict[str, torch.Tensor]]
    run_settings: dict[str, Any] = field(default_factory=dict)  # device etc.: recorded, not identity


def generate(
    directory: Path,
    recipe: Recipe,
    *,
    samples: int,
    seed: int,
    shard_size: int,
    command: str = "",
    progress: bool = True,
) -> dict[str, Any]:
    """Produce every missing shard of the data set in ``directory``; return its manifest.

    A directory that already holds a different data set (other equation, parameters, seed, ...)
    is an error, never overwritten. Only ``samples`` may change: since each sample depends on its
    index alone, a data set grows (or is cut short) by rerunning with another count, and every
    finished shard that still covers the same samples is kept. The directory is locked while
    shards are written (:func:`zoo.files.locked_folder`).
    """
    if samples < 1 or shard_size < 1:
        raise ValueError(f"samples and shard_size must be positive, got {samples}, {shard_size}")
    directory = Path(directory)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "equation": recipe.equation,
        "fields": recipe.fields,
        **recipe.description,
        "seed": seed,
        "seeding": SEEDING,
        "samples": samples,
        "shard_size": shard_size,
    }
    # The folder's lock: two generations never interleave shards, and a killed one's temporaries go.
    with locked_folder(directory, purpose=f"zoo data generate {recipe.equation}"):
        if (directory / MANIFEST).exists():
            existing = read_manifest(directory)
            identity = {k: v for k, v in existing.items() if k not in ("zoo_version", "command", "samples")}
            identity["samples"] = samples
            if identity != manifest:
                changed = sorted(k for k in set(identity) | set(manifest) if identity.get(k) != manifest.get(k))
                hint = ("; it was made by an earlier zoo whose samples ignored the seed (every seed gave seed 0's "
                        "samples): regenerate it" if "seeding" in changed and "seeding" not in existing else "")
                raise DataFileError(
                    f"{directory / MANIFEST}: the directory holds a different data set (differs in {changed}); "
                    f"choose another output directory{hint}"
                )
        manifest |= {"zoo_version": __version__, "command": command}
        write_manifest(directory, manifest)
        ranges = shard_ranges(samples, shard_size)
        todo = [i for i, (start, stop) in enumerate(ranges) if shard_samples(directory / shard_name(i)) != (start, stop)]
        done = samples - sum(ranges[i][1] - ranges[i][0] for i in todo)
        with tqdm(total=samples, initial=done, disable=not progress, desc=recipe.equation, unit="sample", mininterval=10) as bar:
            for index in todo:
                start, stop = ranges[index]
                fields, elapsed = _solve(recipe, start, stop, seed)
                shard = {"index": index, "count": len(ranges), "start": start, "stop": stop, "seconds": round(elapsed, 3)}
                write_shard(directory / shard_name(index), fields, manifest | {"shard": shard, "run": recipe.run_settings})
                bar.update(stop - start)
        return manifest


# Batches of at most samples / ARRAY_PROGRESS_STEPS samples, so that the bar of a small set moves
# (one batch of 16 would show nothing until the end); a sample's random input does not depend on
# the batching (its solve only to float round-off, as batched FFTs may round differently).
ARRAY_PROGRESS_STEPS = 4
TRAJECTORY_AXES = ["sample", "time", "x", "y"]  # what one channel of an (N, T, C, H, W) array holds


def generate_array(
    path: Path,
    recipe: Recipe,
    *,
    samples: int,
    seed: int,
    shard_size: int,
    command: str = "",
    progress: bool = True,
) -> dict[str, Any]:
    """Solve ``samples`` samples of a 2D time-dependent ``recipe`` into one ``.npy`` array ``(N, T, C, H, W)``.

    The channels are the recipe's fields in its order; the samples are those :func:`generate` makes
    for the same seed. ``path.json`` beside the array records what it holds (equation, parameters,
    times, solver, seed, fields, shape, command), since a ``.npy`` file has no room for it. The
    whole array is solved in memory in batches of at most ``shard_size`` and written atomically:
    for large sets, a resumable directory (:func:`generate`) is the better home.
    Returns the record written to ``path.json``.
    """
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise ValueError(f"{path}: a single-file data set is written as .npy; give a .npy name, or a directory for sharded files")
    if samples < 1 or shard_size < 1:
        raise ValueError(f"samples and shard_size must be positive, got {samples}, {shard_size}")
    other = {name: axes for name, axes in recipe.fields.items() if axes != TRAJECTORY_AXES}
    if other:
        raise ValueError(f"{recipe.equation}: fields with axes {other}, not {TRAJECTORY_AXES}, so no (N, T, C, H, W) "
                         "trajectories; write a data set directory instead")
    batch = min(shard_size, math.ceil(samples / ARRAY_PROGRESS_STEPS))
    parts: list[torch.Tensor] = []
    with tqdm(total=samples, disable=not progress, desc=recipe.equation, unit="sample") as bar:
        for start, stop in shard_ranges(samples, batch):
            fields, _ = _solve(recipe, start, stop, seed)
            parts.append(torch.stack([fields[name] for name in recipe.fields], dim=2))
            bar.update(stop - start)
    trajectories = torch.cat(parts).numpy()
    record = {
        "file": path.name,
        "layout": "(N, T, C, H, W): samples, times, fields, grid",
        "shape": list(trajectories.shape),
        "dtype": str(trajectories.dtype),
        "fields": list(recipe.fields),
        "equation": recipe.equation,
        **recipe.description,
        "seed": seed,
        "seeding": SEEDING,
        "samples": samples,
        "zoo_version": __version__,
        "command": command,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, trajectories, allow_pickle=False)
    atomic_write_text(path.with_name(path.name + ".json"), json.dumps(record, indent=2) + "\n")
    return record


def _solve(recipe: Recipe, start: int, stop: int, seed: int) -> tuple[dict[str, torch.Tensor], float]:
    """The recipe's fields for samples ``[start, stop)``, checked against its axes, and the seconds it took."""
    began = time.perf_counter()
    fields = recipe.solve(start, stop, seed)
    elapsed = time.perf_counter() - began
    for name, axes in recipe.fields.items():
        if fields[name].shape[0] != stop - start or fields[name].ndim != len(axes):
            raise RuntimeError(f"recipe {recipe.equation} returned {name} of shape {tuple(fields[name].shape)} for axes {axes}")
    return fields, elapsed
