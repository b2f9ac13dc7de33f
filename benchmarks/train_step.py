"""A `zoo train` step against the model's own forward+backward: what the rest of the step costs.

    .venv/bin/python benchmarks/train_step.py [--models fno transformer] [--steps 20] [--trials 3] [--profile]

The two published NS architectures (``pretrained/fno-ns2d-nu1e-3``: FNO-2D width 20, 12 modes;
``pretrained/transformer-fno-ns2d-nu1e-3``: Fourier-mixer transformer, patch 2, width 64, depth
4), each inside its ``AutoregressiveOperator`` (which normalises its input and output), untrained,
on the recipe's step (10 vorticity frames -> the next, 64x64, batch 16), from an in-memory
dataset of that shape. Per model, the same number of steps four ways:

* ``model``: forward and backward of the model on pre-built batches (nothing else);
* ``bare``: plus ``relative_l2``, gradient clipping and AdamW (a hand-written loop);
* ``trainer``: ``Trainer.fit`` as ``zoo train`` runs it: batches collated from the dataset by its
  batch plan, learning-rate schedule, gradient-norm check, logging every 10 steps and a checkpoint
  (model, optimizer, trainer state; atomic writes) every 10 steps;
* ``trainer-bf16``: the same with ``precision="bf16"``.

Each is timed ``--trials`` times, interleaved (the machine may be shared); figures are the median
seconds per step, the ratios to ``model`` measured in the same process, and the share of the
trainer's step spent outside the model's forward and backward (``1 - model / trainer``).
``--profile`` prints torch.profiler's top operators of a few trainer steps.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as fno_cpu.py: spinning threads distort shared-machine timings
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

import zoo
from zoo.devices import resolve_device
from zoo.losses import relative_l2
from zoo.train import TrainConfig, Trainer, seed_everything
from zoo.train.distributed import DistributedContext

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"
ARCHITECTURES = {"fno": "fno-ns2d-nu1e-3", "transformer": "transformer-fno-ns2d-nu1e-3"}
SAMPLES, BATCH, GRID, HISTORY = 64, 16, 64, 10
CADENCE = 10  # log and checkpoint every this many steps


def make_model(name: str, device: torch.device) -> torch.nn.Module:
    seed_everything(0)
    saved = json.loads((PRETRAINED / ARCHITECTURES[name] / "config.json").read_text())
    return zoo.create_model(saved["architecture"], **saved["config"]).to(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def batches(data: TensorDataset, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = (t.to(device) for t in data.tensors)
    return [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, SAMPLES, BATCH)]


def model_only(name: str, data: TensorDataset, steps: int, device: torch.device) -> float:
    model = make_model(name, device)
    prepared = batches(data, device)
    synchronize(device)
    start = time.perf_counter()
    for step in range(steps):
        inputs, _ = prepared[step % len(prepared)]
        model.zero_grad(set_to_none=True)
        model(inputs).square().mean().backward()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def bare(name: str, data: TensorDataset, steps: int, device: torch.device) -> float:
    model = make_model(name, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    prepared = batches(data, device)
    synchronize(device)
    start = time.perf_counter()
    for step in range(steps):
        inputs, targets = prepared[step % len(prepared)]
        loss = relative_l2(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def trainer(name: str, data: TensorDataset, steps: int, device: torch.device, precision: str, profile: bool = False) -> float:
    with tempfile.TemporaryDirectory() as out_dir:
        config = TrainConfig(
            max_steps=steps, batch_size=BATCH, precision=precision, log_every=CADENCE, checkpoint_every=CADENCE,
            out_dir=out_dir, progress=False, device=str(device),
        )
        run = Trainer(make_model(name, device), data, config, context=DistributedContext(device=device))
        synchronize(device)
        start = time.perf_counter()
        if profile:
            from torch.profiler import profile as profiler

            with profiler() as prof:
                run.fit()
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        else:
            run.fit()
        synchronize(device)
        # The final model export (model/ folder and reports) happens once per run, not per step:
        # it is inside this time, as it is in `zoo train`; with --steps >= 20 it is a small part.
        return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", nargs="+", choices=sorted(ARCHITECTURES), default=sorted(ARCHITECTURES))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's top operators of trainer steps")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.randn(SAMPLES, HISTORY, GRID, GRID, generator=generator), torch.randn(SAMPLES, 1, GRID, GRID, generator=generator)
    )
    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    print(f"device {device} (threads {threads}), {args.steps} steps x {args.trials} trials, batch {BATCH}, {GRID}x{GRID}, "
          f"log and checkpoint every {CADENCE} steps; load average {os.getloadavg()[0]:.1f}")
    for name in args.models:
        runs = {
            "model": lambda: model_only(name, data, args.steps, device),
            "bare": lambda: bare(name, data, args.steps, device),
            "trainer": lambda: trainer(name, data, args.steps, device, "fp32"),
            "trainer-bf16": lambda: trainer(name, data, args.steps, device, "bf16"),
        }
        for run in runs.values():  # warm-up: first-call allocations, lazy imports, DFT matrices
            run()
        seconds: dict[str, list[float]] = {key: [] for key in runs}
        for _ in range(args.trials):
            for key, run in runs.items():
                seconds[key].append(run())
        medians = {key: statistics.median(values) for key, values in seconds.items()}
        print(f"\n{name} ({ARCHITECTURES[name]} architecture); load average {os.getloadavg()[0]:.1f}")
        print(f"{'run':<14} {'s/step':>8} {'vs model':>9} {'min-max s/step':>16}")
        for key, value in medians.items():
            print(f"{key:<14} {value:>8.3f} {value / medians['model']:>9.3f} {min(seconds[key]):>7.3f}-{max(seconds[key]):.3f}")
        print(f"share of the trainer's step outside the model's forward+backward: {1 - medians['model'] / medians['trainer']:.1%}")
        if args.profile:
            trainer(name, data, args.steps, device, "fp32", profile=True)


if __name__ == "__main__":
    main()
