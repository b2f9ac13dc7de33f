"""What each generated data set is: the equations' recipes for ``zoo.data.generate``."""

from __future__ import annotations

from dataclasses import replace

import torch

from zoo.data.generate import Recipe, sample_generators
from zoo.pde.burgers import burgers_1d
from zoo.pde.darcy import darcy_2d, threshold_coefficient
from zoo.pde.navier_stokes import FORCING_FORMULAS, default_time_step, navier_stokes_2d, passive_scalar_2d
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
    diffusivity: float | None = None,
    forcing: str = "fno",
) -> Recipe:
    """FNO-paper vorticity data: ``vorticity (n, steps + 1, resolution, resolution)`` at t = 0, record_every, ...

    With ``diffusivity``, the flow also carries a passive scalar, stored as ``scalar`` (same shape),
    whose initial field is an independent draw of the same law as the vorticity's. ``forcing``
    names one of ``zoo.pde.navier_stokes.NAMED_FORCINGS`` (``"fno"``: the paper's).
    """
    if forcing not in FORCING_FORMULAS:
        raise ValueError(f"unknown forcing {forcing!r}; named forcings: {sorted(FORCING_FORMULAS)}")
    dt = record_every / round(record_every / (dt or default_time_step(resolution, record_every)))
    parameters = {"viscosity": viscosity, "forcing": FORCING_FORMULAS[forcing]}
    if diffusivity is not None:
        parameters["diffusivity"] = diffusivity
    description = {
        "parameters": parameters,
        "initial_condition": {"law": "gaussian_random_field", "alpha": alpha, "tau": tau, "sigma": tau ** (alpha - 1.0)},
        "grid": {"shape": [resolution, resolution], "domain": [[0.0, 1.0], [0.0, 1.0]], "points": "x_i = i / n", "periodic": True},
        "times": [round(i * record_every, 12) for i in range(steps + 1)],
        "solver": {
            "function": "zoo.pde.navier_stokes_2d" if diffusivity is None else "zoo.pde.passive_scalar_2d",
            "scheme": "pseudo-spectral, 2/3 dealiasing, Crank-Nicolson diffusion + Heun advection",
            "dt": dt,
            "dtype": str(dtype).removeprefix("torch."),
            "resolution": resolution,
        },
    }
    n_fields = 1 if diffusivity is None else 2

    def solve(start: int, stop: int, seed: int) -> dict[str, torch.Tensor]:
        # Per sample: the vorticity is the generator's first draw, the scalar (if any) its second.
        initial = torch.stack([
            torch.cat([gaussian_random_field(1, resolution, alpha=alpha, tau=tau, generator=g, dtype=torch.float64) for _ in range(n_fields)])
            for g in sample_generators(seed, start, stop)
        ]).to(device=device, dtype=dtype)
        w0, t_end = initial[:, 0], steps * record_every
        if diffusivity is None:
            return {"vorticity": torch.cat([w0[:, None], navier_stokes_2d(w0, viscosity, t_end, record_every, forcing=forcing, dt=dt)], 1).float().cpu()}
        w, c = passive_scalar_2d(w0, initial[:, 1], viscosity, diffusivity, t_end, record_every, forcing=forcing, dt=dt)
        return {
            "vorticity": torch.cat([w0[:, None], w], 1).float().cpu(),
            "scalar": torch.cat([initial[:, 1:2], c], 1).float().cpu(),
        }

    fields = {"vorticity": ["sample", "time", "x", "y"]}
    if diffusivity is not None:
        fields["scalar"] = ["sample", "time", "x", "y"]
    return Recipe(
        equation="navier_stokes_2d" if diffusivity is None else "navier_stokes_2d_passive_scalar",
        fields=fields,
        description=description,
        solve=solve,
        run_settings={"device": device},
    )


def burgers_recipe(
    *,
    viscosity: float,
    resolution: int,
    steps: int,
    record_every: float,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    alpha: float = 2.0,
    tau: float = 5.0,
    sigma: float = 25.0,
) -> Recipe:
    """Viscous Burgers data: ``u (n, steps + 1, resolution)`` at t = 0, record_every, ...

    Initial law: the FNO paper's ``N(0, 625 (-Laplacian + 25 I)^-2)`` in zoo's GRF convention
    (``gaussian_random_field``, dim 1, sigma 25): std(u0) ~ 0.84, max|u0| ~ 2-3.
    """
    description = {
        "parameters": {"viscosity": viscosity},
        "initial_condition": {"law": "gaussian_random_field", "alpha": alpha, "tau": tau, "sigma": sigma},
        "grid": {"shape": [resolution], "domain": [[0.0, 1.0]], "points": "x_i = i / n", "periodic": True},
        "times": [round(i * record_every, 12) for i in range(steps + 1)],
        "solver": {
            "function": "zoo.pde.burgers_1d",
            "scheme": "pseudo-spectral, 2/3 dealiasing, ETDRK4, dt = 0.5 dx / max|u0| per batch",
            "dtype": str(dtype).removeprefix("torch."),
            "resolution": resolution,
        },
    }

    def solve(start: int, stop: int, seed: int) -> dict[str, torch.Tensor]:
        u0 = torch.cat([
            gaussian_random_field(1, resolution, dim=1, alpha=alpha, tau=tau, sigma=sigma, generator=g, dtype=torch.float64)
            for g in sample_generators(seed, start, stop)
        ]).to(device=device, dtype=dtype)
        u = burgers_1d(u0, viscosity, steps * record_every, record_every=record_every)
        return {"u": torch.cat([u0[:, None], u], dim=1).float().cpu()}

    return Recipe(
        equation="burgers_1d",
        fields={"u": ["sample", "time", "x"]},
        description=description,
        solve=solve,
        run_settings={"device": device},
    )


