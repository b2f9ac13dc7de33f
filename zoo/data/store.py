"""``zoo``'s own data format: a directory of safetensors shards, each carrying JSON metadata.

Layout of a data set directory::

    dataset.json                  the request: equation, parameters, grid, times, seed, solver, zoo version
    shard-00000.safetensors       fields of samples [start, stop), e.g. "vorticity" (n, T, H, W) float32
    shard-00001.safetensors       ... each shard's header repeats dataset.json plus its own "shard" entry

Shards are written atomically (temporary file, then ``os.replace``), so a directory only ever holds
finished shards: an interrupted generation resumes by producing the missing ones. Each shard's
metadata records the sha256 of its tensors' bytes (``fields_sha256``), which
:func:`check_shards` verifies. Reading never executes code (safetensors only) and every problem is
reported with the file it is in.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from zoo.files import atomic_path

FORMAT = "zoo-fields"
FORMAT_VERSION = 1
MANIFEST = "dataset.json"


class DataFileError(ValueError):
    """A data file is missing, unreadable, or holds the wrong thing; the message names the file."""


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.safetensors"


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    Path(directory).mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(directory) / MANIFEST) as tmp:
        tmp.write_text(text)


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise DataFileError(f"{path}: no {MANIFEST}; {directory} is not a zoo data set directory")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DataFileError(f"{path}: not valid JSON ({error})") from None
    if manifest.get("format") != FORMAT:
        raise DataFileError(f"{path}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise DataFileError(f"{path}: format_version {manifest['format_version']} is newer than this zoo reads ({FORMAT_VERSION})")
    return manifest


def write_shard(path: Path, fields: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Save ``fields`` (contiguous CPU tensors) with ``metadata`` as JSON in the header, atomically."""
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in fields.items()}
    header = {"zoo": json.dumps(metadata | {"fields_sha256": fields_sha256(tensors)}, sort_keys=True)}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata=header)


def read_shard(path: Path, *, check_finite: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load one shard: ``(fields, metadata)``. Raises ``DataFileError`` naming the file on any problem."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    try:
        with safe_open(path, framework="pt") as handle:
            header = handle.metadata() or {}
            fields = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, RuntimeError) as error:
        raise DataFileError(f"{path}: not a readable safetensors file, truncated or corrupt ({error})") from None
    if "zoo" not in header:
        raise DataFileError(f"{path}: safetensors header has no 'zoo' metadata entry")
    metadata = json.loads(header["zoo"])
    for name, axes in metadata.get("fields", {}).items():
        if name not in fields:
            raise DataFileError(f"{path}: field {name!r} listed in the metadata is missing (has {sorted(fields)})")
        if fields[name].ndim != len(axes):
            raise DataFileError(
                f"{path}: field {name!r} has shape {tuple(fields[name].shape)}, expected axes {axes}"
            )
        if check_finite and not torch.isfinite(fields[name]).all():
            bad = int((~torch.isfinite(fields[name])).sum())
            raise DataFileError(f"{path}: field {name!r} holds {bad} NaN/Inf values")
    return fields, metadata


def fields_sha256(fields: dict[str, torch.Tensor]) -> str:
    """sha256 of the tensors' bytes, in name order (independent of the file's header layout)."""
    digest = hashlib.sha256()
    for name in sorted(fields):
        digest.update(name.encode())
        digest.update(fields[name].contiguous().view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def check_shards(directory: Path) -> dict[str, str]:
    """``{shard file name: problem}`` for every bad shard present in a data set directory
    (a missing shard is not damage: a generation may be in progress, and rerunning it fills the gap).

    Each shard's header is parsed (safetensors checks that it covers the file exactly, so a
    truncated or extended file fails), its metadata must hold the expected samples and fields,
    and the sha256 of its tensors must match the one it records (shards written before zoo
    recorded it are checked without).
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    problems = {}
    for index, (start, stop) in enumerate(shard_ranges(manifest["samples"], manifest["shard_size"])):
        path = directory / shard_name(index)
        if not path.is_file():
            continue
        try:
            with safe_open(path, framework="pt") as handle:
                metadata = json.loads((handle.metadata() or {}).get("zoo", "null"))
                if not isinstance(metadata, dict):
                    raise ValueError("no 'zoo' metadata in its header")
                shard = metadata.get("shard", {})
                if (shard.get("start"), shard.get("stop")) != (start, stop):
                    raise ValueError(f"holds samples {shard.get('start')}..{shard.get('stop')}, expected {start}..{stop}")
                missing = sorted(set(manifest["fields"]) - set(handle.keys()))
                if missing:
                    raise ValueError(f"fields {missing} missing")
                recorded = metadata.get("fields_sha256")
                if recorded is not None and fields_sha256({n: handle.get_tensor(n) for n in handle.keys()}) != recorded:
                    raise ValueError("its tensors' sha256 differs from the one in its header (corrupted)")
        except (SafetensorError, OSError, RuntimeError, ValueError) as error:
            problems[path.name] = f"{error}"
    return problems


def shard_ranges(samples: int, shard_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(samples)`` in chunks of ``shard_size``."""
    return [(i * shard_size, min(samples, (i + 1) * shard_size)) for i in range(math.ceil(samples / shard_size))]


def read_directory(
    directory: Path, samples: tuple[int, int] | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Concatenate the shards of a data set along the sample axis: ``(fields, manifest)``.

    ``samples=(start, stop)`` reads only the shards holding those samples, so the first samples
    of a large (or still generating) data set load without the rest.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    ranges = shard_ranges(manifest["samples"], manifest["shard_size"])
    start, stop = samples if samples is not None else (0, manifest["samples"])
    if not 0 <= start < stop <= manifest["samples"]:
        raise ValueError(f"{directory}: samples {start}..{stop} outside the data set's 0..{manifest['samples']}")
    needed = [i for i, (first, end) in enumerate(ranges) if first < stop and end > start]
    missing = [shard_name(i) for i in needed if not (directory / shard_name(i)).is_file()]
    if missing:
        raise DataFileError(
            f"{directory}: incomplete, {len(missing)} of {len(ranges)} shards missing ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}); rerun its generate command to finish it"
        )
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in manifest["fields"]}
    for index in needed:
        first, end = ranges[index]
        path = directory / shard_name(index)
        fields, metadata = read_shard(path)
        if metadata["shard"]["start"] != first or metadata["shard"]["stop"] != end:
            raise DataFileError(f"{path}: holds samples {metadata['shard']['start']}..{metadata['shard']['stop']}, expected {first}..{end}")
        for name in parts:
            if fields[name].shape[0] != end - first:
                raise DataFileError(f"{path}: field {name!r} has {fields[name].shape[0]} samples, expected {end - first}")
            parts[name].append(fields[name][max(start - first, 0) : min(stop, end) - first])
    return {name: torch.cat(chunks) for name, chunks in parts.items()}, manifest
