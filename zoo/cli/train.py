"""``zoo train CONFIG`` and ``zoo finetune --from NAME_OR_PATH --data PATH``.

Both build one run configuration (:mod:`zoo.train.config`) and hand it to
:func:`zoo.train.run.run_training`, the function recipes call too; both run under ``torchrun``
unchanged (data parallel, see :mod:`zoo.train.distributed`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# zoo.train.finetune.SPECTRAL_MODES, spelled out so that `zoo --help` imports no training code.
SPECTRAL_CHOICES = ("train", "freeze", "lora")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train a model from a YAML/JSON run configuration")
    train.add_argument("config", type=Path, help="run configuration (see zoo.train.config)")
    _run_options(train)
    train.set_defaults(func=_train)

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
    finetune.set_defaults(func=_finetune)


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
    return _run(config, args)


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
