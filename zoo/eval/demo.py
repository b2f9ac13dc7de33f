"""``zoo demo``: a bundled pretrained operator against the numerical solver on a fresh flow.

Draws a new initial vorticity from the FNO paper's law, solves 2D Navier-Stokes (nu = 1e-3) to
t = 50 with zoo's pseudo-spectral solver, lets the pretrained ``fno-ns2d-nu1e-3`` predict t = 11..50
from t = 1..10, and prints the error and the speed-up at 64x64 and zero-shot at finer grids;
writes the plots (vorticity, error vs time, energy spectra) as PNG. No network.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from zoo.eval.plots import plot_curves, plot_fields
from zoo.eval.rollout import rollout_errors
from zoo.eval.spectra import kinetic_energy_spectrum
from zoo.hub import from_pretrained
from zoo.pde import gaussian_random_field, navier_stokes_2d

CHECKPOINT = "fno-ns2d-nu1e-3"
TRAINING_GRID = 64
VISCOSITY = 1e-3
T_END = 50
OUTPUT_DIR = Path("zoo-demo")
# Progress-bar work per item, in solver time units at 64x64 (a time unit at n x n takes ~(n/64)^3
# of that: 4x the points, 2x the steps); roughly what each costs on one CPU core.
ROLLOUT_WORK, PLOT_WORK = 8.0, 10.0


def run_demo(
    checkpoint: str = CHECKPOINT,
    *,
    seed: int = 2026,
    t_end: int = T_END,
    fine_grids: Sequence[int] = (128,),
    out: str | os.PathLike = OUTPUT_DIR,
    progress: bool = True,
) -> list[Path]:
    """Solve a new flow at 64x64 and at each of ``fine_grids`` (zero-shot), roll the operator out
    from its first ``history`` frames to ``t_end``, print error and speed-up, write the plots to
    ``out``; returns the paths of the plots.

    Runs on one CPU thread: these FFTs (batch 1, up to 256x256) are too small for intra-op threads,
    which made the solver 30-40x slower on two busy cores (measured, wall and CPU time alike).
    """
    out = Path(out)
    grids = [TRAINING_GRID, *fine_grids]
    model = from_pretrained(checkpoint)
    if t_end <= model.history:
        raise ValueError(f"t_end must exceed the {model.history} input frames of {checkpoint}, got {t_end}")
    tqdm.write(f"loaded {checkpoint}: {type(model.backbone).__name__}, {sum(p.numel() for p in model.parameters()):,} parameters; "
               f"a new initial vorticity is drawn on each grid; plots go to {out.resolve()}/")
    work = sum((n / TRAINING_GRID) ** 3 * t_end + ROLLOUT_WORK * (n / TRAINING_GRID) ** 2 + PLOT_WORK for n in grids) + 2 * PLOT_WORK
    bar = tqdm(total=round(work, 1), desc="starting", disable=not progress, bar_format="{desc:<28} {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")
    curves, spectra, plots = {}, {}, []
    with bar, _one_thread():
        for n in grids:
            tag = f"{n}x{n}" + (" (zero-shot)" if n != TRAINING_GRID else "")
            w0 = gaussian_random_field(1, n, seed=seed, dtype=torch.float64)
            truth, solver_seconds = _timed(lambda: _solve(w0, t_end, bar, (n / TRAINING_GRID) ** 3, f"solving {n}x{n}"))
            bar.set_description_str(f"rolling out {n}x{n}", refresh=False)
            with torch.no_grad():
                prediction, model_seconds = _timed(lambda: model.rollout(truth[:, : model.history], t_end - model.history))
            bar.update(ROLLOUT_WORK * (n / TRAINING_GRID) ** 2)
            errors = rollout_errors(prediction, truth[:, model.history :])
            first = model.history + 1
            tqdm.write(f"{tag}: relative L2 over t = {first}..{t_end} {float(errors['trajectory']):.4f}; solver {solver_seconds:.2f} s "
                       f"(t = 0..{t_end}), operator {model_seconds:.3f} s (t = {first}..{t_end}): "
                       f"{solver_seconds / model_seconds:.0f}x faster")
            curves[tag] = (range(first, t_end + 1), errors["per_step"].tolist())
            k, e_true = kinetic_energy_spectrum(truth[0, -1].double())
            _, e_pred = kinetic_energy_spectrum(prediction[0, -1].double())
            spectra[f"solver {n}"] = (k[1:].tolist(), e_true[1:].tolist())
            spectra[f"operator {n}"] = (k[1:].tolist(), e_pred[1:].tolist())
            bar.set_description_str(f"plotting {n}x{n}", refresh=False)
            fields = {"solver": truth[0, -1], "operator": prediction[0, -1], "difference": prediction[0, -1] - truth[0, -1]}
            plots.append(plot_fields(fields, out / f"vorticity_t{t_end}_{n}.png", title=f"Vorticity at t = {t_end}, {tag}"))
            bar.update(PLOT_WORK)
        bar.set_description_str("plotting error and spectra", refresh=False)
        plots.append(plot_curves(curves, out / "rollout_error.png", xlabel="t", ylabel="relative L2 error", logy=True))
        plots.append(plot_curves(spectra, out / f"energy_spectrum_t{t_end}.png", xlabel="wavenumber k", ylabel="E(k)", logx=True, logy=True))
        bar.update(2 * PLOT_WORK)
        bar.set_description_str("done", refresh=False)
    tqdm.write(f"plots written to {out.resolve()}/: " + ", ".join(path.name for path in plots))
    return plots


def _solve(w0: torch.Tensor, t_end: int, bar: tqdm, work_per_unit: float, label: str) -> torch.Tensor:
    """``navier_stokes_2d(w0, VISCOSITY, t_end)`` one time unit per call, advancing ``bar``: ``(1, t_end, n, n)`` float32.

    Each call restarts from the previous record: the solver's spectrum stays that of a real field,
    so the record's transform gives it back and the trajectory is the one-call one (the test checks).
    """
    records, w = [], w0
    for t in range(1, t_end + 1):
        bar.set_description_str(f"{label} t = {t}/{t_end}", refresh=False)
        w = navier_stokes_2d(w, VISCOSITY, 1.0)[:, 0]
        records.append(w)
        bar.update(work_per_unit)
    return torch.stack(records, dim=1).float()


def _timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
