"""What each generated data set is: the equations' recipes for ``zoo.data.generate``."""

from __future__ import annotations

import torch

from zoo.data.generate import Recipe, sample_generators
from zoo.pde.navier_stokes import default_time_step, navier_stokes_2d
from zoo.pde.random_fields import gaussian_random_field


def navier_stokes_recipe(
    *,
    viscosity: float,
    resolution: int,
    steps: int,
    record_every: float = 1.0,
    dt: float | None = None,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    alpha: float = 2.5,
    tau: float = 7.0,
) -> Recipe:
    """FNO-paper vorticity data: ``vorticity (n, steps + 1, resolution, resolution)`` at t = 0, record_every, ..."""
    dt = record_every / round(record_every / (dt or default_time_step(resolution, record_every)))
    description = {
        "parameters": {"viscosity": viscosity, "forcing": "0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))"},
        "initial_condition": {"law": "gaussian_random_field", "alpha": alpha, "tau": tau, "sigma": tau ** (alpha - 1.0)},
        "grid": {"shape": [resolution, resolution], "domain": [[0.0, 1.0], [0.0, 1.0]], "points": "x_i = i / n", "periodic": True},
        "times": [round(i * record_every, 12) for i in range(steps + 1)],
        "solver": {
            "function": "zoo.pde.navier_stokes_2d",
            "scheme": "pseudo-spectral, 2/3 dealiasing, Crank-Nicolson diffusion + Heun advection",
            "dt": dt,
            "dtype": str(dtype).removeprefix("torch."),
            "resolution": resolution,
        },
    }

    def solve(start: int, stop: int, seed: int) -> dict[str, torch.Tensor]:
        w0 = torch.cat([
            gaussian_random_field(1, resolution, alpha=alpha, tau=tau, generator=g, dtype=torch.float64)
            for g in sample_generators(seed, start, stop)
        ]).to(device=device, dtype=dtype)
        w = navier_stokes_2d(w0, viscosity, steps * record_every, record_every=record_every, dt=dt)
        return {"vorticity": torch.cat([w0[:, None], w], dim=1).float().cpu()}

    return Recipe(
        equation="navier_stokes_2d",
        fields={"vorticity": ["sample", "time", "x", "y"]},
        description=description,
        solve=solve,
        run_settings={"device": device},
    )
