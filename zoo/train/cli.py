"""``zoo train CONFIG``, ``zoo finetune --from NAME_OR_PATH --data PATH`` and ``zoo eval NAME_OR_PATH --data PATH``.

``zoo train`` and ``zoo finetune`` run under ``torchrun`` unchanged (data parallel, see
:mod:`zoo.train.distributed`). Training code is imported when a command runs, so ``zoo --help``
stays fast.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# zoo.train.finetune.SPECTRAL_MODES, spelled out so that `zoo --help` imports no training code.
SPECTRAL_CHOICES = ("train", "freeze", "lora")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train a model from a YAML/JSON run configuration")
    train.add_argument("config", type=Path, help="run configuration (see zoo.train.config)")
    _run_options(train)
    train.set_defaults(func=_reporting_errors("train", _train))

    finetune = subparsers.add_parser("finetune", help="fine-tune a pretrained model on new data")
    finetune.add_argument("--from", dest="source", required=True, help="checkpoint name, directory or Hub repo id")
    finetune.add_argument("--data", required=True, nargs="+", help="training data (one path per grid resolution)")
    finetune.add_argument("--eval-data", nargs="+", help="evaluation data")
    finetune.add_argument("--config", type=Path, help="a run configuration whose sections refine these options")
    finetune.add_argument("--spectral", choices=SPECTRAL_CHOICES, help="train, freeze or low-rank-adapt the spectral weights")
    finetune.add_argument("--spectral-lr-scale", type=float, help="learning-rate factor of the spectral weights")
    finetune.add_argument("--lora-rank", type=int, help="rank of the low-rank spectral updates (--spectral lora)")
    finetune.add_argument("--lr", type=float, help="peak learning rate")
    finetune.add_argument("--batch-size", type=int, help="global batch size")
    _run_options(finetune)
    finetune.set_defaults(func=_reporting_errors("finetune", _finetune))

    evaluate = subparsers.add_parser("eval", help="relative L2 error of a model on data, at each resolution")
    evaluate.add_argument("model", help="checkpoint name, directory or Hub repo id")
    evaluate.add_argument("--data", required=True, nargs="+", help="test data files or directories")
    evaluate.add_argument(
        "--subsample",
        type=int,
        nargs="+",
        help="grid subsampling factors to evaluate (default: 1, 2, 4, ... while the grid holds the modes)",
    )
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--json", type=Path, help="also write the results to this JSON file")
    evaluate.set_defaults(func=_reporting_errors("eval", _evaluate))


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", type=Path, help="run directory (overrides trainer.out_dir)")
    parser.add_argument("--max-steps", type=int, help="overrides trainer.max_steps")
    parser.add_argument("--device", help="overrides trainer.device (auto, cpu, cuda)")
    parser.add_argument("--resume", action="store_true", help="continue from the run directory's latest checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _reporting_errors(name: str, command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Known failures (bad config, data that do not fit, missing checkpoints) as one line, exit 1."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from zoo.data import DataFileError
        from zoo.hub import CheckpointError, CheckpointNotFoundError
        from zoo.train.config import ConfigError
        from zoo.train.finetune import DataMismatchError

        try:
            return command(args)
        except (ConfigError, DataMismatchError, DataFileError, CheckpointError, CheckpointNotFoundError) as error:
            print(f"zoo {name}: error: {error}", file=sys.stderr)
            return 1

    return run


# ---- train and finetune


def _train(args: argparse.Namespace) -> int:
    from zoo.train.config import load_config

    return run_training(load_config(args.config), args)


def _finetune(args: argparse.Namespace) -> int:
    from zoo.train.config import load_config

    config = load_config(args.config) if args.config else {}
    config["model"] = {"from": args.source}
    config["data"] = {**config.get("data", {}), "train": args.data}
    if args.eval_data:
        config["data"]["eval"] = args.eval_data
    finetune = {"new_heads": True, **config.get("finetune", {})}
    for key in ("spectral", "spectral_lr_scale", "lora_rank"):
        if getattr(args, key) is not None:
            finetune[key] = getattr(args, key)
    config["finetune"] = finetune
    trainer = config.setdefault("trainer", {})
    for key in ("lr", "batch_size"):
        if getattr(args, key) is not None:
            trainer[key] = getattr(args, key)
    config["metadata"] = {"base_model": str(args.source), **config.get("metadata", {})}
    return run_training(config, args)


def run_training(config: dict[str, Any], args: argparse.Namespace) -> int:
    """Build model, data and objective from ``config`` and train (any process under torchrun)."""
    from zoo.train.config import ConfigError, build_model, build_objective, check_keys, load_sources
    from zoo.train.distributed import shutdown_distributed
    from zoo.train.finetune import finetuning_groups
    from zoo.train.normalisation import normalised_to
    from zoo.train.trainer import TrainConfig, Trainer, seed_everything

    trainer_settings = dict(config.get("trainer", {}))
    overrides = {"out_dir": args.out_dir, "max_steps": args.max_steps, "device": args.device}
    trainer_settings.update({k: str(v) if k == "out_dir" else v for k, v in overrides.items() if v is not None})
    if args.quiet:
        trainer_settings["progress"] = False
    try:
        train_config = TrainConfig.from_dict(trainer_settings)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"trainer: {error}") from None
    if args.resume and train_config.out_dir is None:
        raise ConfigError("--resume needs a run directory: set trainer.out_dir or pass --out-dir")
    if "model" not in config or "data" not in config or "train" not in config["data"]:
        raise ConfigError("a run configuration needs a 'model' section and 'data' with 'train'")
    data_spec = config["data"]
    check_keys(data_spec, ("train", "eval", "task", "pairs", "windows", "eval_windows", "normalise"), "data")
    seed_everything(train_config.seed)  # the same initial weights on every process and every run
    model = build_model(config["model"])
    data_spec = _data_defaults_for(model, data_spec)
    finetune = dict(config.get("finetune", {}))
    check_keys(finetune, ("new_heads", "spectral", "spectral_lr_scale", "lora_rank"), "finetune")
    train_sets = _datasets(load_sources(data_spec["train"], where="data.train"), data_spec)
    eval_sets = None
    if "eval" in data_spec:
        eval_sets = _datasets(load_sources(data_spec["eval"], where="data.eval"), data_spec, windows_key="eval_windows")
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
        history = trainer.fit(resume=args.resume)
    finally:
        shutdown_distributed(trainer.context)
    if trainer.context.is_main:
        last = {split: next((r for r in reversed(history) if r["split"] == split), None) for split in ("train", "eval")}
        summary = {k: v for r in last.values() if r for k, v in r.items() if k != "split" and not isinstance(v, list)}
        print(json.dumps(summary))
    return 0


def _is_time_stepper(model: Any) -> bool:
    return hasattr(model, "history") and hasattr(model, "channels")


def _data_defaults_for(model: Any, data_spec: dict[str, Any]) -> dict[str, Any]:
    """A time stepper trains on one-step windows of its history and is evaluated on whole
    rollouts, unless the config says otherwise."""
    if not _is_time_stepper(model):
        return data_spec
    data_spec = {"task": "windows", "windows": {"history": model.history, "horizon": 1}, **data_spec}
    data_spec.setdefault("eval_windows", {"history": model.history, "horizon": "all"})
    return data_spec


def _objective_for(model: Any, objective_spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """The configured objective, or for a time stepper the autoregressive one (for its final
    channels, after any new heads)."""
    if objective_spec is None and _is_time_stepper(model):
        return {"kind": "autoregressive", "history": model.history, "channels": model.channels}
    return objective_spec


def _datasets(fields: list, data_spec: dict[str, Any], *, windows_key: str = "windows") -> list:
    from zoo.train.config import build_datasets

    return build_datasets(fields, data_spec, windows_key=windows_key)


def _fit_model_to(model: Any, datasets: list, *, new_heads: bool) -> Any:
    """``model``, given new heads if the data's channels differ (and allowed), checked against every dataset."""
    from torch.utils.data import default_collate

    from zoo.train.finetune import check_data_fits, with_channels

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
        check_data_fits(model, x, None if _is_time_stepper(model) else y)
    return model


