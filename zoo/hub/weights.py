"""Model weights as safetensors: validated before anything is allocated, shared tensors stored once.

A safetensors file is ``u64 header length | JSON header | tensor bytes``; the header gives each
tensor's dtype, shape and byte range. The ``safetensors`` library checks the ranges but its errors
name neither the file nor the tensor, and it cannot know what the model expects. Here the header is
read alone (a few kB) and checked completely: declared sizes against the file size, each range
against dtype and shape, ranges contiguous and covering the data. It is then compared with the
model's own ``state_dict`` (names, shapes, dtype kinds), so a file is only read into memory once it
is known to hold exactly the tensors the model needs. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import safetensors
import safetensors.torch
from safetensors.torch import load as tensors_from_bytes  # safetensors only: never a pickle
import torch

from zoo.hub.errors import CheckpointError
from zoo.files import atomic_path

# The safetensors library refuses larger headers too; a header is about 100 bytes per tensor.
MAX_HEADER_BYTES = 100 * 2**20

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "C64": torch.complex64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


@dataclass(frozen=True)
class TensorEntry:
    """What a safetensors header declares about one tensor."""

    dtype: torch.dtype
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def read_header(path: str | os.PathLike) -> dict[str, TensorEntry]:
    """The tensors declared in a safetensors file, after checking the header against the file.

    Only the header is read. Raises :class:`CheckpointError` naming the file and the problem for a
    truncated file, a header length beyond the file, invalid JSON, an unknown dtype, a byte range
    that does not match dtype x shape, or ranges that overlap, leave gaps or miss the file's end.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as file:
        prefix = file.read(8)
        if len(prefix) < 8:
            raise CheckpointError(f"{path}: truncated ({size} bytes; a safetensors file starts with 8 length bytes)")
        (header_bytes,) = struct.unpack("<Q", prefix)
        if header_bytes > min(size - 8, MAX_HEADER_BYTES):
            raise CheckpointError(
                f"{path}: corrupted or truncated (header claims {header_bytes} bytes, file has {size - 8} after the length)"
            )
        raw = file.read(header_bytes)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: corrupted header (not JSON: {error})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupted header (not a JSON object)")
    header.pop("__metadata__", None)
    entries, ranges = {}, []
    for name, info in header.items():
        entries[name] = _parse_entry(path, name, info)
        begin, end = info["data_offsets"]
        ranges.append((begin, end, name))
    data_bytes = size - 8 - header_bytes
    position = 0
    for begin, end, name in sorted(ranges):
        if begin != position:
            raise CheckpointError(f"{path}: corrupted (tensor {name!r} starts at byte {begin}, expected {position})")
        position = end
    if position != data_bytes:
        state = "truncated" if position > data_bytes else "corrupted"
        raise CheckpointError(f"{path}: {state} (header describes {position} data bytes, file holds {data_bytes})")
    return entries


