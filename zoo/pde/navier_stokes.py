"""2D incompressible Navier-Stokes in vorticity form on the periodic unit square (the FNO benchmark).

    dw/dt + u . grad(w) = nu Laplacian(w) + f,    u = (d psi/dy, -d psi/dx),    -Laplacian(psi) = w

optionally carrying a passive scalar ``dc/dt + u . grad(c) = kappa Laplacian(c)`` (a second fluid
system for fine-tuning: the same flow, one more channel).

Axis ``-2`` of a field is x and axis ``-1`` is y, with grid points ``x_i = i / n`` (as the FNO
paper's solver). Scheme: pseudo-spectral in space with the 2/3 rule on the advection term, and in
time Crank-Nicolson for diffusion combined with Heun's method (explicit trapezoid) for advection and
forcing: second order in time, where the FNO paper's solver (Crank-Nicolson + forward Euler,
dt = 1e-4) is first order. Second order is what lets a 100x larger step (0.01 at 64x64) be 10x
more accurate than the paper's (measured in BENCHMARKS.md), and CN keeps the stiff diffusion
unconditionally stable.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from zoo.pde.spectral import PeriodicSpectrum2d
from zoo.pde.time_stepping import CrankNicolsonHeun, integrate, record_schedule

Forcing = str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | torch.Tensor | None

# Default dt = DEFAULT_CFL * dx, the Courant number at unit velocity (dt = 0.01 at 64x64). The FNO
# flows keep max|u| ~ 0.15-0.3, so the actual Courant number stays below ~0.2, where Heun's slight
# growth on the imaginary axis (|G|^2 = 1 + (lambda dt)^4 / 4) is far below the viscous damping; at
# nu = 1e-3 this step's time error (~4e-7 relative at t = 10) is 10x below that of the paper's
# Euler step dt = 1e-4 and below float32 round-off (BENCHMARKS.md).
DEFAULT_CFL = 0.64


def fno_forcing(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The FNO paper's forcing ``0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``."""
    return 0.1 * (torch.sin(2 * math.pi * (x + y)) + torch.cos(2 * math.pi * (x + y)))


