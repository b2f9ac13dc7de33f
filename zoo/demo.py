"""``zoo demo``: a bundled pretrained operator against the numerical solver on a fresh flow.

Draws a new initial vorticity from the FNO paper's law, solves 2D Navier-Stokes (nu = 1e-3) to
t = 50 with zoo's pseudo-spectral solver, lets the pretrained ``fno-ns2d-nu1e-3`` predict t = 11..50
from t = 1..10, and prints the error and the speed-up at 64x64 and zero-shot at a finer grid;
writes the plots (vorticity, error vs time, energy spectra) as PNG. No network.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

CHECKPOINT = "fno-ns2d-nu1e-3"
HISTORY = 10
T_END = 50


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run a bundled pretrained operator against the solver on a new flow")
    demo.add_argument("--checkpoint", default=CHECKPOINT, help="pretrained name, directory or Hub repo id")
    demo.add_argument("--seed", type=int, default=2026, help="seed of the new initial vorticity")
    demo.add_argument("--t-end", type=int, default=T_END, help="last predicted time (the checkpoints were evaluated to 50)")
    demo.add_argument("--fine", type=int, default=128, help="finer grid for the zero-shot comparison (0: skip)")
    demo.add_argument("--out", type=Path, default=Path("zoo-demo"), help="folder for the PNG plots")
    demo.set_defaults(func=run)


def _timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def run(args: argparse.Namespace) -> int:
    from zoo.eval import kinetic_energy_spectrum, plot_curves, plot_fields
    from zoo.eval.rollout import rollout_errors
    from zoo.hub import from_pretrained
    from zoo.pde import gaussian_random_field, navier_stokes_2d

    model = from_pretrained(args.checkpoint)
    print(f"loaded {args.checkpoint}: {type(model.backbone).__name__}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters; a new initial vorticity is drawn on each grid")
    grids = [64] + ([args.fine] if args.fine else [])
    curves, spectra = {}, {}
    for n in grids:
        w0 = gaussian_random_field(1, n, seed=args.seed, dtype=torch.float64)
        truth, solver_seconds = _timed(lambda: navier_stokes_2d(w0, 1e-3, float(args.t_end), record_every=1.0).float())
        with torch.no_grad():
            prediction, model_seconds = _timed(lambda: model.rollout(truth[:, :HISTORY], args.t_end - HISTORY))
        errors = rollout_errors(prediction, truth[:, HISTORY:])
        tag = f"{n}x{n}" + (" (zero-shot)" if n != 64 else "")
        print(f"{tag}: relative L2 over t = 11..{args.t_end} {float(errors['trajectory']):.4f}; solver {solver_seconds:.2f} s "
              f"(t = 0..{args.t_end}), operator {model_seconds:.3f} s (t = 11..{args.t_end}): "
              f"{solver_seconds / model_seconds:.0f}x faster")
        curves[tag] = (range(HISTORY + 1, args.t_end + 1), errors["per_step"].tolist())
        k, e_true = kinetic_energy_spectrum(truth[0, -1].double())
        _, e_pred = kinetic_energy_spectrum(prediction[0, -1].double())
        spectra[f"solver {n}"] = (k[1:].tolist(), e_true[1:].tolist())
        spectra[f"operator {n}"] = (k[1:].tolist(), e_pred[1:].tolist())
        plot_fields({"solver": truth[0, -1], "operator": prediction[0, -1], "difference": prediction[0, -1] - truth[0, -1]},
                    args.out / f"vorticity_t{args.t_end}_{n}.png", title=f"Vorticity at t = {args.t_end}, {tag}")
    plot_curves(curves, args.out / "rollout_error.png", xlabel="t", ylabel="relative L2 error", logy=True)
    plot_curves(spectra, args.out / f"energy_spectrum_t{args.t_end}.png", xlabel="wavenumber k", ylabel="E(k)", logx=True, logy=True)
    print(f"plots written to {args.out}/")
    return 0
