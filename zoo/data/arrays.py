"""A user's own trajectories as one plain array: ``.npy``, ``.safetensors`` or an HDF5 dataset.

The array is ``(N, T, C, *spatial)`` (trajectories, frames, channels, grid), any ``C`` and grid;
``(N, T, *spatial)`` with one spatial axis fewer than the model expects is not guessed at: a
rank-4 array is read as ``(N, T, H, W)`` with ``C = 1``. Loading never executes code: ``.npy``
is read with ``allow_pickle=False``, safetensors and HDF5 hold plain numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from zoo.data.fields import FieldData
from zoo.data.store import DataFileError

ARRAY_SUFFIXES = (".npy", ".safetensors", ".h5", ".hdf5", ".hdf")
LAYOUT = "(N, T, C, H, W): trajectories, frames, channels, grid (or (N, T, H, W) for one channel)"
MAX_CHANNELS_LAST = 4  # a last axis this short, after more channels than that, is channels-last data, not a grid


def read_array(path: str | Path, *, key: str | None = None, fields: Sequence[str] | None = None) -> FieldData:
    """The trajectories stored in ``path`` as :class:`FieldData` ``(N, T, C, H, W)``.

    Args:
        path: ``.npy``; ``.safetensors`` holding one tensor (or several, one named by ``key``);
            HDF5 (``.h5``/``.hdf5``) with the array at dataset ``key`` (optional when the file
            holds exactly one dataset).
        key: the tensor or dataset name.
        fields: names of the ``C`` channels (e.g. ``["vorticity", "scalar"]``); default: those that
            ``zoo data generate`` recorded beside the array (``my.npy.json`` for ``my.npy``), else ``c0, c1, ...``
            (``u`` for one channel). That record also goes to ``metadata["generated"]``.

    Raises :class:`DataFileError` with what to do for an unreadable file, a missing key, a
    pickled ``.npy``, a wrong rank or non-finite values. Frames are numbered ``0..T-1`` (the
    file stores no times).
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = _read_npy(path)
    elif suffix == ".safetensors":
        array = _read_safetensors(path, key)
    elif suffix in (".h5", ".hdf5", ".hdf"):
        array = _read_hdf5(path, key)
    else:
        raise DataFileError(f"{path}: unknown suffix {path.suffix!r}; save the array as .npy, .safetensors or HDF5 (.h5)")
    if array.ndim == 4:
        array = array[:, :, None]
    if array.ndim != 5:
        raise DataFileError(f"{path}: the array has shape {tuple(array.shape)} (rank {array.ndim}); expected {LAYOUT}")
    if array.shape[-1] <= MAX_CHANNELS_LAST < array.shape[2]:
        # (N, T, H, W, C) would read as H channels on an H x C grid, and fail later with a grid error.
        raise DataFileError(
            f"{path}: shape {tuple(array.shape)} reads as {array.shape[2]} channels on a {array.shape[3]}x{array.shape[4]} grid; "
            f"zoo reads {LAYOUT}: if the channels are last, move them (np.moveaxis(a, -1, 2))"
        )
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise DataFileError(f"{path}: the array holds {array.dtype} values; store real numbers (float32)")
    values = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    bad = ~torch.isfinite(values)
    if bad.any():
        sample = int(bad.flatten(1).any(1).nonzero()[0])
        raise DataFileError(
            f"{path}: {int(bad.sum())} NaN/Inf values (the first in trajectory {sample}); "
            "drop or repair those trajectories before fine-tuning"
        )
    channels = values.shape[2]
    generated = _generation_record(path, list(values.shape))
    default = generated["fields"] if generated else (["u"] if channels == 1 else [f"c{i}" for i in range(channels)])
    names = list(fields) if fields else default
    if len(names) != channels:
        raise DataFileError(f"{path}: {len(names)} field names {names} for {channels} channels; name each channel once")
    metadata = {"format": "array", "file": path.name, "key": key, "time_unit": "frames (the file stores no times)"}
    if generated:
        metadata["generated"] = generated
    return FieldData(values, names, torch.arange(values.shape[1], dtype=torch.float64), metadata=metadata, source=str(path))


def _generation_record(path: Path, shape: list[int]) -> dict | None:
    """What ``zoo data generate ... FILE.npy`` recorded in ``FILE.npy.json`` (equation, parameters,
    fields, ...), if that file is there and describes an array of this shape (else a stale record)."""
    record_path = path.with_name(path.name + ".json")
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("shape") != shape or len(record.get("fields", ())) != shape[2]:
        return None
    return record


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataFileError(
                f"{path}: a pickled (object) array, which zoo does not load because unpickling can run code; "
                "save a numeric array (np.save(path, np.asarray(x, dtype=np.float32)))"
            ) from None
        raise DataFileError(f"{path}: not a readable .npy file, truncated or corrupt ({error})") from None
    except (OSError, EOFError) as error:
        raise DataFileError(f"{path}: not a readable .npy file, truncated or corrupt ({error})") from None


def _read_safetensors(path: Path, key: str | None) -> np.ndarray:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy") as handle:
            keys = list(handle.keys())
            if key is None:
                if len(keys) != 1:
                    raise DataFileError(f"{path}: holds tensors {keys}; name the trajectories with --key (key=)")
                key = keys[0]
            if key not in keys:
                raise DataFileError(f"{path}: no tensor {key!r}; it holds {keys}")
            return handle.get_tensor(key)
    except (SafetensorError, OSError) as error:
        raise DataFileError(f"{path}: not a readable safetensors file, truncated or corrupt ({error})") from None


def _read_hdf5(path: Path, key: str | None) -> np.ndarray:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise DataFileError(f"{path}: not a readable HDF5 file, truncated or corrupt ({error})") from None
    with handle:
        datasets: list[str] = []
        handle.visititems(lambda name, item: datasets.append(name) if isinstance(item, h5py.Dataset) else None)
        if key is None:
            if len(datasets) != 1:
                raise DataFileError(f"{path}: holds datasets {datasets}; name the trajectories with --key (key=)")
            key = datasets[0]
        if key not in handle or not isinstance(handle[key], h5py.Dataset):
            raise DataFileError(f"{path}: no dataset {key!r}; it holds {datasets}")
        try:
            return handle[key][()]
        except OSError as error:
            raise DataFileError(f"{path}: cannot read {key!r}: truncated or corrupt ({error})") from None
