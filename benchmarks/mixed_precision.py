"""bf16 against float32 for the FNO: rollout accuracy, activation memory and speed of a training step.

    .venv/bin/python benchmarks/mixed_precision.py                 # CPU, ~10 min on the shared machine
    .venv/bin/python benchmarks/mixed_precision.py --quick         # a smoke check (tiny sizes)
    python benchmarks/mixed_precision.py --device cuda             # on a GPU

Three measurements, each float32 against ``torch.autocast(dtype=torch.bfloat16)`` under zoo's
precision policy (``zoo.layers.precision``: the time stepper's state and update, the spectral
layers' transforms and mode product and the FNO's lifting and projection compute in float32; the
pointwise GEMMs and the residual stream of the Fourier blocks in bf16):

* **accuracy**: the pretrained ``fno-ns2d-nu1e-3`` rolls out t = 11..50 from t = 1..10 on
  ``--samples`` held-out trajectories (``examples/held_out.py``: seed 0, samples from 1,000,000,
  64x64, nu = 1e-3, solved here); relative L2 of each whole trajectory, averaged (the FNO paper's
  metric), in float32 and in bf16, and their ratio (goal: within 2%);
* **activation memory** of one training step of the issue's FNO (4 layers, width 32, 16 x 9 kept
  modes, batch 16, 64x64): the bytes of every distinct tensor autograd saves for the backward pass
  (a saved-tensors hook; parameters excluded, their bf16 copies counted), goal >= 40% less;
* **speed**: forward+backward of that step, float32 and bf16 alternating within each repeat in one
  process; the median ratio and its spread (min-max over repeats), with the load average.
"""

from __future__ import annotations

import argparse
import os

# Threads that spin while a descheduled partner waits burn the time being measured on a shared
# machine (see fno_cpu.py); set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import statistics
import sys
import time
from pathlib import Path

import torch
from results_files import announce, results_prefix, save_results  # noqa: E402  (run as a script from benchmarks/)

import zoo
from zoo.eval.rollout import rollout_errors, rollout_predictions
from zoo.devices import describe_device

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from held_out import held_out_ns2d  # noqa: E402

HISTORY = 10


def autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def rollout_accuracy(model_name: str, samples: int, grid: int, device: torch.device) -> dict:
    model = zoo.from_pretrained(model_name).to(device)
    # t = 0..50 solved; the model reads t = 1..10 and predicts t = 11..50.
    truth = held_out_ns2d(samples, steps=50, resolution=grid).trajectories[:, 1:, 0].float().to(device)
    errors = {}
    for name, enabled in (("fp32", False), ("bf16", True)):
        with autocast(device, enabled):
            predictions = rollout_predictions(model, truth, history=HISTORY).float()
        per_sample = [rollout_errors(p[None], t[None])["trajectory"].item() for p, t in zip(predictions, truth[:, HISTORY:])]
        errors[name] = {"relative_l2": statistics.mean(per_sample), "per_sample": per_sample}
    ratio = errors["bf16"]["relative_l2"] / errors["fp32"]["relative_l2"]
    return {"model": model_name, "samples": samples, "grid": grid, **errors, "bf16 / fp32": ratio}


