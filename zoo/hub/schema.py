"""What a checkpoint's ``config.json`` and ``evaluation.json`` may contain, checked field by field.

``config.json``::

    {
      "architecture": "FNO",                  # a registered architecture (zoo.list_models())
      "config": {...},                        # its constructor arguments (model.config)
      "metadata": {...},                      # METADATA_FIELDS below, all optional
      "weights_sha256": "...",                # sha256 of model.safetensors, checked on load
      "zoo_version": "0.1.0"
    }

``metadata`` describes what the model card needs and what the weights cannot say. Nested objects
are free-form (rendered key by key on the card); recommended keys are listed with each field.

``evaluation.json`` (written by evaluation code, read by the card generator and ``zoo list``)::

    {
      "test_data": {"description": "...", "samples": 200, "seed": 1},
      "resolutions": [                        # at least one training grid (zero_shot false; the first is the headline)
        {"grid": [64, 64], "zero_shot": false, "samples": 200, "metrics": {"relative_l2": 0.0121},
         "intervals": {"relative_l2": [0.0117, 0.0125]},   # optional: 95% CI per metric (zoo.eval.bootstrap)
         "source": "held-out trajectories, zoo generator seed 1"},   # optional: what the samples are
        {"grid": [256, 256], "zero_shot": true, "samples": 50, "metrics": {"relative_l2": 0.0135}}
      ],
      "rollout": [                            # optional: error vs time, one curve per grid
        {"grid": [64, 64], "times": [11, 12, ...], "relative_l2": [0.001, 0.002, ...]},
        {"model": "U-Net", "grid": [64, 64], "times": [...], "relative_l2": [...]}   # a baseline
      ],
      "baselines": [                          # optional: other models on the same test data
        {"name": "U-Net", "resolutions": [same form as above]}
      ],
      "cross_generator": {                    # optional: the model on data from an independent generator
        "description": "...",
        "results": [{"comparison": "model on the other generator's data", "samples": 4,
                     "relative_l2": 0.016, "interval": [0.013, 0.019]}]
      },
      "uncertainty": {                        # optional: calibrated bands (zoo.eval.conformal) on held-out functions
        "description": "calibration and test data, seeds, mode, per-step calibration, ...",
        "results": [{"level": 0.9, "mode": "pointwise", "half_width": 0.0167, "relative_half_width": 0.018,
                     "coverage": 0.905, "coverage_per_step": [0.893, 0.914],   # optional: min, max over steps
                     "calibration_functions": 200, "test_functions": 150}]
      },
      "speed": [                              # optional: same trajectories, same machine
        {"grid": [64, 64], "samples": 200, "model_seconds": 0.4, "solver_seconds": 95.0,
         "device": "CPU, 2 cores", "solver": "pseudo-spectral, Crank-Nicolson, dt=1e-4"}
      ]
    }

Metric names are snake_case (``relative_l2``, ``relative_h1``); grids are lists of integers.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from zoo.hub.errors import CheckpointError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
EVALUATION_FILE = "evaluation.json"
CARD_FILE = "README.md"
PLOTS_DIR = "plots"

CONFIG_KEYS = ("architecture", "config", "metadata", "weights_sha256", "zoo_version")

# name -> (accepted JSON types, what it holds)
METADATA_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "task": ((str,), "one line: what the operator maps, e.g. 'vorticity t=1..10 -> t=11..50'"),
    "resolution": ((list,), "the training grid, e.g. [64, 64]"),
    "license": ((str,), "an SPDX id the Hub knows, e.g. 'mit'"),
    "tags": ((list,), "extra Hub tags"),
    "datasets": ((list,), "Hub dataset ids or names of the training data"),
    "base_model": ((str,), "the checkpoint this one was fine-tuned from"),
    "pde": ((dict,), "name, equation, domain, boundary_conditions, parameters"),
    "data": ((dict,), "generator, solver, resolution, samples, seed, time_steps"),
    "fields": ((dict,), "input and output: shape, channels, units, grid"),
    "normalisation": ((dict, str), "how fields are normalised and where the statistics live"),
    "training": ((dict,), "recipe (optimiser, schedule, epochs, batch), compute, command"),
    "finetune": ((str,), "checkpoint-specific advice for fine-tuning"),
    "limitations": ((list,), "what the model was not trained for, one sentence each"),
}


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """The validated contents of ``directory/config.json``."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{directory} is not a zoo checkpoint: no {CONFIG_FILE}")
    return check_config(_read_json(path), str(path))


