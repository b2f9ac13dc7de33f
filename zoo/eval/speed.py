"""Inference time of an autoregressive operator against the numerical solver, same trajectories.

Both run on the device the trajectories are on. On a GPU the clock is read after
``torch.cuda.synchronize``, and each side runs once untimed first (CUDA context, cuFFT plans,
kernel caches), so the figures are steady-state times, not first-call latency.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from zoo.devices import describe_device
from zoo.eval.rollout import rollout_errors
from zoo.pde import navier_stokes_2d


def median_seconds(call: Callable[[], object], device: torch.device, *, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``call()`` over ``repeats`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ns2d_operator_vs_solver(
    model: torch.nn.Module,
    trajectories: torch.Tensor,
    *,
    history: int,
    viscosity: float,
    dt: float,
    record_every: float = 1.0,
    model_repeats: int = 3,
    solver_repeats: int = 1,
) -> dict:
    """Time ``model.rollout`` from frames ``0..history-1`` against the solver from frame ``history-1``.

    ``trajectories``: vorticity ``(B, T, n, n)`` recorded every ``record_every`` (the solver's FNO
    forcing), on the device to time on; both predict the ``T - history`` later frames of all ``B``
    trajectories in one batch. Returns the record a model card's ``speed`` list holds, plus the
    operator's relative L2 error over those frames (so the speed comes with its accuracy).
    """
    if trajectories.ndim != 4 or trajectories.shape[1] <= history:
        raise ValueError(f"trajectories must be (B, T > {history}, n, n), got {tuple(trajectories.shape)}")
    device = trajectories.device
    steps = trajectories.shape[1] - history
    model = model.to(device).eval()
    outputs = {}

    def operator() -> None:
        with torch.no_grad():
            outputs["prediction"] = model.rollout(trajectories[:, :history], steps)

    def solver(records: int = steps) -> None:
        navier_stokes_2d(trajectories[:, history - 1], viscosity, records * record_every, record_every=record_every, dt=dt)

    model_seconds = median_seconds(operator, device, repeats=model_repeats)
    solver(records=1)  # the warm-up: one record interval builds the FFT plans and caches
    solver_seconds = median_seconds(solver, device, repeats=solver_repeats, warmup=0)
    error = rollout_errors(outputs["prediction"], trajectories[:, history:])["trajectory"]
    n = trajectories.shape[-1]
    return {
        "grid": [n, n],
        "samples": trajectories.shape[0],
        "model_seconds": round(model_seconds, 5),
        "solver_seconds": round(solver_seconds, 5),
        "device": describe_device(device),
        "solver": f"zoo.pde.navier_stokes_2d pseudo-spectral CN + Heun, {str(trajectories.dtype).removeprefix('torch.')}, dt={dt}",
        "relative_l2": round(float(error), 5),
    }
