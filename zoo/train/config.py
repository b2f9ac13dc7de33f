"""Run configuration files: plain YAML or JSON whose keys are constructor arguments.

::

    model:                          # a registered architecture and its constructor arguments
      architecture: FNO
      config: {in_channels: 1, out_channels: 1, modes: [12, 12], width: 32}
      # or instead:  from: NAME_OR_PATH     (start from a checkpoint; see `finetune`)
    data:
      train: PATH                   # or {path, format, samples: [start, stop], subsample: k},
                                    # or a list of those (one per grid resolution)
      eval: PATH                    # same forms; optional
      task: pairs                   # "pairs" (OperatorPairs) or "windows" (TimeWindows)
      pairs: {input_times: [0], target_times: [-1], include_static: true}
      windows: {history: 10, horizon: 1, stride: 1, include_static: false}
      eval_windows: {history: 10, horizon: all}   # optional: evaluation windows ("all": whole rollout)
      normalise: false              # true: per-channel statistics of the training data go into the
                                    # config of a FieldOperator / AutoregressiveOperator model
    objective:                      # optional; default supervised relative L2
      kind: supervised              # supervised | autoregressive | physics_informed
      loss: relative_l2             # supervised, autoregressive; data_loss for physics_informed
      # autoregressive: history, channels, teacher_forcing
      # physics_informed: physics: {equation: darcy|burgers|navier_stokes, ...its arguments},
      #                   data_weight, physics_weight, rollout_steps, channels
    finetune:                       # optional; see zoo.train.finetune
      new_heads: true               # rebuild the heads when the data's channels differ
      spectral: train               # train | freeze | lora
      spectral_lr_scale: 0.1
      lora_rank: 4
    trainer: {max_steps: 5000, batch_size: 20, lr: 1.0e-3, ...}   # TrainConfig fields
    metadata: {task: ..., pde: {...}}                              # model-card metadata (optional)

Every section is checked for unknown keys, so a typo is an error, not a silently ignored setting.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from torch import nn
from torch.utils.data import Dataset

from zoo.data import FieldData, OperatorPairs, TimeWindows, load_fields
from zoo.models.registry import create_model
from zoo.train.objectives import Autoregressive, PhysicsInformed, Supervised
from zoo.train.physics import BurgersPhysics, DarcyPhysics, NavierStokesPhysics

SECTIONS = ("model", "data", "objective", "finetune", "trainer", "metadata")
PHYSICS = {"darcy": DarcyPhysics, "burgers": BurgersPhysics, "navier_stokes": NavierStokesPhysics}
TASKS = ("pairs", "windows")


class ConfigError(ValueError):
    """A run configuration that cannot be used as written; the message names the key."""


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a ``.yaml``/``.yml``/``.json`` run configuration and check its top-level sections."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    text = path.read_text()
    try:
        config = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a run configuration is a mapping of sections {SECTIONS}")
    check_keys(config, SECTIONS, str(path))
    return config


def check_keys(section: dict[str, Any], known: Sequence[str], where: str) -> None:
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {', '.join(known)}")


def build_model(spec: dict[str, Any]) -> nn.Module:
    """A model from ``{architecture, config}`` (fresh) or ``{from: NAME_OR_PATH}`` (a checkpoint)."""
    check_keys(spec, ("architecture", "config", "from"), "model")
    if "from" in spec:
        if len(spec) > 1:
            raise ConfigError("model: give either 'from' or 'architecture' and 'config', not both")
        from zoo.hub import from_pretrained

        return from_pretrained(spec["from"]).train()
    if "architecture" not in spec:
        raise ConfigError("model: needs 'architecture' (a registered name) and its 'config', or 'from'")
    try:
        return create_model(spec["architecture"], **spec.get("config", {}))
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"model: {error}") from None


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


def build_objective(spec: dict[str, Any] | None) -> Any:
    """The objective named by ``spec["kind"]`` with the rest of ``spec`` as its arguments."""
    spec = dict(spec or {})
    kind = spec.pop("kind", "supervised")
    try:
        if kind == "supervised":
            return Supervised(**spec)
        if kind == "autoregressive":
            return Autoregressive(**spec)
        if kind == "physics_informed":
            physics = dict(spec.pop("physics", {}))
            equation = physics.pop("equation", None)
            if equation not in PHYSICS:
                raise ConfigError(f"objective.physics.equation: choose one of {sorted(PHYSICS)}, got {equation!r}")
            return PhysicsInformed(PHYSICS[equation](**physics), **spec)
    except TypeError as error:
        raise ConfigError(f"objective ({kind}): {error}") from None
    raise ConfigError(f"objective.kind: unknown {kind!r}; choose supervised, autoregressive or physics_informed")
