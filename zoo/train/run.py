"""A run from its configuration dict (sections in :mod:`zoo.train.config`, data in :mod:`zoo.data.specs`):
the one path from a YAML file, ``zoo finetune``'s options or Python to a trained model, under ``torchrun`` or alone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import default_collate

from zoo.data.specs import ConfigError, build_datasets, check_keys, data_defaults_for, load_sources
from zoo.models.adapt import check_data_fits, with_channels
from zoo.models.normalisation import normalised_to
from zoo.models.time_stepper import is_time_stepper
from zoo.train.config import TrainConfig, build_model, build_objective
from zoo.train.distributed import shutdown_distributed
from zoo.train.finetune import finetuning_groups
from zoo.train.trainer import Trainer, seed_everything


def run_training(config: dict[str, Any], *, resume: bool = False, overwrite: bool = False) -> list[dict[str, Any]]:
    """Build model, data and objective from ``config`` and train; returns the metric records
    (rank 0; other processes get an empty list). ``resume`` continues from the run directory's
    latest checkpoint; ``overwrite`` moves a run already there aside (see :mod:`zoo.train.run_dir`)."""
    try:
        train_config = TrainConfig.from_dict(dict(config.get("trainer", {})))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"trainer: {error}") from None
    if resume and train_config.out_dir is None:
        raise ConfigError("--resume needs a run directory: set trainer.out_dir or pass --out-dir")
    if train_config.out_dir is not None and Path(train_config.out_dir).exists() and not Path(train_config.out_dir).is_dir():
        raise ConfigError(f"the run directory {train_config.out_dir} is a file; choose another --out-dir")
    if "model" not in config or "data" not in config or "train" not in config["data"]:
        raise ConfigError("a run configuration needs a 'model' section and 'data' with 'train'")
    data_spec = config["data"]
    check_keys(data_spec, ("train", "eval", "task", "pairs", "windows", "eval_windows", "normalise"), "data")
    seed_everything(train_config.seed)  # the same initial weights on every process and every run
    model = build_model(config["model"])
    data_spec = data_defaults_for(model, data_spec)
    finetune = dict(config.get("finetune", {}))
    check_keys(finetune, ("new_heads", "spectral", "spectral_lr_scale", "lora_rank"), "finetune")
    train_sets = build_datasets(load_sources(data_spec["train"], where="data.train"), data_spec)
    eval_sets = None
    if "eval" in data_spec:
        eval_sets = build_datasets(load_sources(data_spec["eval"], where="data.eval"), data_spec, windows_key="eval_windows")
    model = _fit_model_to(model, train_sets + (eval_sets or []), new_heads=finetune.pop("new_heads", False))
    if data_spec.get("normalise", False):
        try:
            model = normalised_to(model, train_sets[0])
        except ValueError as error:
            raise ConfigError(f"data.normalise: {error}") from None
    param_groups = finetuning_groups(model, **finetune) if finetune else None
    trainer = Trainer(
        model,
        train_sets,
        train_config,
        objective=build_objective(_objective_for(model, config.get("objective"))),
        eval_data=eval_sets,
        param_groups=param_groups,
        metadata=config.get("metadata"),
    )
    try:
        history = trainer.fit(resume=resume, overwrite=overwrite)
    finally:
        shutdown_distributed(trainer.context)
    return history if trainer.context.is_main else []


def _objective_for(model: nn.Module, objective_spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The configured objective, or for a time stepper the autoregressive one (for its final
    channels, after any new heads)."""
    if objective_spec is None and is_time_stepper(model):
        return {"kind": "autoregressive", "history": model.history, "channels": model.channels}
    return objective_spec


def _fit_model_to(model: nn.Module, datasets: list, *, new_heads: bool) -> nn.Module:
    """``model``, given new heads if the data's channels differ (and allowed), checked against every dataset."""
    x, y = default_collate([datasets[0][0]])
    in_channels, out_channels = x.shape[1], y.shape[1]
    if new_heads and (in_channels, out_channels) != (model.in_channels, model.out_channels):
        history = getattr(model, "history", None)
        if history is not None:  # a time stepper's input channels follow from its output channels
            model = with_channels(model, out_channels=in_channels // history)
        else:
            model = with_channels(model, in_channels=in_channels, out_channels=out_channels)
        print(
            f"zoo: new heads for {in_channels} -> {out_channels} channels; the Fourier blocks are kept",
            file=sys.stderr,
        )
    for dataset in datasets:
        x, y = default_collate([dataset[0]])
        check_data_fits(model, x, None if is_time_stepper(model) else y)
    return model
