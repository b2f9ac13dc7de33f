"""Kolmogorov flow on ``(0, 2 pi)^2`` (PINO and Markov neural operators' chaotic benchmark), by the unit-square solver.

    dw/dt + u . grad(w) = (1 / Re) Laplacian(w) - alpha w - 4 cos(4 y)    on (0, 2 pi)^2

Rescaling space by ``x = 2 pi x'`` at fixed time maps it exactly onto :func:`navier_stokes_2d` on the
unit square: velocities scale by ``2 pi`` and gradients by ``1 / (2 pi)``, so the advection
``u . grad(w)`` and the vorticity values are unchanged, the Laplacian gains ``1 / (2 pi)^2`` (viscosity
``1 / (Re (2 pi)^2)``) and the forcing becomes ``-4 cos(8 pi y')``; drag and time are unchanged.
Fields are the same arrays on either domain (grid point ``i`` at ``x = 2 pi i / n``).
"""

from __future__ import annotations

import math

import torch

from zoo.pde.navier_stokes import navier_stokes_2d

DOMAIN_LENGTH = 2 * math.pi
FORCING_WAVENUMBER = 4
FORCING_FORMULA = "-4 cos(4 y) on (0, 2 pi)^2"

# Courant number at unit velocity on the unit square: half the smooth-flow solver's default,
# because on the attractor max|u'| reaches ~0.5-1 (|u| ~ 3-6 on the 2 pi domain) where the FNO
# flows stay below 0.3; at Re = 500 with the default step the 64x64 and 128x128 solves blow up.
KOLMOGOROV_CFL = 0.32


def unit_square_viscosity(reynolds: float) -> float:
    """Viscosity of the unit-square problem equivalent to ``nu = 1 / Re`` on ``(0, 2 pi)^2``."""
    return 1.0 / (reynolds * DOMAIN_LENGTH**2)


def unit_square_forcing(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``-4 cos(4 y)`` on ``(0, 2 pi)^2`` in unit-square coordinates: ``-4 cos(8 pi y')``."""
    del x  # uniform along x
    return -FORCING_WAVENUMBER * torch.cos(FORCING_WAVENUMBER * DOMAIN_LENGTH * y)


def laminar_vorticity(y: torch.Tensor, reynolds: float) -> torch.Tensor:
    """The steady shear solution ``w = -(Re / 4) cos(4 y)`` without drag (``nu w'' = 4 cos 4y``), for ``y`` on ``(0, 2 pi)``."""
    return -(reynolds / FORCING_WAVENUMBER) * torch.cos(FORCING_WAVENUMBER * y)


def kolmogorov_time_step(resolution: int, record_every: float) -> float:
    """Largest step ``<= KOLMOGOROV_CFL / resolution`` that divides ``record_every``."""
    return record_every / math.ceil(record_every * resolution / KOLMOGOROV_CFL - 1e-9)


def kolmogorov_flow(
    w0: torch.Tensor,
    reynolds: float,
    t_end: float,
    record_every: float,
    *,
    drag: float = 0.0,
    dt: float | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Vorticity ``(B, T, n, n)`` at ``t = record_every, ..., t_end`` from ``w0`` ``(B, n, n)`` on ``(0, 2 pi)^2``.

    ``drag``: linear friction ``alpha``; ``dt`` defaults to :func:`kolmogorov_time_step`.
    """
    if reynolds <= 0:
        raise ValueError(f"reynolds must be positive, got {reynolds}")
    dt = dt or kolmogorov_time_step(w0.shape[-1], record_every)
    return navier_stokes_2d(
        w0, unit_square_viscosity(reynolds), t_end, record_every, forcing=unit_square_forcing, dt=dt, drag=drag, progress=progress
    )