def read_evaluation(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The validated contents of ``directory/evaluation.json``, or ``None`` if it has none."""
    path = Path(directory) / EVALUATION_FILE
    return check_evaluation(_read_json(path), str(path)) if path.is_file() else None


def checkpoint_files(directory: str | os.PathLike) -> list[Path]:
    """The files of the checkpoint format present in ``directory``: config.json, model.safetensors,
    evaluation.json, README.md and plots/*.png, each a regular file inside the directory.

    Anything else (editor backups, temporary files, notes) is not part of the checkpoint. A named
    file that is a symbolic link, or not a regular file, raises :class:`CheckpointError`: its
    content lives outside the directory, and publishing it could leak any file of the machine.
    """
    directory = Path(directory)
    candidates = [directory / name for name in (CONFIG_FILE, WEIGHTS_FILE, EVALUATION_FILE, CARD_FILE)]
    plots = directory / PLOTS_DIR
    if plots.is_symlink():
        raise CheckpointError(f"{plots} is a symbolic link; a checkpoint's plots must be files inside it")
    if plots.is_dir():
        candidates += sorted(path for path in plots.iterdir() if path.suffix == ".png")
    files = []
    for path in candidates:
        if path.is_symlink():
            raise CheckpointError(f"{path} is a symbolic link to {os.readlink(path)}; copy the file into the checkpoint instead")
        if path.exists() and not path.is_file():
            raise CheckpointError(f"{path} is not a regular file")
        if path.is_file():
            files.append(path)
    return files


def plot_files(directory: str | os.PathLike) -> list[str]:
    """The checkpoint's figures, as paths relative to the directory (``plots/...png``)."""
    plots = Path(directory) / PLOTS_DIR
    return sorted(f"{PLOTS_DIR}/{path.name}" for path in plots.glob("*.png")) if plots.is_dir() else []


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from None


def check_config(config: Any, source: str) -> dict[str, Any]:
    """Validate a parsed ``config.json``; ``source`` (its path) is named in every error."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{source}: expected a JSON object")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        hint = " (this looks like a timm checkpoint: load it with timm.create_model)" if "pretrained_cfg" in config else ""
        raise CheckpointError(f"{source}: unknown keys {unknown}; known: {list(CONFIG_KEYS)}{hint}")
    for key, kind in (("architecture", str), ("config", dict)):
        if not isinstance(config.get(key), kind):
            raise CheckpointError(f"{source}: {key!r} must be a {kind.__name__}, got {config.get(key)!r}")
    check_metadata(config.get("metadata", {}), source)
    return config


def check_metadata(metadata: Any, source: str) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{source}: metadata must be a JSON object, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if key not in METADATA_FIELDS:
            raise CheckpointError(f"{source}: unknown metadata key {key!r}; known: {', '.join(METADATA_FIELDS)}")
        kinds, meaning = METADATA_FIELDS[key]
        if not isinstance(value, kinds):
            raise CheckpointError(f"{source}: metadata[{key!r}] must hold {meaning}, got {value!r}")
    if "resolution" in metadata:
        _grid(metadata["resolution"], f"{source}: metadata['resolution']")
    return metadata


def check_evaluation(evaluation: Any, source: str) -> dict[str, Any]:
    """Validate a parsed ``evaluation.json`` (schema in this module's docstring)."""
    known = {"test_data", "resolutions", "rollout", "baselines", "cross_generator", "uncertainty", "speed"}
    if not isinstance(evaluation, dict):
        raise CheckpointError(f"{source}: expected a JSON object")
    unknown = sorted(set(evaluation) - known)
    if unknown:
        raise CheckpointError(f"{source}: unknown keys {unknown}; known: {sorted(known)}")
    _resolutions(evaluation.get("resolutions"), f"{source}: resolutions", need_training_grid=True)
    for i, curve in enumerate(evaluation.get("rollout", [])):
        where = f"{source}: rollout[{i}]"
        _keys(curve, {"grid", "times"}, where)
        _grid(curve["grid"], f"{where}.grid")
        curves = {k: v for k, v in curve.items() if k not in ("grid", "times", "model")}
        if not curves:
            raise CheckpointError(f"{where}: needs a metric curve, e.g. 'relative_l2': [...]")
        for metric, values in curves.items():
            if not (isinstance(values, list) and len(values) == len(curve["times"])):
                raise CheckpointError(f"{where}.{metric}: needs one value per time ({len(curve['times'])})")
            for value in values:
                _number(value, f"{where}.{metric}")
    for i, baseline in enumerate(evaluation.get("baselines", [])):
        _keys(baseline, {"name", "resolutions"}, f"{source}: baselines[{i}]")
        _resolutions(baseline["resolutions"], f"{source}: baselines[{i}].resolutions", need_training_grid=False)
    if "cross_generator" in evaluation:
        _cross_generator(evaluation["cross_generator"], f"{source}: cross_generator")
    if "uncertainty" in evaluation:
        _uncertainty(evaluation["uncertainty"], f"{source}: uncertainty")
    for i, timing in enumerate(evaluation.get("speed", [])):
        where = f"{source}: speed[{i}]"
        _keys(timing, {"grid", "model_seconds", "solver_seconds", "device", "solver"}, where)
        _grid(timing["grid"], f"{where}.grid")
        for key in ("model_seconds", "solver_seconds"):
            if _number(timing[key], f"{where}.{key}") <= 0:
                raise CheckpointError(f"{where}.{key}: must be positive")
    return evaluation


def headline_metrics(evaluation: dict[str, Any] | None) -> dict[str, float]:
    """Metrics at the (first listed) training grid, the first ``zero_shot: false`` entry, or ``{}`` without evaluation."""
    if not evaluation:
        return {}
    return next(dict(entry["metrics"]) for entry in evaluation["resolutions"] if not entry["zero_shot"])


def grid_label(grid: list[int]) -> str:
    return "x".join(str(n) for n in grid)


def _resolutions(entries: Any, where: str, need_training_grid: bool) -> None:
    if not (isinstance(entries, list) and entries):
        raise CheckpointError(f"{where}: must be a non-empty list of {{grid, zero_shot, metrics}} entries")
    for i, entry in enumerate(entries):
        _keys(entry, {"grid", "zero_shot", "metrics"}, f"{where}[{i}]")
        _grid(entry["grid"], f"{where}[{i}].grid")
        if not isinstance(entry["zero_shot"], bool):
            raise CheckpointError(f"{where}[{i}].zero_shot: must be true or false")
        if not (isinstance(entry["metrics"], dict) and entry["metrics"]):
            raise CheckpointError(f"{where}[{i}].metrics: must map metric names to values")
        for metric, value in entry["metrics"].items():
            _number(value, f"{where}[{i}].metrics.{metric}")
        for metric, interval in entry.get("intervals", {}).items():
            if metric not in entry["metrics"]:
                raise CheckpointError(f"{where}[{i}].intervals.{metric}: no such metric in metrics")
            _interval(interval, f"{where}[{i}].intervals.{metric}")
        if not isinstance(entry.get("source", ""), str):
            raise CheckpointError(f"{where}[{i}].source: must be a string naming the test data")
    if need_training_grid and all(entry["zero_shot"] for entry in entries):
        raise CheckpointError(f"{where}: no entry at a training grid (zero_shot: false); the first such entry is the headline figure")


def _cross_generator(section: Any, where: str) -> None:
    _keys(section, {"description", "results"}, where)
    if not (isinstance(section["results"], list) and section["results"]):
        raise CheckpointError(f"{where}.results: must be a non-empty list of {{comparison, samples, relative_l2}} entries")
    for i, result in enumerate(section["results"]):
        _keys(result, {"comparison", "samples", "relative_l2"}, f"{where}.results[{i}]")
        _number(result["relative_l2"], f"{where}.results[{i}].relative_l2")
        if "interval" in result:
            _interval(result["interval"], f"{where}.results[{i}].interval")


def _uncertainty(section: Any, where: str) -> None:
    _keys(section, {"description", "results"}, where)
    if not (isinstance(section["results"], list) and section["results"]):
        raise CheckpointError(f"{where}.results: must be a non-empty list of {{level, mode, half_width, coverage, ...}} entries")
    required = {"level", "mode", "half_width", "coverage", "calibration_functions", "test_functions"}
    for i, result in enumerate(section["results"]):
        at = f"{where}.results[{i}]"
        _keys(result, required, at)
        if result["mode"] not in ("pointwise", "domain"):
            raise CheckpointError(f"{at}.mode: must be 'pointwise' or 'domain', got {result['mode']!r}")
        for key in ("level", "coverage"):
            if not 0 <= _number(result[key], f"{at}.{key}") <= 1:
                raise CheckpointError(f"{at}.{key}: must lie in [0, 1]")
        if _number(result["half_width"], f"{at}.half_width") <= 0:
            raise CheckpointError(f"{at}.half_width: must be positive")
        for key in ("calibration_functions", "test_functions"):
            if not (isinstance(result[key], int) and result[key] > 0):
                raise CheckpointError(f"{at}.{key}: must be a positive integer, got {result[key]!r}")
        if "coverage_per_step" in result:
            _interval(result["coverage_per_step"], f"{at}.coverage_per_step")


def _interval(interval: Any, where: str) -> None:
    if not (isinstance(interval, list) and len(interval) == 2):
        raise CheckpointError(f"{where}: must be [low, high], got {interval!r}")
    low, high = (_number(value, where) for value in interval)
    if low > high:
        raise CheckpointError(f"{where}: low {low} is above high {high}")


def _keys(entry: Any, required: set[str], where: str) -> None:
    if not isinstance(entry, dict):
        raise CheckpointError(f"{where}: must be a JSON object")
    missing = sorted(required - set(entry))
    if missing:
        raise CheckpointError(f"{where}: missing {missing}")


def _grid(grid: Any, where: str) -> None:
    if not (isinstance(grid, list) and grid and all(isinstance(n, int) and n > 0 for n in grid)):
        raise CheckpointError(f"{where}: must be a list of positive integers, got {grid!r}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CheckpointError(f"{where}: must be a finite number, got {value!r}")
    return float(value)
