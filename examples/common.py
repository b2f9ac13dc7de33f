"""What every example shares: command-line options, generated data, the checkpoint it starts from,
and where its figures go.

Each example is a script that prints its figures and writes its plots and ``results.json`` to
``outputs/examples/<example>/`` (``--out`` to change). ``--quick`` runs a small version of the same
code (the tests run it); the figures in BENCHMARKS.md come from the full run. Data are generated
on first use into ``data/examples/<name>/`` with zoo's resumable, deterministic generator, so a
second run (or one resumed after an interruption) reuses them.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shlex
import sys
from pathlib import Path
from typing import Any

import copy

import torch
from torch import nn

from zoo.data import FieldData, TimeWindows, load_fields
from zoo.data.generate import generate
from zoo.data.equations import navier_stokes_recipe
from zoo.files import atomic_write_text
from zoo.hub.schema import read_config
from zoo.hub.sources import find_pretrained
from zoo.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "examples"


def parse_args(description: str, example: str, argv: list[str] | None = None, *, extra=None) -> argparse.Namespace:
    """Common options (``--quick``, ``--out``, ``--threads``, ``--seed``, ``--data``); ``extra(parser)`` adds more."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small version of the same run (seconds, for tests)")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "examples" / example, help="plots and results.json")
    parser.add_argument("--data", type=Path, default=DATA, help="where generated data are kept")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def ns2d_data(
    root: Path,
    name: str,
    *,
    samples: int,
    seed: int,
    viscosity: float = 1e-3,
    forcing: str = "fno",
    resolution: int = 64,
    steps: int = 50,
    record_every: float = 1.0,
    dt: float | None = None,
    diffusivity: float | None = None,
    shard_size: int = 50,
) -> FieldData:
    """Vorticity (and scalar, with ``diffusivity``) trajectories ``(samples, steps + 1, C, n, n)``, generated once."""
    recipe = navier_stokes_recipe(
        viscosity=viscosity, resolution=resolution, steps=steps, record_every=record_every, dt=dt,
        diffusivity=diffusivity, forcing=forcing,
    )
    directory = root / name
    generate(directory, recipe, samples=samples, seed=seed, shard_size=min(shard_size, samples), progress=False,
             command=f"examples: {name}")
    return load_fields(directory, samples=(0, samples))


def finetune(
    pretrained: nn.Module, data: FieldData, samples: list[int], *, history: int, steps: int, batch_size: int,
    lr: float, warmup_steps: int = 0, subsample: int = 1, seed: int,
) -> tuple[nn.Module, list[float]]:
    """A copy of ``pretrained`` fine-tuned on one-step windows of trajectories ``samples`` of ``data``.

    Frame t = 0 is dropped (FNO-paper protocol); training runs on every ``subsample``-th grid point,
    AdamW with a cosine schedule after ``warmup_steps`` (the trainer's defaults otherwise), all weights
    trained. Returns the model (in eval mode) and its logged training losses (relative L2 of one step).
    """
    model = copy.deepcopy(pretrained)
    windows = TimeWindows(data.select(samples=samples, times=slice(1, None)).subsample(subsample), history=history)
    config = TrainConfig(max_steps=steps, batch_size=batch_size, lr=lr, warmup_steps=warmup_steps, seed=seed,
                         log_every=max(1, steps // 10), progress=False, device="cpu")
    records = Trainer(model, windows, config).fit()
    return model.eval(), [record["loss"] for record in records]


def checkpoint_record(name: str) -> dict[str, Any]:
    """Which checkpoint an example started from: its name and weights' sha256 (the revision)."""
    config = read_config(find_pretrained(name))
    return {"name": name, "weights_sha256": config.get("weights_sha256")}


def write_results(out: Path, results: dict[str, Any]) -> Path:
    """Write (and say so) ``out/results.json`` with the command and machine that produced it."""
    record = {"command": shlex.join(["python", *sys.argv]), "machine": f"{platform.machine()} CPU, "
              f"{torch.get_num_threads()} torch thread(s)", **results}
    path = out / "results.json"
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return path
