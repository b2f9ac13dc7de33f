"""2D incompressible Navier-Stokes in vorticity form on the periodic unit square (the FNO benchmark).

    dw/dt + u . grad(w) = nu Laplacian(w) - alpha w + f,    u = (d psi/dy, -d psi/dx),    -Laplacian(psi) = w

with an optional linear drag ``alpha`` (bottom friction; 0 by default, the FNO benchmark's), and
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
from tqdm.auto import tqdm

from zoo.pde.spectral import wavenumbers

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
    drag: float = 0.0,
    progress: bool = False,
) -> torch.Tensor:
    """Solve from vorticity ``w0`` ``(B, H, W)`` and return it at ``t = record_every, 2 record_every, ..., t_end``: ``(B, T, H, W)``.

    ``forcing``: ``"fno"`` (the paper's), ``None``, a callable ``f(x, y)`` of grid coordinates
    (``periodic_grid``), or a tensor ``(H, W)`` / ``(B, H, W)``; it is constant in time.
    ``dt`` defaults to ``default_time_step(H, record_every)`` (0.01 at 64x64, Courant number 0.64 at
    unit velocity); it is rounded down so that each record falls on a step. ``drag``: the linear
    friction ``alpha >= 0`` on the vorticity, integrated with the diffusion by Crank-Nicolson (it
    keeps the energy of a forced 2D flow from piling up in the largest scale, Kochkov et al. 2021's
    Kolmogorov flow uses 0.1 on the (0, 2 pi)^2 domain). Runs on ``w0``'s device
    and dtype (complex64 FFTs for float32). Raises if the solution stops being finite (too large a step).
    """
    _check_vorticity(w0, viscosity)
    if drag < 0:
        raise ValueError(f"drag must be non-negative, got {drag}")
    return _solve(w0[:, None], [viscosity], t_end, record_every, forcing, dt, progress, drag=drag)[:, :, 0]


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
    drag: float = 0.0,
) -> torch.Tensor:
    """Advance ``fields0`` ``(B, F, n, n)`` (vorticity first, then passive scalars); return ``(B, T, F, n, n)``.

    ``drag`` damps the vorticity (field 0) only."""
    n_records = round(t_end / record_every)
    if n_records < 1 or not math.isclose(n_records * record_every, t_end, rel_tol=1e-9):
        raise ValueError(f"t_end = {t_end} must be a positive multiple of record_every = {record_every}")
    resolution = fields0.shape[-1]
    steps_per_record = math.ceil(record_every / (dt or default_time_step(resolution, record_every)) - 1e-9)
    dt = record_every / steps_per_record

    real_dtype = fields0.dtype
    kx, ky = wavenumbers((resolution, resolution), device=fields0.device, dtype=real_dtype)
    k2 = kx**2 + ky**2
    inverse_k2 = torch.where(k2 > 0, 1.0 / torch.where(k2 > 0, k2, 1.0), 0.0)
    # Odd derivatives of a real field have no Nyquist component (rfft keeps a single real one).
    half = resolution // 2
    kx_odd = torch.where(kx.abs() == 2 * math.pi * half, 0.0, kx) if resolution % 2 == 0 else kx
    ky_odd = torch.where(ky.abs() == 2 * math.pi * half, 0.0, ky) if resolution % 2 == 0 else ky
    # 2/3 rule on the integer wavenumbers, as the FNO solver: |k| <= (2/3) (n/2) on both axes.
    kmax = (2.0 / 3.0) * half * 2 * math.pi
    dealias = ((kx.abs() <= kmax) & (ky.abs() <= kmax)).to(real_dtype)
    # Crank-Nicolson: (1 + dt L / 2) and (1 - dt L / 2)^-1 with L = -kappa |k|^2 - alpha per field.
    kappa = torch.tensor(diffusivities, dtype=real_dtype, device=fields0.device).view(-1, 1, 1)
    alpha = torch.tensor([drag] + [0.0] * (len(diffusivities) - 1), dtype=real_dtype, device=fields0.device).view(-1, 1, 1)
    explicit_half = 1.0 - 0.5 * dt * (kappa * k2 + alpha)
    implicit_half_inverse = 1.0 / (1.0 + 0.5 * dt * (kappa * k2 + alpha))
    n_fields = fields0.shape[1]
    f_hat = torch.fft.rfft2(fields0)
    forcing_hat = torch.zeros_like(f_hat)  # only the vorticity is forced
    forcing_hat[:, 0] = torch.fft.rfft2(_forcing_field(forcing, fields0[:, 0]))

    def advection_and_forcing(f_hat: torch.Tensor) -> torch.Tensor:
        psi_hat = f_hat[:, 0] * inverse_k2
        # One batched inverse transform for u = psi_y, v = -psi_x and the gradient of every field.
        spectra = torch.cat([(1j * ky_odd * psi_hat)[:, None], (-1j * kx_odd * psi_hat)[:, None], 1j * kx_odd * f_hat, 1j * ky_odd * f_hat], dim=1)
        physical = torch.fft.irfft2(spectra, s=(resolution, resolution))
        u, v = physical[:, :1], physical[:, 1:2]
        f_x, f_y = physical[:, 2 : 2 + n_fields], physical[:, 2 + n_fields :]
        return forcing_hat - dealias * torch.fft.rfft2(u * f_x + v * f_y)

    records = torch.empty((fields0.shape[0], n_records, *fields0.shape[1:]), dtype=real_dtype, device=fields0.device)
    for record in tqdm(range(n_records), disable=not progress, desc="navier_stokes_2d", unit="record"):
        for _ in range(steps_per_record):
            rhs_now = advection_and_forcing(f_hat)
            diffused = explicit_half * f_hat
            predicted = (diffused + dt * rhs_now) * implicit_half_inverse
            f_hat = (diffused + 0.5 * dt * (rhs_now + advection_and_forcing(predicted))) * implicit_half_inverse
        records[:, record] = torch.fft.irfft2(f_hat, s=(resolution, resolution))
        if not torch.isfinite(records[:, record]).all():
            raise FloatingPointError(
                f"navier_stokes_2d blew up before t = {(record + 1) * record_every:g} with dt = {dt:g}: use a smaller dt"
            )
    return records
