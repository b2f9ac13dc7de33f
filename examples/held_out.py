"""Held-out Navier-Stokes trajectories that no data set of this project contains.

Samples of seed 0 at indices from 1,000,000, solved directly from the recipe (the same solver and
law as every data set), far beyond the indices any data set here uses. They were introduced while
zoo's generator ignored the seed (every data set then held the same initial fields index by index;
fixed in ``zoo.data.generate.sample_seed``), and stay new under either seeding, so the figures made
with them stay reproducible. They are not cached: a few trajectories take a minute or two.
"""

from __future__ import annotations

import torch

from zoo.data import FieldData
from zoo.data.equations import navier_stokes_recipe

FIRST_INDEX = 1_000_000


def held_out_ns2d(samples: int, *, first: int = FIRST_INDEX, steps: int, resolution: int = 64,
                  diffusivity: float | None = None, viscosity: float = 1e-3) -> FieldData:
    """Trajectories ``(samples, steps + 1, C, resolution, resolution)`` at t = 0..steps of samples
    ``first..first + samples - 1`` (channels ``vorticity`` and, with ``diffusivity``, ``scalar``,
    in the sorted order ``zoo.data.load_fields`` gives)."""
    if samples < 1 or first < 0:
        raise ValueError(f"need samples >= 1 and first >= 0, got {samples}, {first}")
    recipe = navier_stokes_recipe(viscosity=viscosity, resolution=resolution, steps=steps, diffusivity=diffusivity)
    fields = recipe.solve(first, first + samples, 0)
    names = sorted(fields)
    return FieldData(torch.stack([fields[name] for name in names], dim=2), names,
                     torch.arange(steps + 1, dtype=torch.float64), source=f"held-out samples {first}..{first + samples - 1}")