def fno(device: torch.device, width: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return zoo.FNO(1, 1, (8, 9), width=width, n_layers=4, projection_channels=64, channel_mlp_ratio=0.5).to(device)


def saved_activation_bytes(model: torch.nn.Module, x: torch.Tensor, bf16: bool) -> int:
    """Bytes of the distinct tensors autograd saves in one forward pass (parameters excluded)."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in parameters:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast(x.device, bf16):
        loss = model(x).float().square().mean()
    loss.backward()
    return sum(storages.values())


def step_times(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> dict:
    device = x.device

    def step(bf16: bool) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        model.zero_grad(set_to_none=True)
        with autocast(device, bf16):
            loss = model(x).float().square().mean()
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    for bf16 in (False, True, False, True):  # warm-up: allocator, DFT matrices, kernel choice
        step(bf16)
    fp32, bf16, ratios = [], [], []
    for repeat in range(repeats):
        order = (False, True) if repeat % 2 == 0 else (True, False)
        times = {flag: step(flag) for flag in order}
        fp32.append(times[False] * 1e3)
        bf16.append(times[True] * 1e3)
        ratios.append(times[False] / times[True])
    return {
        "fp32 ms": statistics.median(fp32), "bf16 ms": statistics.median(bf16),
        "speed-up bf16 (median of per-repeat fp32 / bf16)": statistics.median(ratios),
        "speed-up min": min(ratios), "speed-up max": max(ratios), "repeats": repeats,
    }


def markdown(results: dict) -> str:
    lines = [f"Device: {results['device']}; load average before / after: {results['load']}. Command: `{results['command']}`.", ""]
    if "accuracy" in results:
        a = results["accuracy"]
        lines += [
            f"Rollout of `{a['model']}` on {a['samples']} held-out trajectories ({a['grid']}x{a['grid']}, t = 11..50), relative L2:",
            "", "| fp32 | bf16 autocast | bf16 / fp32 |", "| ---: | ---: | ---: |",
            f"| {a['fp32']['relative_l2']:.5f} | {a['bf16']['relative_l2']:.5f} | {a['bf16 / fp32']:.4f} |", "",
        ]
    if "memory" in results:
        m = results["memory"]
        lines += [
            f"Activation memory of one training step ({m['setting']}): bytes autograd saves, parameters excluded:",
            "", "| fp32 MB | bf16 MB | reduction |", "| ---: | ---: | ---: |",
            f"| {m['fp32 bytes'] / 2**20:.1f} | {m['bf16 bytes'] / 2**20:.1f} | {100 * m['reduction']:.1f}% |", "",
        ]
    if "speed" in results:
        s = results["speed"]
        lines += [
            f"Training step forward+backward ({results['memory']['setting']}), {s['repeats']} interleaved repeats:",
            "", "| fp32 ms | bf16 ms | speed-up of bf16 (median, min-max) |", "| ---: | ---: | ---: |",
            f"| {s['fp32 ms']:.1f} | {s['bf16 ms']:.1f} | {s['speed-up bf16 (median of per-repeat fp32 / bf16)']:.2f}x "
            f"({s['speed-up min']:.2f}-{s['speed-up max']:.2f}) |", "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=8, help="held-out trajectories for the rollout error")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--skip", nargs="*", default=[], choices=["accuracy", "memory", "speed"])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no rollout: a smoke check")
    parser.add_argument("--output", type=Path, default=None, help="results prefix (writes .json and .md)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    batch, grid, width = (16, 64, 32) if not args.quick else (2, 16, 8)
    if args.quick:
        args.skip, args.repeats = ["accuracy", *args.skip], 2
    prefix = results_prefix("mixed_precision", describe_device(device).split(" (")[0], args.output)
    results = {
        "device": describe_device(device), "torch": torch.__version__, "load": [os.getloadavg()[0]],
        "command": " ".join(["python", "benchmarks/mixed_precision.py", *(argv if argv is not None else sys.argv[1:])]),
    }
    x = torch.randn(batch, 1, grid, grid, device=device)
    model = fno(device, width)
    if "memory" not in args.skip or "speed" not in args.skip:
        fp32, bf16 = (saved_activation_bytes(model, x, flag) for flag in (False, True))
        results["memory"] = {
            "setting": f"FNO-2D 4 layers, width {width}, 16 x 9 modes, batch {batch}, {grid}x{grid}",
            "fp32 bytes": fp32, "bf16 bytes": bf16, "reduction": 1 - bf16 / fp32,
        }
        save_results(prefix, results, markdown(results))
    if "speed" not in args.skip:
        results["speed"] = step_times(model, x, args.repeats)
        save_results(prefix, results, markdown(results))
    if "accuracy" not in args.skip:
        results["accuracy"] = rollout_accuracy("fno-ns2d-nu1e-3", args.samples, 64, device)
    results["load"].append(os.getloadavg()[0])
    save_results(prefix, results, markdown(results))
    return announce(prefix, markdown(results))


if __name__ == "__main__":
    sys.exit(main())
