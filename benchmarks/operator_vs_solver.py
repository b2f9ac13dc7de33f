"""Inference speed of the pretrained NS operators against the solver they were trained on, with accuracy.

    python benchmarks/operator_vs_solver.py                      # GPU if there is one, else CPU
    python benchmarks/operator_vs_solver.py --device cpu --quick  # a smoke check

For each grid, ``--samples`` fresh trajectories (seed ``--seed``, which no data set of the recipes
uses) are solved at that grid with the data's own time step; then each model rolls out t = 11..50
from t = 1..10 and the solver integrates the same 40 time units from t = 10, on the same device, in
the same process (``zoo.eval.speed``). Writes ``benchmarks/results/operator_vs_solver_<device>.json``
and ``.md``: times, speed-up (solver / operator) and the operator's relative L2 over the rollout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from results_files import announce, results_prefix, save_results  # noqa: E402  (run as a script from benchmarks/)
from tqdm import tqdm

from zoo.data.equations import navier_stokes_recipe
from zoo.devices import describe_device
from zoo.eval.speed import ns2d_operator_vs_solver
from zoo.hub import from_pretrained
from zoo.pde.navier_stokes import default_time_step

MODELS = ("fno-ns2d-nu1e-3", "afno-ns2d-nu1e-3")
VISCOSITY = 1e-3
HISTORY = 10
DATA_DT = {64: 0.01, 256: 0.005}  # the time steps the recipes' 64x64 and 256x256 data were solved with


def trajectories(grid: int, samples: int, seed: int, device: torch.device) -> tuple[torch.Tensor, float]:
    """Vorticity ``(samples, 50, grid, grid)`` at t = 1..50 and the time step it was solved with."""
    dt = DATA_DT.get(grid, default_time_step(grid, 1.0))
    recipe = navier_stokes_recipe(viscosity=VISCOSITY, resolution=grid, steps=50, dt=dt, device=str(device))
    return recipe.solve(0, samples, seed)["vorticity"][:, 1:].to(device), dt


def markdown(results: dict) -> str:
    lines = [
        f"Device: {results['device']}. {results['samples']} trajectories per grid, seed {results['seed']}; "
        f"40-step rollout (t = 11..50) against the solver over the same 40 time units. Command: `{results['command']}`.",
        "",
        "| model | grid | operator (s) | solver (s) | speed-up | relative L2 | solver setting |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results["records"]:
        lines.append(f"| {r['model']} | {r['grid'][0]}x{r['grid'][1]} | {r['model_seconds']:.4g} | {r['solver_seconds']:.4g} | "
                     f"{r['solver_seconds'] / r['model_seconds']:.3g}x | {r['relative_l2']:.4f} | {r['solver']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--grids", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7, help="data seed of the timed trajectories (the recipes use 0-2)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), help="checkpoint names or directories")
    parser.add_argument("--quick", action="store_true", help="one 32x32 trajectory: a smoke check")
    parser.add_argument("--output", type=Path, default=None, help="results prefix (writes .json and .md)")
    args = parser.parse_args(argv)
    if args.quick:
        args.grids, args.samples = [32], 1
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device here; use --device cpu")
    prefix = results_prefix("operator_vs_solver", describe_device(device).split(" (")[0], args.output)
    results = {
        "device": describe_device(device), "samples": args.samples, "seed": args.seed,
        "command": " ".join(["python", "benchmarks/operator_vs_solver.py", *(argv if argv is not None else sys.argv[1:])]),
        "records": [],
    }
    models = {name: from_pretrained(name) for name in args.models}
    for grid in tqdm(args.grids, desc="grids"):
        truth, dt = trajectories(grid, args.samples, args.seed, device)
        for name, model in models.items():
            record = ns2d_operator_vs_solver(model, truth, history=HISTORY, viscosity=VISCOSITY, dt=dt)
            results["records"].append({"model": Path(name).name, **record})
            save_results(prefix, results, markdown(results))
    return announce(prefix, markdown(results))


if __name__ == "__main__":
    sys.exit(main())