def kolmogorov_forcing(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A Kolmogorov-type shear forcing ``0.1 sin(8 pi y)`` (four periods across the domain)."""
    del x  # uniform in x
    return 0.1 * torch.sin(8 * math.pi * y)


NAMED_FORCINGS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"fno": fno_forcing, "kolmogorov": kolmogorov_forcing}
FORCING_FORMULAS = {"fno": "0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))", "kolmogorov": "0.1 sin(8 pi y)"}


def periodic_grid(resolution: int, *, device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid coordinates ``x, y`` of shape ``(n, n)`` on ``[0, 1)^2`` with ``x`` along axis 0."""
    points = torch.arange(resolution, device=device, dtype=dtype) / resolution
    return torch.meshgrid(points, points, indexing="ij")


def _forcing_field(forcing: Forcing, w0: torch.Tensor) -> torch.Tensor:
    """The forcing as a tensor broadcastable to ``w0`` ``(B, H, W)``."""
    if forcing is None:
        return torch.zeros_like(w0[:1])
    if isinstance(forcing, str):
        if forcing not in NAMED_FORCINGS:
            raise ValueError(f"unknown forcing {forcing!r}; named forcings: {sorted(NAMED_FORCINGS)}")
        forcing = NAMED_FORCINGS[forcing]
    if callable(forcing):
        x, y = periodic_grid(w0.shape[-1], device=w0.device, dtype=w0.dtype)
        forcing = forcing(x, y)
    if not isinstance(forcing, torch.Tensor):
        raise TypeError(f"forcing must be a name, a callable f(x, y), a tensor or None, got {type(forcing).__name__}")
    if forcing.shape[-2:] != w0.shape[-2:] or forcing.ndim not in (2, 3):
        raise ValueError(f"forcing has shape {tuple(forcing.shape)}, expected (H, W) or (B, H, W) matching w0 {tuple(w0.shape)}")
    return forcing.to(device=w0.device, dtype=w0.dtype).expand_as(w0)


def default_time_step(resolution: int, record_every: float) -> float:
    """Largest step ``<= DEFAULT_CFL / resolution`` that divides ``record_every`` exactly."""
    return record_every / math.ceil(record_every * resolution / DEFAULT_CFL - 1e-9)


def navier_stokes_2d(
    w0: torch.Tensor,
    viscosity: float,
    t_end: float,
    record_every: float = 1.0,
    forcing: Forcing = "fno",
    dt: float | None = None,
    *,
    progress: bool = False,
) -> torch.Tensor:
    """Solve from vorticity ``w0`` ``(B, H, W)`` and return it at ``t = record_every, 2 record_every, ..., t_end``: ``(B, T, H, W)``.

    ``forcing``: ``"fno"`` (the paper's), ``None``, a callable ``f(x, y)`` of grid coordinates
    (``periodic_grid``), or a tensor ``(H, W)`` / ``(B, H, W)``; it is constant in time.
    ``dt`` defaults to ``default_time_step(H, record_every)`` (0.01 at 64x64, Courant number 0.64 at
    unit velocity); it is rounded down so that each record falls on a step. Runs on ``w0``'s device
    and dtype (complex64 FFTs for float32). Raises if the solution stops being finite (too large a step).
    """
    _check_vorticity(w0, viscosity)
    return _solve(w0[:, None], [viscosity], t_end, record_every, forcing, dt, progress)[:, :, 0]


def passive_scalar_2d(
    w0: torch.Tensor,
    c0: torch.Tensor,
    viscosity: float,
    diffusivity: float,
    t_end: float,
    record_every: float = 1.0,
    forcing: Forcing = "fno",
    dt: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Navier-Stokes flow carrying a passive scalar ``c_t + u . grad(c) = diffusivity Laplacian(c)``.

    ``w0``, ``c0``: ``(B, H, W)``. Returns vorticity and scalar, each ``(B, T, H, W)`` at the record
    times of :func:`navier_stokes_2d` (same flow, same scheme; the scalar is advected by the same
    dealiased velocity and diffused by Crank-Nicolson).
    """
    _check_vorticity(w0, viscosity)
    if c0.shape != w0.shape or c0.dtype != w0.dtype:
        raise ValueError(f"c0 must match w0's shape {tuple(w0.shape)} and dtype {w0.dtype}, got {tuple(c0.shape)} {c0.dtype}")
    if diffusivity < 0:
        raise ValueError(f"diffusivity must be non-negative, got {diffusivity}")
    fields = _solve(torch.stack([w0, c0], dim=1), [viscosity, diffusivity], t_end, record_every, forcing, dt, False)
    return fields[:, :, 0], fields[:, :, 1]


def _check_vorticity(w0: torch.Tensor, viscosity: float) -> None:
    if w0.ndim != 3 or w0.shape[-1] != w0.shape[-2]:
        raise ValueError(f"w0 must have shape (B, n, n), got {tuple(w0.shape)}")
    if w0.is_complex() or not w0.is_floating_point():
        raise TypeError(f"w0 must be a real floating tensor, got {w0.dtype}")
    if viscosity < 0:
        raise ValueError(f"viscosity must be non-negative, got {viscosity}")


def _solve(
    fields0: torch.Tensor,
    diffusivities: list[float],
    t_end: float,
    record_every: float,
    forcing: Forcing,
    dt: float | None,
    progress: bool,
) -> torch.Tensor:
    """Advance ``fields0`` ``(B, F, n, n)`` (vorticity first, then passive scalars); return ``(B, T, F, n, n)``."""
    resolution = fields0.shape[-1]
    n_records, steps_per_record, dt = record_schedule(t_end, record_every, dt or default_time_step(resolution, record_every))
    spectrum = PeriodicSpectrum2d(resolution, device=fields0.device, dtype=fields0.dtype)
    kappa = torch.tensor(diffusivities, dtype=fields0.dtype, device=fields0.device).view(-1, 1, 1)
    f_hat = torch.fft.rfft2(fields0)
    forcing_hat = torch.zeros_like(f_hat)  # only the vorticity is forced
    forcing_hat[:, 0] = torch.fft.rfft2(_forcing_field(forcing, fields0[:, 0]))

    def advection_and_forcing(f_hat: torch.Tensor) -> torch.Tensor:
        return forcing_hat - spectrum.advection(*spectrum.velocity_from_vorticity(f_hat[:, 0]), f_hat)

    step = CrankNicolsonHeun(kappa, spectrum.k2, dt)
    return integrate(
        f_hat, step, advection_and_forcing, n_records, steps_per_record, name="navier_stokes_2d", record_every=record_every, progress=progress
    )