def _parse_entry(path: Path, name: str, info: object) -> TensorEntry:
    if not (isinstance(info, dict) and {"dtype", "shape", "data_offsets"} <= set(info)):
        raise CheckpointError(f"{path}: corrupted header entry for tensor {name!r}: {info!r}")
    if info["dtype"] not in DTYPES:
        raise CheckpointError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']!r}; known: {', '.join(DTYPES)}")
    shape, offsets = info["shape"], info["data_offsets"]
    if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
        raise CheckpointError(f"{path}: tensor {name!r} has an invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(n) is int for n in offsets)):
        raise CheckpointError(f"{path}: tensor {name!r} has invalid data_offsets {offsets!r}")
    entry = TensorEntry(DTYPES[info["dtype"]], tuple(shape))
    expected = entry.numel * entry.dtype.itemsize
    if offsets[1] - offsets[0] != expected or offsets[0] < 0:
        raise CheckpointError(
            f"{path}: tensor {name!r} declares {offsets[1] - offsets[0]} bytes at {offsets}, but "
            f"{info['dtype']}{shape} needs {expected}"
        )
    return entry


def tied_names(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """Aliases ``{name: first name}`` among tensors that are the same view of the same storage.

    Tied parameters (one tensor under two names) are stored once, under the first name; the
    architecture ties them again when it is built.
    """
    first: dict[tuple, str] = {}
    aliases: dict[str, str] = {}
    for name, tensor in state.items():
        if tensor.numel() == 0:  # empty tensors all report data pointer 0: nothing to share
            continue
        if tensor.device.type == "meta":  # no storage to compare: one tensor under two names is one object
            view = ("meta", id(tensor))  # (from state_dict(keep_vars=True))
        else:
            view = (tensor.device, tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.stride(), tensor.dtype)
        aliases.setdefault(name, first.setdefault(view, name))
    return {name: target for name, target in aliases.items() if name != target}


def tensors_to_store(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The contiguous CPU tensors that represent ``state``: tied names once, shared storage copied.

    Distinct views of one storage (which safetensors refuses to write) become independent copies.
    """
    aliases = tied_names(state)
    storages: set[int] = set()
    stored = {}
    for name, tensor in state.items():
        if name in aliases:
            continue
        tensor = tensor.detach().cpu()
        storage = tensor.untyped_storage().data_ptr()
        shared = tensor.numel() > 0 and storage in storages
        if tensor.numel():
            storages.add(storage)
        stored[name] = tensor.clone(memory_format=torch.contiguous_format) if shared else tensor.contiguous()
    return stored


def save_weights(state: dict[str, torch.Tensor], path: str | os.PathLike) -> str:
    """Write ``state`` (tied tensors once) to ``path`` atomically; returns the file's sha256."""
    stored = tensors_to_store(state)
    with atomic_path(path) as temporary:
        # "format": "pt" is the convention the Hub and transformers use for PyTorch weights.
        safetensors.torch.save_file(stored, temporary, metadata={"format": "pt"})
        digest = file_sha256(temporary)
    return digest


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_weights_into(
    model: torch.nn.Module,
    path: str | os.PathLike,
    sha256: str | None = None,
    *,
    trust_unverified: bool = False,
    record: str = "config.json",
) -> None:
    """Load ``path`` into ``model`` strictly, checking the header against the model first.

    A missing or unexpected tensor, a shape mismatch, or a dtype of another kind (floating point vs
    integer vs bool) raises :class:`CheckpointError` naming every offending tensor. Floating-point
    tensors are cast to the model's dtype, as ``load_state_dict`` does. The file must match
    ``sha256`` (safetensors has no checksum, so this is what catches corrupted tensor bytes); a
    file without a recorded checksum (``sha256=None``, ``record`` names where it should be) is
    refused unless ``trust_unverified``. The file is read once: hashed, then loaded from those bytes.
    """
    path = Path(path)
    expected_state = model.state_dict()
    check_header_matches(expected_state, path, type(model).__name__)
    data = read_verified(path, sha256, trust_unverified=trust_unverified, record=record)
    try:
        tensors = tensors_from_bytes(data)
    except safetensors.SafetensorError as error:
        raise CheckpointError(f"{path}: corrupted ({error})") from None
    tensors.update({alias: tensors[name] for alias, name in tied_names(expected_state).items()})
    model.load_state_dict(tensors, strict=True)


def check_header_matches(expected_state: dict[str, torch.Tensor], path: str | os.PathLike, architecture: str) -> None:
    """Check the tensors ``path``'s header declares against ``expected_state`` (names, shapes,
    dtype kinds) without reading any tensor data; ``expected_state`` may live on the meta device."""
    path = Path(path)
    aliases = tied_names(expected_state)
    expected = {name for name in expected_state if name not in aliases}
    header = read_header(path)
    problems = [f"missing tensor {name!r}" for name in expected_state if name in expected and name not in header]
    for name in header:
        if name in aliases:
            problems.append(f"unexpected tensor {name!r} (tied to {aliases[name]!r} in this architecture)")
        elif name not in expected:
            problems.append(f"unexpected tensor {name!r}")
    for name, entry in header.items():
        if name not in expected:
            continue
        target = expected_state[name]
        if entry.shape != tuple(target.shape):
            problems.append(f"tensor {name!r} has shape {list(entry.shape)}, the model expects {list(target.shape)}")
        elif _dtype_kind(entry.dtype) != _dtype_kind(target.dtype):
            problems.append(f"tensor {name!r} has dtype {entry.dtype}, the model expects {target.dtype}")
    if problems:
        shown = problems if len(problems) <= 8 else [*problems[:8], f"... {len(problems) - 8} more"]
        implied = sum(expected_state[name].numel() for name in expected)
        stored = sum(entry.numel for entry in header.values())
        raise CheckpointError(
            f"{path} does not match {architecture} (the config implies {implied:,} values, the file holds {stored:,}): "
            + "; ".join(shown)
        )


def read_verified(path: str | os.PathLike, sha256: str | None, *, trust_unverified: bool = False, record: str = "config.json") -> bytes:
    """The bytes of ``path``, read once and hashed; an error naming the file
    when they differ from ``sha256``, or when ``sha256`` is ``None`` and not ``trust_unverified``."""
    path = Path(path)
    if sha256 is None and not trust_unverified:
        raise CheckpointError(
            f"{path}: no sha256 recorded for it in {record}, so it cannot be verified; re-save it with "
            "zoo (save_pretrained) or, for a file you made yourself, load with trust_unverified=True"
        )
    data = path.read_bytes()
    digest, view = hashlib.sha256(), memoryview(data)
    for start in range(0, len(data), 2**24):  # hash the bytes in place: no second copy, no second read
        digest.update(view[start : start + 2**24])
    if sha256 is not None and digest.hexdigest() != sha256:
        raise CheckpointError(f"{path}: corrupted or modified (its sha256 differs from the one recorded in {record})")
    return data


def _dtype_kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    return "floating point" if dtype.is_floating_point else "integer"
