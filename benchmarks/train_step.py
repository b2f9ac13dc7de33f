"""A `zoo train` step against the model's own forward+backward: what the rest of the step costs.

    .venv/bin/python benchmarks/train_step.py [--models fno transformer] [--steps 20] [--trials 3] [--profile]

Three published architectures, untrained: the two NS ones (``pretrained/fno-ns2d-nu1e-3``: FNO-2D
width 20, 12 modes; ``pretrained/transformer-fno-ns2d-nu1e-3``: Fourier-mixer transformer, patch 2,
width 64, depth 4), each inside its ``AutoregressiveOperator`` (which normalises its input and
output), on the recipe's step (10 vorticity frames -> the next), and the multi-physics operator
(``pretrained/multiphysics-operator-2d``: width 64, depth 6, 10 modes) as the
``MultiphysicsStepper`` that ``zoo finetune --fields vorticity`` trains (4 frames -> the next);
64x64, batch 16, from an in-memory dataset of that shape. Per model, the same number of steps
four ways:

* ``model``: forward and backward of the model on pre-built batches (nothing else);
* ``bare``: plus ``relative_l2``, gradient clipping and AdamW (a hand-written loop);
* ``trainer``: ``Trainer.fit`` as ``zoo train`` runs it, without files: batches collated from the
  dataset by its batch plan, learning-rate schedule, gradient-norm check, logging every 10 steps;
* ``checkpoint``: one checkpoint (model, optimizer, trainer state; atomic writes), amortised over
  ``--checkpoint-every`` steps (250, the NS recipe's cadence) in the share below;
* ``trainer-bf16`` (``--bf16``): ``trainer`` with ``precision="bf16"``.

Each is timed ``--trials`` times, interleaved (the machine may be shared), in wall-clock and
process CPU seconds; figures are the medians per step, the ratios to ``model`` measured in the same
process, and the share of a step spent outside the model's forward and backward,
``1 - model / (trainer + checkpoint / cadence)``. The
trainer runs eager (``compile="off"``): the model-only loop is eager too. Results go to
``benchmarks/results/train_step_<device>.{json,md}`` (``--output`` to change).
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

from results_files import results_prefix, save_results

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"
ARCHITECTURES = {"fno": "fno-ns2d-nu1e-3", "transformer": "transformer-fno-ns2d-nu1e-3", "multiphysics": "multiphysics-operator-2d"}
SAMPLES, BATCH, GRID = 64, 16, 64
CADENCE = 10  # log every this many steps


def make_model(name: str, device: torch.device) -> torch.nn.Module:
    seed_everything(0)
    saved = json.loads((PRETRAINED / ARCHITECTURES[name] / "config.json").read_text())
    if saved["architecture"] == "MultiphysicsOperator":  # as `zoo finetune --fields vorticity` wraps it
        return zoo.create_model("MultiphysicsStepper", data_fields=["vorticity"], **saved["config"]).to(device)
    return zoo.create_model(saved["architecture"], **saved["config"]).to(device)


def input_frames(name: str) -> int:
    """Input channels of the model's step: its history (NS models) or context (multi-physics) frames."""
    saved = json.loads((PRETRAINED / ARCHITECTURES[name] / "config.json").read_text())["config"]
    return saved.get("context", saved.get("history"))


def make_data(name: str) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    return TensorDataset(
        torch.randn(SAMPLES, input_frames(name), GRID, GRID, generator=generator),
        torch.randn(SAMPLES, 1, GRID, GRID, generator=generator),
    )


