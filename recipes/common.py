"""What every pretraining recipe shares: a resumable training run and publishing the result.

A recipe trains in ``runs/<name>/`` (checkpoints every few minutes, so an interrupted run resumes
where it stopped with ``--resume``), evaluates the final model, writes its plots, and publishes it
to ``pretrained/<name>/`` with ``zoo.save_pretrained`` (config, weights, evaluation, model card).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.devices import describe_device
from zoo.hub import save_pretrained
from zoo.files import atomic_write_bytes
from zoo.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]


def parse_args(description: str, *, kinds: list[str] | None = None, max_steps: bool = True) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    if kinds:
        parser.add_argument("kind", choices=kinds, help="which model to train")
    if max_steps:
        parser.add_argument("--max-steps", type=int, help="override the recipe's number of steps")
    parser.add_argument("--resume", action="store_true", help="continue from runs/<name>/checkpoints")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args


def run_dir(name: str) -> Path:
    return ROOT / "runs" / name


def train(name: str, model: nn.Module, train_data: Any, config: TrainConfig, *, resume: bool, **trainer_options: Any) -> dict[str, Any]:
    """Train ``model`` in ``runs/<name>`` (a finished run resumes to its end at once).

    Returns the compute used, summed over every call that trained this run.
    """
    config.out_dir = str(run_dir(name))
    trainer = Trainer(model, train_data, config, **trainer_options)
    start = time.perf_counter()
    trainer.fit(resume=resume)
    ledger_path = run_dir(name) / "compute.json"
    ledger = json.loads(ledger_path.read_text()) if resume and ledger_path.exists() else {"wall_seconds": 0.0}
    ledger.update(
        wall_seconds=round(ledger["wall_seconds"] + time.perf_counter() - start, 1),
        steps=trainer.step,
        machine=(describe_device(trainer.device) if trainer.device.type == "cuda"
                 else f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads (shared with other jobs)"),
        command=shlex.join(["python", *sys.argv]),
    )
    atomic_write_bytes(ledger_path, json.dumps(ledger, indent=2).encode())
    model.eval()
    return ledger


def publish(name: str, model: nn.Module, *, metadata: dict[str, Any], evaluation: dict[str, Any]) -> Path:
    """Write ``pretrained/<name>/`` (plots must already be in its ``plots/`` folder)."""
    return save_pretrained(model, ROOT / "pretrained" / name, metadata=metadata, evaluation=evaluation, name=name)


def plots_dir(name: str) -> Path:
    return ROOT / "pretrained" / name / "plots"
