"""Run configuration files: plain YAML or JSON whose keys are constructor arguments.

::

    model:                          # a registered architecture and its constructor arguments
      architecture: FNO
      config: {in_channels: 1, out_channels: 1, modes: [12, 12], width: 32}
      # or instead:  from: NAME_OR_PATH     (start from a checkpoint; see `finetune`)
    data:                           # sources and datasets: see zoo.data.specs
      train: PATH
      eval: PATH                    # optional
      normalise: false              # true: per-channel statistics of the training data go into the
                                    # config of a FieldOperator / AutoregressiveOperator model
    objective:                      # optional; default supervised relative L2
      kind: supervised              # supervised | autoregressive | physics_informed
      loss: relative_l2             # supervised, autoregressive; data_loss for physics_informed
      # autoregressive: history, channels, teacher_forcing
      # physics_informed: physics: {equation: darcy|burgers|navier_stokes, ...its arguments},
      #                   data_weight, physics_weight, rollout_steps, channels
    finetune:                       # optional; see zoo.train.finetune and zoo.models.adapt
      new_heads: true               # rebuild the heads when the data's channels differ
      spectral: train               # train | freeze | lora
      spectral_lr_scale: 0.1
      lora_rank: 4
    trainer: {max_steps: 5000, batch_size: 20, lr: 1.0e-3, ...}   # TrainConfig fields
    metadata: {task: ..., pde: {...}}                              # model-card metadata (optional)

Every section is checked for unknown keys, so a typo is an error, not a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from zoo.data.specs import ConfigError, check_keys
from zoo.losses import BurgersPhysics, DarcyPhysics, NavierStokesPhysics
from zoo.models.registry import create_model
from zoo.train.compile_choice import normalise_setting
from zoo.train.objectives import Autoregressive, PhysicsInformed, Supervised
from zoo.train.schedules import SCHEDULES

SECTIONS = ("model", "data", "objective", "finetune", "trainer", "metadata")
PHYSICS = {"darcy": DarcyPhysics, "burgers": BurgersPhysics, "navier_stokes": NavierStokesPhysics}
PRECISIONS = ("fp32", "bf16")


@dataclasses.dataclass
class TrainConfig:
    """Every setting of a run; a config file's ``trainer`` section holds exactly these keys.

    Optimisation: AdamW with ``lr``, ``weight_decay``, ``betas``; ``schedule`` ``"cosine"``,
    ``"step"`` (``gamma`` every ``step_size`` steps) or ``"constant"`` after ``warmup_steps`` of
    linear warm-up, never below ``min_lr_factor * lr`` (cosine, step); ``grad_clip`` caps the
    global gradient norm (``None``: no clipping). ``batch_size`` is the global batch, split evenly
    over processes. ``precision="bf16"`` runs the forward pass under bf16 autocast, with zoo's
    precision policy (:mod:`zoo.layers.precision`: what the models keep in float32). ``compile``: ``"on"`` trains ``torch.compile(model)``,
    ``"off"`` the eager model, ``"auto"`` (default) measures both on the first batch and takes the
    faster and repays compiling, in runs of at least 500 steps and an hour of eager steps (:mod:`zoo.train.compile_choice`; the decision and its
    timings go to the metrics log as a ``"compile"`` record). ``true``/``false`` mean on/off.
    Bookkeeping: ``log_every``, ``eval_every`` and ``checkpoint_every`` in steps (0: never; a
    final evaluation and checkpoint are always made when there is somewhere to put them);
    ``out_dir`` receives ``metrics.jsonl``/``.csv``, ``plots/``, ``checkpoints/`` and ``model/``.
    Early stopping: with ``early_stopping_patience > 0`` training stops after that many
    evaluations in a row without a lower ``early_stopping_metric`` on the evaluation data, and the
    weights of the best evaluation are the ones kept (``model/``, and the trainer's model).
    """

    max_steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "cosine"
    warmup_steps: int = 0
    min_lr_factor: float = 0.0
    step_size: int = 100
    gamma: float = 0.5
    grad_clip: float | None = 1.0
    precision: str = "fp32"
    compile: str = "auto"
    seed: int = 0
    log_every: int = 10
    eval_every: int = 0
    eval_batch_size: int = 32
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    out_dir: str | None = None
    device: str = "auto"
    num_workers: int = 0
    progress: bool = True
    early_stopping_patience: int = 0
    early_stopping_metric: str = "relative_l2"

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        self.compile = normalise_setting(self.compile)
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {PRECISIONS}")
        if self.early_stopping_patience < 0:
            raise ValueError(f"early_stopping_patience must be >= 0, got {self.early_stopping_patience}")
        for name in ("max_steps", "batch_size", "log_every", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a config file's ``trainer`` section; an unknown key is an error listing the known."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown trainer settings {unknown}; known: {', '.join(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
