"""The data section of a run configuration, read the same way by ``zoo train`` and ``zoo eval``::

    data:
      train: PATH                   # or {path, format, samples: [start, stop], subsample: k}, or a list of those
      eval: PATH                    # same forms; optional
      task: pairs                   # "pairs" (OperatorPairs) or "windows" (TimeWindows)
      pairs: {input_times: [0], target_times: [-1], include_static: true}
      windows: {history: 10, horizon: 1, stride: 1, include_static: false}
      eval_windows: {history: 10, horizon: all}   # optional: evaluation windows ("all": whole rollout)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from zoo.data.fields import FieldData, OperatorPairs, TimeWindows
from zoo.data.formats import load_fields
from zoo.models.time_stepper import is_time_stepper

TASKS = ("pairs", "windows")


class ConfigError(ValueError):
    """A run configuration that cannot be used as written; the message names the key."""


def check_keys(section: dict[str, Any], known: Sequence[str], where: str) -> None:
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {', '.join(known)}")


def load_sources(sources: Any, *, where: str) -> list[FieldData]:
    """``FieldData`` for a path, a ``{path, format, samples, subsample}`` mapping, or a list of them."""
    if isinstance(sources, (str, Path)) or isinstance(sources, dict):
        sources = [sources]
    if not isinstance(sources, list) or not sources:
        raise ConfigError(f"{where}: expected a path, a mapping with 'path', or a list of them")
    loaded = []
    for source in sources:
        source = {"path": source} if isinstance(source, (str, Path)) else dict(source)
        check_keys(source, ("path", "format", "samples", "subsample"), where)
        if "path" not in source:
            raise ConfigError(f"{where}: every source needs a 'path'")
        data = load_fields(source["path"], format=source.get("format"))
        if "samples" in source:
            start, stop = source["samples"]
            data = data.select(samples=slice(start, stop))
        if source.get("subsample", 1) != 1:
            data = data.subsample(source["subsample"])
        loaded.append(data)
    return loaded


def default_pairs(data: FieldData) -> dict[str, Any]:
    """Static fields (e.g. Darcy's coefficient) to the last step, or else the first step to the last."""
    if data.static is not None:
        return {"input_times": [], "target_times": [-1], "include_static": True}
    return {"input_times": [0], "target_times": [-1], "include_static": False}


def build_datasets(fields: list[FieldData], data_spec: dict[str, Any], *, windows_key: str = "windows") -> list[Dataset]:
    """One training dataset per source, as ``data.task`` says (``pairs`` or ``windows``)."""
    task = data_spec.get("task", "pairs")
    if task not in TASKS:
        raise ConfigError(f"data.task: unknown task {task!r}; choose one of {TASKS}")
    datasets: list[Dataset] = []
    for data in fields:
        if task == "pairs":
            options = {**default_pairs(data), **data_spec.get("pairs", {})}
            check_keys(options, ("input_times", "target_times", "include_static"), "data.pairs")
            datasets.append(OperatorPairs(data, **options))
        else:
            options = dict(data_spec.get(windows_key, data_spec.get("windows", {})))
            check_keys(options, ("history", "horizon", "stride", "include_static"), f"data.{windows_key}")
            if options.get("horizon") == "all":  # one window per trajectory: the whole rollout
                steps = data.trajectories.shape[1]
                options.update(horizon=steps - options.get("history", 10), stride=steps)
            datasets.append(TimeWindows(data, **{"include_static": False, **options}))
    return datasets


def data_defaults_for(model: Any, data_spec: dict[str, Any]) -> dict[str, Any]:
    """A time stepper trains on one-step windows of its history and is evaluated on whole
    rollouts, unless the config says otherwise."""
    if not is_time_stepper(model):
        return data_spec
    data_spec = {"task": "windows", "windows": {"history": model.history, "horizon": 1}, **data_spec}
    data_spec.setdefault("eval_windows", {"history": model.history, "horizon": "all"})
    return data_spec