def device_label(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def batches(data: TensorDataset, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = (t.to(device) for t in data.tensors)
    return [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, SAMPLES, BATCH)]


class Clock:
    """Wall-clock and process CPU seconds since creation (CPU time is steadier on a shared machine)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        synchronize(device)
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def per_step(self, steps: int) -> tuple[float, float]:
        synchronize(self.device)
        return (time.perf_counter() - self.wall) / steps, (time.process_time() - self.cpu) / steps


def model_only(name: str, data: TensorDataset, steps: int, device: torch.device) -> tuple[float, float]:
    model = make_model(name, device)
    prepared = batches(data, device)
    clock = Clock(device)
    for step in range(steps):
        inputs, _ = prepared[step % len(prepared)]
        model.zero_grad(set_to_none=True)
        model(inputs).square().mean().backward()
    return clock.per_step(steps)


def bare(name: str, data: TensorDataset, steps: int, device: torch.device) -> tuple[float, float]:
    model = make_model(name, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    prepared = batches(data, device)
    clock = Clock(device)
    for step in range(steps):
        inputs, targets = prepared[step % len(prepared)]
        loss = relative_l2(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return clock.per_step(steps)


def trainer(name: str, data: TensorDataset, steps: int, device: torch.device, precision: str, profile: bool = False) -> tuple[float, float]:
    """``Trainer.fit`` steps without files (no ``out_dir``): data, schedule, objective, clipping,
    the finiteness check, AdamW and in-memory logging every 10 steps. Checkpoints are timed apart
    (:func:`checkpoint`) and amortised over a cadence."""
    config = TrainConfig(
        max_steps=steps, batch_size=BATCH, precision=precision, log_every=CADENCE, progress=False,
        device=str(device), compile="off",
    )
    run = Trainer(make_model(name, device), data, config, context=DistributedContext(device=device))
    clock = Clock(device)
    if profile:
        from torch.profiler import profile as profiler

        with profiler() as prof:
            run.fit()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    else:
        run.fit()
    return clock.per_step(steps)


def checkpoint(name: str, data: TensorDataset, device: torch.device) -> tuple[float, float]:
    """One checkpoint (model, AdamW moments, trainer state; atomic writes), as ``checkpoint_every`` makes."""
    with tempfile.TemporaryDirectory() as out_dir:
        config = TrainConfig(max_steps=1, batch_size=BATCH, progress=False, device=str(device), compile="off", out_dir=out_dir)
        run = Trainer(make_model(name, device), data, config, context=DistributedContext(device=device))
        run.train_step(next(run._train_batches()))  # AdamW's moments exist from the first step on
        clock = Clock(device)
        run.save_checkpoint()
        return clock.per_step(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", nargs="+", choices=sorted(ARCHITECTURES), default=sorted(ARCHITECTURES))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-every", type=int, default=250, help="cadence the checkpoint cost is amortised over (the NS recipe's)")
    parser.add_argument("--bf16", action="store_true", help="also time Trainer.fit with precision='bf16'")
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's top operators of trainer steps")
    parser.add_argument("--output", type=Path, help="results prefix (default benchmarks/results/train_step_<device>)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    header = (f"device {device} (threads {threads}), torch {torch.__version__}, {args.steps} steps x {args.trials} "
              f"interleaved trials, batch {BATCH}, {GRID}x{GRID}, checkpoint cost amortised over {args.checkpoint_every} "
              f"steps; load average {os.getloadavg()[0]:.1f}")
    print(header)
    prefix = results_prefix("train_step", device_label(device), args.output)
    results: dict = {"setup": header, "models": {}}
    lines = [
        header, "",
        "| model | run | wall s/step (median) | CPU s/step (median) | CPU vs model | CPU min-max |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name in args.models:
        data = make_data(name)
        runs = {
            "model": lambda: model_only(name, data, args.steps, device),
            "bare": lambda: bare(name, data, args.steps, device),
            "trainer": lambda: trainer(name, data, args.steps, device, "fp32"),
            "checkpoint": lambda: checkpoint(name, data, device),
        }
        if args.bf16:
            runs["trainer-bf16"] = lambda: trainer(name, data, args.steps, device, "bf16")
        for run in runs.values():  # warm-up: first-call allocations, lazy imports, DFT matrices
            run()
        wall: dict[str, list[float]] = {key: [] for key in runs}
        cpu: dict[str, list[float]] = {key: [] for key in runs}
        for _ in range(args.trials):
            for key, run in runs.items():
                w, c = run()
                wall[key].append(w)
                cpu[key].append(c)
        med = {key: (statistics.median(wall[key]), statistics.median(cpu[key])) for key in runs}
        # The share of a step outside the model, per clock: trainer step plus the checkpoint
        # amortised over its cadence, against the model's forward and backward alone.
        shares = [1 - med["model"][i] / (med["trainer"][i] + med["checkpoint"][i] / args.checkpoint_every) for i in (0, 1)]
        print(f"\n{name} ({ARCHITECTURES[name]} architecture); load average {os.getloadavg()[0]:.1f}")
        for key, (w, c) in med.items():
            print(f"{key:<14} wall {w:8.3f} s  CPU {c:8.3f} s  CPU vs model {c / med['model'][1]:6.3f}  CPU {min(cpu[key]):.3f}-{max(cpu[key]):.3f}")
        print(f"share of a step outside the model (checkpoint every {args.checkpoint_every}): wall {shares[0]:.1%}, CPU {shares[1]:.1%}")
        results["models"][name] = {"wall": wall, "cpu": cpu, "share_outside_model": {"wall": shares[0], "cpu": shares[1]}, "load_after": os.getloadavg()[0]}
        lines += [
            f"| {name} | {key} | {w:.3f} | {c:.3f} | {c / med['model'][1]:.3f} | {min(cpu[key]):.3f}-{max(cpu[key]):.3f} |"
            for key, (w, c) in med.items()
        ]
        lines.append(f"| {name} | **share of a step outside the model** (checkpoint every {args.checkpoint_every}) | {shares[0]:.1%} | {shares[1]:.1%} | | |")
        save_results(prefix, results, "\n".join(lines) + "\n")
        if args.profile:
            trainer(name, data, args.steps, device, "fp32", profile=True)
    print(f"wrote {prefix.with_suffix('.json')} and {prefix.with_suffix('.md')}")


if __name__ == "__main__":
    main()
