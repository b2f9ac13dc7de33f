"""``zoo demo``: a bundled pretrained operator against the numerical solver on a fresh flow.

Draws a new initial vorticity from the FNO paper's law, solves 2D Navier-Stokes (nu = 1e-3) to
t = 50 with zoo's pseudo-spectral solver, lets the pretrained ``fno-ns2d-nu1e-3`` predict t = 11..50
from t = 1..10, and prints the error and the speed-up at 64x64 and zero-shot at a finer grid;
writes the plots (vorticity, error vs time, energy spectra) as PNG. No network.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from zoo.eval.plots import plot_curves, plot_fields
from zoo.eval.rollout import rollout_errors
from zoo.eval.spectra import kinetic_energy_spectrum
from zoo.hub import from_pretrained
from zoo.pde import gaussian_random_field, navier_stokes_2d

CHECKPOINT = "fno-ns2d-nu1e-3"
HISTORY = 10
T_END = 50


def _timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def run_demo(checkpoint: str = CHECKPOINT, *, seed: int = 2026, t_end: int = T_END, fine: int = 128, out: str | os.PathLike = "zoo-demo") -> None:
    """Solve a new flow at 64x64 (and at ``fine``, zero-shot, unless 0), roll the operator out from
    its first ``HISTORY`` frames to ``t_end``, print error and speed-up, write the plots to ``out``."""
    out = Path(out)
    model = from_pretrained(checkpoint)
    print(f"loaded {checkpoint}: {type(model.backbone).__name__}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters; a new initial vorticity is drawn on each grid")
    grids = [64] + ([fine] if fine else [])
    curves, spectra = {}, {}
    for n in grids:
        w0 = gaussian_random_field(1, n, seed=seed, dtype=torch.float64)
        truth, solver_seconds = _timed(lambda: navier_stokes_2d(w0, 1e-3, float(t_end), record_every=1.0).float())
        with torch.no_grad():
            prediction, model_seconds = _timed(lambda: model.rollout(truth[:, :HISTORY], t_end - HISTORY))
        errors = rollout_errors(prediction, truth[:, HISTORY:])
        tag = f"{n}x{n}" + (" (zero-shot)" if n != 64 else "")
        print(f"{tag}: relative L2 over t = 11..{t_end} {float(errors['trajectory']):.4f}; solver {solver_seconds:.2f} s "
              f"(t = 0..{t_end}), operator {model_seconds:.3f} s (t = 11..{t_end}): "
              f"{solver_seconds / model_seconds:.0f}x faster")
        curves[tag] = (range(HISTORY + 1, t_end + 1), errors["per_step"].tolist())
        k, e_true = kinetic_energy_spectrum(truth[0, -1].double())
        _, e_pred = kinetic_energy_spectrum(prediction[0, -1].double())
        spectra[f"solver {n}"] = (k[1:].tolist(), e_true[1:].tolist())
        spectra[f"operator {n}"] = (k[1:].tolist(), e_pred[1:].tolist())
        plot_fields({"solver": truth[0, -1], "operator": prediction[0, -1], "difference": prediction[0, -1] - truth[0, -1]},
                    out / f"vorticity_t{t_end}_{n}.png", title=f"Vorticity at t = {t_end}, {tag}")
    plot_curves(curves, out / "rollout_error.png", xlabel="t", ylabel="relative L2 error", logy=True)
    plot_curves(spectra, out / f"energy_spectrum_t{t_end}.png", xlabel="wavenumber k", ylabel="E(k)", logx=True, logy=True)
    print(f"plots written to {out}/")
