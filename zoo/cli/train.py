"""``zoo train CONFIG`` and ``zoo finetune --from NAME_OR_PATH --data PATH``.

``zoo finetune`` on a plain array file (``.npy``, ``.safetensors``, or HDF5 with ``--key``)
holding ``(N, T, C, H, W)`` runs :func:`zoo.train.arrays.finetune_on_arrays` (splits, early
stopping, ``metrics.json``, ``--scratch``). On data sets in the published formats it builds one
run configuration (:mod:`zoo.train.config`) like ``zoo train`` and hands it to
:func:`zoo.train.run.run_training`, the function recipes call too; both run under ``torchrun``
unchanged (data parallel, see :mod:`zoo.train.distributed`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# zoo.data.arrays.ARRAY_SUFFIXES without HDF5, whose published layouts (PDEBench, The Well) are not plain arrays.
PLAIN_ARRAY_SUFFIXES = (".npy", ".safetensors")

# zoo.train.finetune.SPECTRAL_MODES, spelled out so that `zoo --help` imports no training code.
SPECTRAL_CHOICES = ("train", "freeze", "lora")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train a model from a YAML/JSON run configuration")
    train.add_argument("config", type=Path, help="run configuration (see zoo.train.config)")
    _run_options(train)
    train.set_defaults(func=_train, computes=True)

    finetune = subparsers.add_parser(
        "finetune",
        help="fine-tune a pretrained model on new data",
        description="Fine-tune a pretrained model. On your own trajectories: one array (N, T, C, H, W) "
        "(or (N, T, H, W) for one field) in .npy, .safetensors or HDF5 (--key); the run goes to "
        "OUT/finetuned (OUT/scratch with --scratch) with metrics.json and model/ (Hub layout).",
    )
    finetune.add_argument("--from", dest="source", required=True, help="checkpoint name, directory or Hub repo id")
    finetune.add_argument("--data", required=True, nargs="+", help="training data: an array file, or data sets (one path per grid resolution)")
    finetune.add_argument("--eval-data", nargs="+", help="test trajectories (array file; else held out from --data) or evaluation data")
    arrays = finetune.add_argument_group("array files (.npy, .safetensors, HDF5 with --key)")
    arrays.add_argument("--key", help="tensor (safetensors) or dataset (HDF5) holding the trajectories")
    arrays.add_argument("--fields", help="comma-separated names of the C channels, e.g. vorticity,scalar")
    arrays.add_argument("--scratch", action="store_true", help="train the same architecture from random weights (the baseline)")
    arrays.add_argument("--out", type=Path, help="parent folder of the runs finetuned/ and scratch/ (default zoo-finetune-<data stem>)")
    arrays.add_argument("--epochs", type=int, default=30, help="at most this many epochs (default 30)")
    arrays.add_argument("--patience", type=int, default=5, help="stop after this many epochs without a lower validation error (default 5)")
    arrays.add_argument("--validation", type=float, default=0.2, help="fraction of --data held out for early stopping (default 0.2)")
    arrays.add_argument("--validation-steps", type=int, default=4,
                        help="rollout length of the validation error early stopping watches (default 4; 0: whole trajectories)")
    arrays.add_argument("--seed", type=int, default=0, help="seed of the split and the training (default 0)")
    finetune.add_argument("--config", type=Path, help="a run configuration whose sections refine these options")
    finetune.add_argument("--spectral", choices=SPECTRAL_CHOICES, help="train, freeze or low-rank-adapt the spectral weights")
    finetune.add_argument("--spectral-lr-scale", type=float, help="learning-rate factor of the spectral weights")
    finetune.add_argument("--lora-rank", type=int, help="rank of the low-rank spectral updates (--spectral lora)")
    finetune.add_argument("--lr", type=float, help="peak learning rate")
    finetune.add_argument("--batch-size", type=int, help="global batch size")
    _run_options(finetune)
    finetune.set_defaults(func=_finetune, computes=True)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", type=Path, help="run directory (overrides trainer.out_dir)")
    parser.add_argument("--max-steps", type=int, help="overrides trainer.max_steps")
    parser.add_argument("--device", help="overrides trainer.device (auto, cpu, cuda)")
    parser.add_argument("--resume", action="store_true", help="continue from the run directory's latest checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="move a run already in the run directory aside and start afresh")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _train(args: argparse.Namespace) -> int:
    from zoo.train.config import load_config

    return _run(load_config(args.config), args)


def _finetune(args: argparse.Namespace) -> int:
    if _is_array_file(args):
        return _finetune_arrays(args)
    from zoo.data.specs import ConfigError
    from zoo.train.config import load_config

    if args.scratch or args.key or args.fields or args.out:
        raise ConfigError("--scratch, --key, --fields and --out apply to array files (.npy, .safetensors, HDF5 with --key)")

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
    return _run(config, args)


def _is_array_file(args: argparse.Namespace) -> bool:
    """One data path that is a plain array: .npy, .safetensors, or HDF5 named with --key."""
    suffix = Path(args.data[0]).suffix.lower()
    return len(args.data) == 1 and (suffix in PLAIN_ARRAY_SUFFIXES or (args.key is not None and suffix in (".h5", ".hdf5", ".hdf")))


def _finetune_arrays(args: argparse.Namespace) -> int:
    from zoo.data.specs import ConfigError
    from zoo.train.arrays import METRICS_FILE, RUN_NAMES, finetune_on_arrays

    if args.config or args.spectral_lr_scale or args.max_steps or args.out_dir:
        raise ConfigError("--config, --spectral-lr-scale, --max-steps and --out-dir apply to data sets; with an array file use --epochs and --out")
    if args.eval_data is not None and len(args.eval_data) != 1:
        raise ConfigError("--eval-data: give one array file of test trajectories")
    options = {"lr": args.lr, "batch_size": args.batch_size, "device": args.device, "spectral": args.spectral, "lora_rank": args.lora_rank}
    metrics = finetune_on_arrays(
        args.source,
        args.data[0],
        eval_data=args.eval_data[0] if args.eval_data else None,
        key=args.key,
        fields=args.fields.split(",") if args.fields else None,
        scratch=args.scratch,
        out=args.out,
        validation_fraction=args.validation,
        validation_steps=args.validation_steps or None,
        seed=args.seed,
        max_epochs=args.epochs,
        patience=args.patience,
        resume=args.resume,
        progress=not args.quiet,
        **{k: v for k, v in options.items() if v is not None},
    )
    run = Path(args.out if args.out is not None else f"zoo-finetune-{Path(args.data[0]).stem}")
    runs = {name: run / name / METRICS_FILE for name in RUN_NAMES.values()}
    print(f"wrote {run / RUN_NAMES[args.scratch]}/ (model/ in Hub layout, metrics.json)")
    found = {name: json.loads(path.read_text()) for name, path in runs.items() if path.exists()}
    found[RUN_NAMES[args.scratch]] = metrics
    print(_comparison(found))
    if len(found) == 1:
        other = "--scratch" if not args.scratch else "without --scratch"
        print(f"run again {other} (same options) to compare with {'training from scratch' if not args.scratch else 'fine-tuning'}")
    return 0


def _comparison(runs: dict[str, dict[str, Any]]) -> str:
    """Test errors of each run, one line each (mean +- 95% interval over test trajectories)."""
    first = next(iter(runs.values()))["test"]
    lines = [f"test relative L2 on {first['trajectories']} trajectories ({first['source']}); rollout of {first['rollout_steps']} steps:"]
    if len({json.dumps(m["data"], sort_keys=True) for m in runs.values()}) > 1:
        lines[0] += " -- the runs used different data, splits or test sets: not comparable"
    for name, metrics in runs.items():
        test, early = metrics["test"], metrics["early_stopping"]
        cell = lambda m: f"{m['mean']:.4f}" + (f" +- {m['ci95']:.4f}" if m["ci95"] is not None else "")  # noqa: E731
        lines.append(
            f"  {name:<9} one-step {cell(test['one_step_relative_l2'])}   rollout {cell(test['rollout_relative_l2'])}"
            f"   (best epoch {early['best_epoch']} of {early['epochs_run']}, {metrics['compute']['wall_seconds']:.0f} s)"
        )
        bands = metrics.get("conformal")
        if bands:
            lines.append(f"  {'':<9} {bands['level']:g} conformal band (calibrated on validation): " + (
                f"test coverage {bands['coverage']:.3f}, half-width {bands['half_width']:.4g} "
                f"({bands['relative_half_width']:.3f} of the truth's rms)" if "coverage" in bands else f"skipped ({bands['skipped']})"))
    return "\n".join(lines)


def _run(config: dict[str, Any], args: argparse.Namespace) -> int:
    """Train with the command line's overrides of the ``trainer`` section; print the last metrics."""
    from zoo.train.run import run_training

    trainer = dict(config.get("trainer", {}))
    overrides = {"out_dir": args.out_dir, "max_steps": args.max_steps, "device": args.device}
    trainer.update({k: str(v) if k == "out_dir" else v for k, v in overrides.items() if v is not None})
    if args.quiet:
        trainer["progress"] = False
    history = run_training({**config, "trainer": trainer}, resume=args.resume, overwrite=args.overwrite)
    if history:
        last = {split: next((r for r in reversed(history) if r["split"] == split), None) for split in ("train", "eval")}
        summary = {k: v for r in last.values() if r for k, v in r.items() if k != "split" and not isinstance(v, list)}
        print(json.dumps(summary))
    return 0
