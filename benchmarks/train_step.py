"""What the Trainer costs over a bare training loop, and what bf16 autocast buys, per step.

    .venv/bin/python benchmarks/train_step.py [--device cpu] [--steps 30] [--trials 3]

The FNO paper's FNO-2D on its Navier-Stokes step (10 vorticity frames -> the next, 64x64, width
20, 12 modes, 4 layers, batch 20), on in-memory random data of that shape. Three ways to run the
same number of AdamW steps:

* ``bare``: ``loss = relative_l2(model(x), y)``, backward, step, over pre-built batches;
* ``trainer``: ``Trainer.fit`` with logging every 10 steps, no checkpoints (what users run);
* ``trainer-bf16``: the same with ``precision="bf16"`` (spectral transforms stay float32).

Each is timed ``--trials`` times, interleaved (the machine may be shared); figures are the median
steps per second and the ratios to ``bare`` measured in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import TensorDataset

from zoo.models import FNO
from zoo.devices import resolve_device
from zoo.losses import relative_l2
from zoo.train import TrainConfig, Trainer, seed_everything
from zoo.train.distributed import DistributedContext

SAMPLES, BATCH, GRID, HISTORY = 100, 20, 64, 10


def make_model(device: torch.device) -> FNO:
    seed_everything(0)
    return FNO(HISTORY, 1, modes=[12, 12], width=20, n_layers=4, projection_channels=128).to(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare(data: TensorDataset, steps: int, device: torch.device) -> float:
    model = make_model(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    x, y = (t.to(device) for t in data.tensors)
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, SAMPLES, BATCH)]
    synchronize(device)
    start = time.perf_counter()
    for step in range(steps):
        inputs, targets = batches[step % len(batches)]
        loss = relative_l2(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    synchronize(device)
    return steps / (time.perf_counter() - start)


def trainer(data: TensorDataset, steps: int, device: torch.device, precision: str) -> float:
    config = TrainConfig(max_steps=steps, batch_size=BATCH, precision=precision, log_every=10, progress=False, device=str(device))
    run = Trainer(make_model(device), data, config, context=DistributedContext(device=device))
    synchronize(device)
    start = time.perf_counter()
    run.fit()
    synchronize(device)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    device = resolve_device(args.device)
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(SAMPLES, HISTORY, GRID, GRID, generator=generator), torch.randn(SAMPLES, 1, GRID, GRID, generator=generator))
    runs = {
        "bare": lambda: bare(data, args.steps, device),
        "trainer": lambda: trainer(data, args.steps, device, "fp32"),
        "trainer-bf16": lambda: trainer(data, args.steps, device, "bf16"),
    }
    for run in runs.values():  # warm-up: first-call allocations, lazy imports, kernel selection
        run()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.trials):
        for name, run in runs.items():
            rates[name].append(run())
    medians = {name: statistics.median(values) for name, values in rates.items()}
    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    print(f"device {device} (threads {threads}), {args.steps} steps x {args.trials} trials, batch {BATCH}, {GRID}x{GRID}")
    print(f"{'run':<14} {'steps/s':>9} {'vs bare':>8}")
    for name, rate in medians.items():
        print(f"{name:<14} {rate:>9.2f} {rate / medians['bare']:>8.3f}")


if __name__ == "__main__":
    main()
