"""Readers for the formats PDE data is published in, all returning ``FieldData``.

* ``zoo``: a directory written by ``zoo data generate`` (``zoo.data.store``).
* ``array``: one plain array ``(N, T, C, *spatial)`` in ``.npy`` or ``.safetensors`` (``zoo.data.arrays``).
* ``neuralop``: neuraloperator's ``.pt`` dicts, ``{"x", "y"}`` (Darcy) or ``{"input", "output", "visc"}``
  (Burgers); read with ``torch.load(weights_only=True)``, which never executes code.
* ``pdebench``: PDEBench HDF5, in its three layouts: one ``"tensor"`` array ``(N, T, *spatial)``
  (1D equations; Darcy adds the coefficient ``"nu"`` and a single step); named variables
  (``"density"``, ``"pressure"``, ``"Vx"``, ...; compressible CFD); or one group per sample
  (``"0000/data"`` ``(T, *spatial, C)`` with ``"0000/grid/t"``; diffusion-reaction, shallow water).
* ``the_well``: The Well's HDF5 (``dimensions/``, ``t0_fields/`` scalars ``(B, T, *spatial)``,
  ``t1_fields/`` vectors ``(..., D)``, ``t2_fields/`` tensors ``(..., D, D)``).

A steady problem (Darcy) is one time step: the solution is ``trajectories[:, 0]`` and the
coefficient a static field.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.data.arrays import read_array
from zoo.data.fields import FieldData
from zoo.data.store import MANIFEST, DataFileError, check_shards, read_directory, read_manifest, shard_ranges

FORMATS = ("zoo", "array", "neuralop", "pdebench", "the_well")


def bundled_path(name: str) -> Path:
    """Path of a data file shipped with zoo (``zoo/data/bundled``: the neuraloperator 0.3.0 files)."""
    path = Path(str(importlib.resources.files("zoo.data") / "bundled" / name))
    if not path.is_file():
        available = sorted(p.name for p in path.parent.glob("*.pt"))
        raise FileNotFoundError(f"no bundled data file {name!r}; bundled: {available}")
    return path


def detect_format(path: Path) -> str:
    path = Path(path)
    if path.is_dir():
        if (path / MANIFEST).is_file():
            return "zoo"
        raise DataFileError(f"{path}: a directory without {MANIFEST} is not a zoo data set")
    if not path.exists():
        raise DataFileError(f"{path}: file not found")
    if path.suffix in (".pt", ".pth"):
        return "neuralop"
    if path.suffix in (".npy", ".safetensors"):
        return "array"
    if path.suffix in (".h5", ".hdf5", ".hdf"):
        with _open_hdf5(path) as handle:
            return "the_well" if "t0_fields" in handle or "n_spatial_dims" in handle.attrs else "pdebench"
    raise DataFileError(
        f"{path}: cannot tell the format from the suffix {path.suffix!r}; save plain arrays as .npy or .safetensors, "
        f"or name the format (a data source's 'format' key) as one of {FORMATS}"
    )


def load_fields(
    path: str | Path, *, format: str | None = None, samples: tuple[int, int] | None = None, subsample: int | None = None
) -> FieldData:
    """Read a data set in any supported format (detected from the path unless given).

    ``samples=(start, stop)`` keeps those samples; zoo's sharded data sets then read only the
    shards that hold them. ``subsample=k`` keeps every ``k``-th grid point per axis
    (``FieldData.subsample``); zoo's data sets are subsampled shard by shard, so the coarse grid
    of a fine data set (85 nodes of the FNO paper's 421-node Darcy data) loads in one shard's memory.
    """
    path = Path(path)
    format = format or detect_format(path)
    readers = {"zoo": read_zoo, "array": read_array, "neuralop": read_neuralop, "pdebench": read_pdebench, "the_well": read_the_well}
    if format not in readers:
        raise ValueError(f"unknown format {format!r}; supported: {FORMATS}")
    if format == "zoo":
        return read_zoo(path, samples, subsample)
    data = readers[format](path)
    data = data if samples is None else data.select(samples=slice(*samples))
    return data if subsample is None else data.subsample(subsample)


def read_zoo(directory: Path, samples: tuple[int, int] | None = None, subsample: int | None = None) -> FieldData:
    if subsample is not None:
        manifest = read_manifest(directory)
        start, stop = samples if samples is not None else (0, manifest["samples"])
        parts = [read_zoo(directory, (max(start, first), min(stop, end))).subsample(subsample)
                 for first, end in shard_ranges(manifest["samples"], manifest["shard_size"]) if first < stop and end > start]
        if not parts:  # an empty or out-of-range request: let read_directory name the problem
            return read_zoo(directory, samples)
        static = None if parts[0].static is None else torch.cat([part.static for part in parts])
        return replace(parts[0], trajectories=torch.cat([part.trajectories for part in parts]), static=static)
    fields, manifest = read_directory(directory, samples)
    timed = [n for n, axes in manifest["fields"].items() if len(axes) > 1 and axes[1] == "time"]
    static = [n for n in manifest["fields"] if n not in timed]
    if not timed:
        raise DataFileError(f"{directory}: no field has a time axis ({manifest['fields']})")
    return FieldData(
        trajectories=torch.stack([fields[n] for n in timed], dim=2),
        channels=timed,
        times=torch.tensor(manifest["times"], dtype=torch.float64),
        static=torch.stack([fields[n] for n in static], dim=1) if static else None,
        static_channels=static,
        metadata={"format": "zoo", **manifest},
        source=str(directory),
    )


def _require(container: Any, keys: tuple[str, ...], path: Path, layout: str) -> None:
    missing = [k for k in keys if k not in container]
    if missing:
        raise DataFileError(f"{path}: missing key(s) {missing} of the {layout} layout (has {sorted(container.keys())})")


def read_neuralop(path: Path) -> FieldData:
    try:
        data = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:  # truncated zip, not a torch file, or a pickle needing code
        # torch's messages run to several lines of advice about weights_only; its first line names the problem.
        reason = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
        raise DataFileError(
            f"{path}: not a tensor file zoo can read (truncated, not written by torch.save, or holding "
            f"objects that need code to load, which zoo never runs): {type(error).__name__}: {reason[:200]}"
        ) from None
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: expected a dict of tensors, got {type(data).__name__}")
    if "x" in data or "y" in data:
        _require(data, ("x", "y"), path, "neuraloperator {x, y}")
        x, y = data["x"], data["y"]
        if x.shape != y.shape or x.ndim < 2:
            raise DataFileError(f"{path}: x {tuple(x.shape)} and y {tuple(y.shape)} must both be (N, *spatial)")
        return FieldData(
            trajectories=y.float()[:, None, None],
            channels=["u"],
            times=torch.zeros(1, dtype=torch.float64),
            static=x.float()[:, None],
            static_channels=["a"],
            metadata={"format": "neuralop", "layout": "input x -> output y", "x_dtype": str(x.dtype)},
            source=str(path),
        )
    _require(data, ("input", "output"), path, "neuraloperator {input, output}")
    u0, u = data["input"], data["output"]
    if u.ndim < 3 or u0.shape != (u.shape[0], *u.shape[2:]):
        raise DataFileError(f"{path}: output must be (N, T, *spatial) and input (N, *spatial), got {tuple(u.shape)}, {tuple(u0.shape)}")
    metadata = {"format": "neuralop", "layout": "trajectories", "time_unit": "steps (the file stores no times)"}
    if "visc" in data:
        metadata["viscosity"] = float(torch.as_tensor(data["visc"]).flatten()[0])
    return FieldData(u.float()[:, :, None], ["u"], torch.arange(u.shape[1], dtype=torch.float64), metadata=metadata, source=str(path))


def _open_hdf5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise DataFileError(f"{path}: not a readable HDF5 file, truncated or corrupt ({error})") from None


def _read(dataset, path: Path) -> np.ndarray:
    try:
        return dataset[()]
    except OSError as error:
        raise DataFileError(f"{path}: cannot read {dataset.name}: truncated or corrupt ({error})") from None


def _times(values: np.ndarray | None, steps: int, path: Path) -> torch.Tensor:
    if values is None:
        return torch.arange(steps, dtype=torch.float64)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size < steps:
        raise DataFileError(f"{path}: {values.size} time stamps for {steps} time steps")
    return torch.from_numpy(values[:steps].copy())  # PDEBench 1D files store one stamp more than steps


PDEBENCH_VARIABLES = ("density", "pressure", "Vx", "Vy", "Vz")


def read_pdebench(path: Path) -> FieldData:
    with _open_hdf5(path) as handle:
        keys = set(handle.keys())
        metadata = {"format": "pdebench", **{k: _attr(v) for k, v in handle.attrs.items()}}
        t = _read(handle["t-coordinate"], path) if "t-coordinate" in keys else None
        if "tensor" in keys:
            u = _read(handle["tensor"], path)
            if u.ndim < 3:
                raise DataFileError(f"{path}: 'tensor' must be (N, T, *spatial), got shape {u.shape}")
            static = None
            if "nu" in keys:  # Darcy: coefficient "nu" (N, *spatial), solution "tensor" (N, 1, *spatial)
                static = _read(handle["nu"], path)
                if static.shape != (u.shape[0], *u.shape[2:]):
                    raise DataFileError(f"{path}: 'nu' has shape {static.shape}, expected {(u.shape[0], *u.shape[2:])}")
                t = None
            return FieldData(
                torch.from_numpy(u).float()[:, :, None],
                ["u"],
                _times(t, u.shape[1], path),
                static=None if static is None else torch.from_numpy(static).float()[:, None],
                static_channels=[] if static is None else ["nu"],
                metadata=metadata | {"layout": "tensor"},
                source=str(path),
            )
        named = [k for k in PDEBENCH_VARIABLES if k in keys]
        if named:
            arrays = [_read(handle[k], path) for k in named]
            if any(a.shape != arrays[0].shape for a in arrays) or arrays[0].ndim < 3:
                raise DataFileError(f"{path}: variables {named} must share one (N, T, *spatial) shape, got {[a.shape for a in arrays]}")
            u = torch.from_numpy(np.stack(arrays, axis=2)).float()
            return FieldData(u, named, _times(t, u.shape[1], path), metadata=metadata | {"layout": "variables"}, source=str(path))
        groups = sorted(k for k in keys if k.isdigit())
        if not groups:
            raise DataFileError(
                f"{path}: no PDEBench layout found: expected 'tensor', one of {list(PDEBENCH_VARIABLES)}, or "
                f"per-sample groups '0000/data' (has {sorted(keys)})"
            )
        samples = []
        for g in groups:
            _require(handle[g], ("data",), path, f"PDEBench per-sample group '{g}'")
            samples.append(_read(handle[g]["data"], path))
        if any(s.shape != samples[0].shape for s in samples) or samples[0].ndim < 3:
            raise DataFileError(f"{path}: per-sample 'data' arrays must share one (T, *spatial, C) shape, got {sorted({s.shape for s in samples})}")
        u = torch.from_numpy(np.stack(samples)).float().movedim(-1, 2)  # (N, T, *spatial, C) -> (N, T, C, *spatial)
        grid = handle[groups[0]].get("grid")
        t = _read(grid["t"], path) if grid is not None and "t" in grid else None
        channels = [f"u{c}" for c in range(u.shape[2])] if u.shape[2] > 1 else ["u"]
        return FieldData(u, channels, _times(t, u.shape[1], path), metadata=metadata | {"layout": "groups"}, source=str(path))


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_attr(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_the_well(path: Path) -> FieldData:
    with _open_hdf5(path) as handle:
        _require(handle, ("dimensions", "t0_fields"), path, "The Well")
        attrs = {k: _attr(v) for k, v in handle.attrs.items()}
        _require(attrs, ("n_spatial_dims", "n_trajectories"), path, "The Well (root attributes)")
        ndim, n = int(attrs["n_spatial_dims"]), int(attrs["n_trajectories"])
        dims = handle["dimensions"]
        axes = [str(a) for a in _attr(dims.attrs.get("spatial_dims", ["x", "y", "z"][:ndim]))]
        _require(dims, ("time",), path, "The Well dimensions/")
        times = np.asarray(_read(dims["time"], path), dtype=np.float64).reshape(-1)
        spatial = tuple(int(dims[a].shape[0]) for a in axes) if all(a in dims for a in axes) else None
        trajectories, names, static, static_names = [], [], [], []
        for order in (0, 1, 2):
            group = handle.get(f"t{order}_fields")
            if group is None:
                continue
            for name in _attr(group.attrs.get("field_names", list(group.keys()))):
                _require(group, (name,), path, f"The Well t{order}_fields/")
                dataset = group[name]
                sample_varying = bool(_attr(dataset.attrs.get("sample_varying", True)))
                time_varying = bool(_attr(dataset.attrs.get("time_varying", True)))
                value = _read(dataset, path)
                lead = (n,) * sample_varying + (times.size,) * time_varying
                expected = lead + (spatial or value.shape[len(lead) : len(lead) + ndim]) + (ndim,) * order
                if value.shape != expected:
                    raise DataFileError(f"{path}: {dataset.name} has shape {value.shape}, expected {expected}")
                if not sample_varying:
                    value = np.broadcast_to(value, (n, *value.shape))
                components = value.reshape(*value.shape[: value.ndim - order], -1)
                # Vector/tensor components get the axis names: velocity_x, stress_xy, ...
                suffixes = ["_" * (order > 0) + "".join(axes[i] for i in idx) for idx in np.ndindex(*(ndim,) * order)]
                target, target_names = (trajectories, names) if time_varying else (static, static_names)
                for c, suffix in enumerate(suffixes):
                    target.append(components[..., c])
                    target_names.append(f"{name}{suffix}")
        if not trajectories:
            raise DataFileError(f"{path}: The Well file holds no time-varying field")
        return FieldData(
            torch.from_numpy(np.stack(trajectories, axis=2)).float(),
            names,
            torch.from_numpy(times),
            static=torch.from_numpy(np.stack(static, axis=1)).float() if static else None,
            static_channels=static_names,
            metadata={"format": "the_well", **attrs, "spatial_dims": axes},
            source=str(path),
        )


def describe(path: str | Path) -> dict[str, Any]:
    """A JSON-able summary of a data set: format, shapes, channels, times, metadata; for zoo's
    directories also ``bad_shards``, ``{file: problem}`` for each truncated or corrupted shard."""
    path = Path(path)
    format = detect_format(path)
    if format == "zoo":  # summarise from the manifest; every shard is verified (check_shards)
        manifest = read_manifest(path)
        shards = sorted(p.name for p in path.glob("shard-*.safetensors"))
        bad = check_shards(path)
        return {**manifest, "format": "zoo", "path": str(path), "shards_present": len(shards), "bad_shards": bad}
    data = load_fields(path, format=format)
    summary = {
        "format": format,
        "path": str(path),
        "trajectories": list(data.trajectories.shape),
        "channels": data.channels,
        "times": [float(data.times[0]), float(data.times[-1]), int(data.times.numel())],
        "static": None if data.static is None else list(data.static.shape),
        "static_channels": data.static_channels,
    }
    return summary | {"metadata": {k: v for k, v in data.metadata.items() if isinstance(v, (str, int, float, bool, list))}}
