"""Kolmogorov-flow data on its attractor: the recipe for ``zoo.data.generate``.

Each sample starts from its own Gaussian random field, is carried onto the attractor by a spin-up
on a coarse grid (cheap; the large scales that set the statistics are resolved there), refined by
Fourier zero-padding to the solver grid, left to settle there while the small scales fill in, and
then recorded. Stored fields are point samples of the solver grid (every ``s``-th point, the FNO
papers' convention, so a 128x128 data set read with ``subsample: 2`` is exactly the 64x64 one).

Defaults follow the measurements in ``docs/kolmogorov.md``: linear drag 0.1 (without it, at Re = 500
the energy condenses into the k = 1 mode over hundreds of time units and no 100-unit spin-up
reaches a stationary state), spin-up 50 time units at 64x64, settle 5 at the solver grid.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from zoo.data.generate import Recipe, sample_generators
from zoo.models.multiscale import spectral_resample
from zoo.pde.kolmogorov import FORCING_FORMULA, kolmogorov_flow, kolmogorov_time_step
from zoo.pde.random_fields import gaussian_random_field

_SEGMENT = 500  # records solved per call


def kolmogorov_recipe(
    *,
    reynolds: float,
    steps: int,
    record_every: float = 0.1,
    drag: float = 0.1,
    resolution: int = 64,
    solve_resolution: int = 128,
    spin_up: float = 50.0,
    spin_up_resolution: int = 64,
    settle: float = 5.0,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    alpha: float = 2.5,
    tau: float = 7.0,
) -> Recipe:
    """Kolmogorov flow on ``(0, 2 pi)^2``: ``vorticity (n, steps + 1, resolution, resolution)`` at t = 0, record_every, ...

    ``t = 0`` is the end of the spin-up (``spin_up`` time units at ``spin_up_resolution``, then
    ``settle`` at ``solve_resolution``); ``resolution`` must divide ``solve_resolution``.
    """
    if solve_resolution % resolution or spin_up_resolution > solve_resolution:
        raise ValueError(
            f"resolution {resolution} must divide solve_resolution {solve_resolution}, and spin_up_resolution "
            f"{spin_up_resolution} must not exceed it"
        )
    if steps < 1 or record_every <= 0 or spin_up < 0 or settle < 0:
        raise ValueError(f"need steps >= 1, record_every > 0, spin_up >= 0 and settle >= 0, got {steps}, {record_every}, {spin_up}, {settle}")
    stride = solve_resolution // resolution
    dt = kolmogorov_time_step(solve_resolution, record_every)
    description = {
        "parameters": {"reynolds": reynolds, "viscosity": 1.0 / reynolds, "drag": drag, "forcing": FORCING_FORMULA},
        "initial_condition": {
            "law": "gaussian_random_field on the unit square",
            "alpha": alpha,
            "tau": tau,
            "sigma": tau ** (alpha - 1.0),
            "spin_up": {"time": spin_up, "resolution": spin_up_resolution, "settle": settle, "settle_resolution": solve_resolution},
        },
        "grid": {
            "shape": [resolution, resolution],
            "domain": [[0.0, "2 pi"], [0.0, "2 pi"]],
            "points": "x_i = 2 pi i / n",
            "periodic": True,
            "stored": f"every {stride}th point of the solver grid",
        },
        "times": [round(i * record_every, 12) for i in range(steps + 1)],
        "solver": {
            "function": "zoo.pde.kolmogorov_flow",
            "scheme": "pseudo-spectral, 2/3 dealiasing, Crank-Nicolson diffusion and drag + Heun advection",
            "dt": dt,
            "dtype": str(dtype).removeprefix("torch."),
            "resolution": solve_resolution,
        },
    }

    def solve(start: int, stop: int, seed: int) -> dict[str, torch.Tensor]:
        w = torch.cat([
            gaussian_random_field(1, spin_up_resolution, alpha=alpha, tau=tau, generator=g, dtype=torch.float64)
            for g in sample_generators(seed, start, stop)
        ]).to(device=device, dtype=dtype)
        if spin_up > 0:
            w = kolmogorov_flow(w, reynolds, spin_up, spin_up, drag=drag)[:, -1]
        w = spectral_resample(w, solve_resolution)
        if settle > 0:
            w = kolmogorov_flow(w, reynolds, settle, settle, drag=drag, dt=dt)[:, -1]
        # Solved in segments that keep only the stored points: a long trajectory at the solver's
        # resolution would not fit in memory (10^4 frames of 128x128 are 650 MB a sample).
        frames = [w[:, None, ::stride, ::stride].float().cpu()]
        with tqdm(total=steps, desc="kolmogorov records", unit="record", mininterval=30, disable=steps < _SEGMENT) as bar:
            for done in range(0, steps, _SEGMENT):
                count = min(_SEGMENT, steps - done)
                segment = kolmogorov_flow(w, reynolds, count * record_every, record_every, drag=drag, dt=dt)
                w = segment[:, -1]
                frames.append(segment[..., ::stride, ::stride].float().cpu())
                bar.update(count)
        return {"vorticity": torch.cat(frames, dim=1).contiguous()}

    return Recipe(
        equation="kolmogorov_flow_2d",
        fields={"vorticity": ["sample", "time", "x", "y"]},
        description=description,
        solve=solve,
        run_settings={"device": device},
    )