def darcy_recipe(
    *,
    resolution: int,
    solve_factor: int = 1,
    high: float = 12.0,
    low: float = 3.0,
    forcing: float = 1.0,
    alpha: float = 2.0,
    tau: float = 3.0,
) -> Recipe:
    """Darcy data: ``coefficient (n, R, R)`` and ``pressure (n, 1, R, R)`` (steady: one time step).

    Solved on ``solve_factor * (R - 1) + 1`` nodes and stored at every ``solve_factor``-th node, the
    FNO convention (its 421-node solves give the 85, 141, 211 grids this way). Coefficient law:
    ``threshold_coefficient`` (``high`` where a Neumann GRF is >= 0, else ``low``), ``f = forcing``.
    """
    nodes = solve_factor * (resolution - 1) + 1
    description = {
        "parameters": {"forcing": forcing, "coefficient_values": {"high": high, "low": low}},
        "initial_condition": {"law": "threshold_coefficient", "alpha": alpha, "tau": tau, "sampled_on": nodes},
        "grid": {"shape": [resolution, resolution], "domain": [[0.0, 1.0], [0.0, 1.0]], "points": "x_i = i / (n - 1)", "boundary": "u = 0"},
        "times": [0.0],
        "solver": {
            "function": "zoo.pde.darcy_2d",
            "scheme": "5-point finite differences, arithmetic-mean face coefficients, sparse LU (SuperLU)",
            "dtype": "float64",
            "resolution": nodes,
        },
    }

    def solve(start: int, stop: int, seed: int) -> dict[str, torch.Tensor]:
        a = torch.cat([
            threshold_coefficient(1, nodes, high=high, low=low, alpha=alpha, tau=tau, generator=g)
            for g in sample_generators(seed, start, stop)
        ])
        u = darcy_2d(a, forcing)
        stride = (slice(None), slice(None, None, solve_factor), slice(None, None, solve_factor))
        return {"coefficient": a[stride].float(), "pressure": u[stride][:, None].float()}

    return Recipe(
        equation="darcy_2d",
        fields={"coefficient": ["sample", "x", "y"], "pressure": ["sample", "time", "x", "y"]},
        description=description,
        solve=solve,
    )


# The FNO paper's Darcy benchmark (Li et al. 2021, sec. 5.2): coefficient 12 / 3 from a thresholded
# Neumann GRF N(0, (-lap + 9 I)^-2), f = 1, u = 0 on the boundary, solved on 421 x 421 nodes; the
# coarser grids are every k-th node of that solve, as the paper's 85, 141 and 211 grids are.
DARCY_FNO_NODES = 421
DARCY_FNO_GRIDS = {85: 5, 141: 3, 211: 2, 421: 1}  # stored grid -> stride into the 421-node solve
# The paper's 1000 training and (here) 200 test samples, plus 100 validation samples for early
# stopping, so that training uses all 1000 as the paper does and the test set is never looked at.
# Each split is a data set of its own root seed: sample i of split s has the 32-bit seed
# sample_seed(seed_s, i), and the three seed intervals are disjoint (tests/test_data_recipes.py).
DARCY_FNO_SPLITS = {
    "train": {"samples": 1000, "seed": 0},
    "validation": {"samples": 100, "seed": 2},
    "test": {"samples": 200, "seed": 1},
}


def darcy_fno_recipe() -> Recipe:
    """The FNO paper's Darcy data: :func:`darcy_recipe` on 421 x 421 nodes with the paper's law.

    Stores ``coefficient (n, 421, 421)`` and ``pressure (n, 1, 421, 421)``; grid ``g`` of
    ``DARCY_FNO_GRIDS`` is ``load_fields(path, subsample=DARCY_FNO_GRIDS[g])``. Splits and seeds:
    ``DARCY_FNO_SPLITS``; ``python recipes/darcy_fno_data.py`` generates them (resumable).
    """
    recipe = darcy_recipe(resolution=DARCY_FNO_NODES, high=12.0, low=3.0, forcing=1.0, alpha=2.0, tau=3.0)
    grids = {str(grid): f"nodes 0, {stride}, {2 * stride}, ... of the {DARCY_FNO_NODES}-node solve" if stride > 1 else "as solved"
             for grid, stride in DARCY_FNO_GRIDS.items()}
    return replace(recipe, description={**recipe.description, "grids": grids, "splits": DARCY_FNO_SPLITS})