# ---- eval


def _evaluate(args: argparse.Namespace) -> int:
    from zoo.hub import from_pretrained
    from zoo.train.config import build_datasets, build_objective, load_sources
    from zoo.train.distributed import resolve_device
    from zoo.train.evaluation import evaluate
    from zoo.train.finetune import check_data_fits, minimum_grid, spectral_layers

    device = resolve_device(args.device)
    model = from_pretrained(args.model).to(device)
    data_spec = _data_defaults_for(model, {})
    objective = build_objective(_objective_for(model, None))
    layers = spectral_layers(model)
    rows = []
    for path in args.data:
        (full,) = load_sources(path, where="--data")
        for factor in args.subsample or _subsampling_factors(full.spatial_shape, minimum_grid(layers[0].modes) if layers else None):
            fields = full.subsample(factor) if factor != 1 else full
            (dataset,) = build_datasets([fields], data_spec, windows_key="eval_windows")
            x, y = (t[None] for t in dataset[0])
            check_data_fits(model, x, None if _is_time_stepper(model) else y)
            (result,) = evaluate(model, objective, dataset, batch_size=args.batch_size, device=device)
            rows.append({"data": str(path), "grid": list(fields.spatial_shape), "subsample": factor, "samples": result.samples, "metrics": result.metrics})
    width = max(len(r["data"]) for r in rows)
    print(f"{'data':<{width}}  {'grid':>9}  {'samples':>7}  relative_l2")
    for row in rows:
        grid = "x".join(map(str, row["grid"]))
        line = f"{row['data']:<{width}}  {grid:>9}  {row['samples']:>7}  {row['metrics']['relative_l2']:.4g}"
        per_step = row["metrics"].get("rollout_relative_l2")
        if per_step:
            line += f"   (first step {per_step[0]:.4g}, last step {per_step[-1]:.4g})"
        print(line)
    if args.json:
        from zoo.train.atomic import atomic_write_bytes

        atomic_write_bytes(args.json, (json.dumps({"model": str(args.model), "results": rows}, indent=2) + "\n").encode())
    return 0


def _subsampling_factors(spatial: tuple[int, ...], needed: list[int] | None) -> list[int]:
    """1, 2, 4, ... while every axis of the subsampled grid still holds the model's modes."""
    factors, factor = [], 1
    while True:
        grid = [-(-n // factor) for n in spatial]
        if factor > 1 and (needed is None or any(g < k for g, k in zip(grid, needed))):
            return factors
        factors.append(factor)
        factor *= 2
        if min(grid) < 2:
            return factors
