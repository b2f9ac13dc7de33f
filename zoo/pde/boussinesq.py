"""2D Boussinesq flow in vorticity-buoyancy form on the periodic unit square.

    w_t + u . grad(w) = nu Laplacian(w) + g db/dx,
    b_t + u . grad(b) + S v = kappa Laplacian(b),       u = (d psi/dy, -d psi/dx),   -Laplacian(psi) = w,

Conventions: axis ``-2`` of a field is x, axis ``-1`` is y (grid points ``x_i = i / n``), gravity
points along ``-y``, ``w = v_x - u_y`` (the Navier-Stokes solver's convention), and ``b`` is the
buoyancy anomaly: fluid with ``b > 0`` is light and rises. The curl of the buoyancy force
``g b y_hat`` is the torque ``g db/dx``: a light blob gets ``w > 0`` (counter-clockwise) on its
left flank and ``w < 0`` on its right, and the pair lifts it.
``S`` (``stratification``) is the gradient ``dB/dy`` of a background buoyancy ``B(y) = S y`` whose
advection ``v dB/dy`` is the ``S v`` term: ``S > 0`` is stably stratified, with buoyancy frequency
``N = sqrt(g S)`` and internal waves of frequency ``N |k_x| / |k|``. On the periodic square there
are no walls, so this is buoyancy-driven turbulence, not Rayleigh-Benard convection.

Scheme: the Navier-Stokes solver's (zoo.pde.navier_stokes): pseudo-spectral with the 2/3 rule on the
advection, Crank-Nicolson for the diffusion and Heun's method for advection, torque and
stratification; second order (measured on an exact nonlinear internal plane wave: relative error 1.4e-4
at dt = 0.01, 4.0x smaller per halving of dt; tests/test_pde_boussinesq.py). With ``b = 0`` it is
the Navier-Stokes solver without forcing, to round-off (tested). Heun is marginally unstable on the
imaginary axis, so advection relies on the viscous damping of the fastest modes, as in the
Navier-Stokes solver; steps whose initial Courant number exceeds ``MAX_COURANT`` are refused.

Resolution (64x64 solve vs a 128x128 solve truncated to 64x64, relative L2 over 20 records to
t = 10, g = 1, w0 the FNO law scaled to std 0.5, b0 a unit-std random field times 0.1):
1.4e-4 (w) and 2.1e-4 (b) at nu = kappa = 1e-3, 3e-5 and 6e-5 at 2e-3; with b0 x 0.3, 6e-4 and 1e-3 at 1e-3.
"""

from __future__ import annotations

import math

import torch

from zoo.pde.spectral import PeriodicSpectrum2d
from zoo.pde.time_stepping import CrankNicolsonHeun, check_fields, check_non_negative, integrate, record_schedule

# Default dt = DEFAULT_CFL / (n U) with U the larger of the initial speed max|u| + max|v| and the
# free-fall speed sqrt(|g| (max b - min b)) over the unit domain, which bounds the velocity that
# buoyancy can create; MAX_COURANT refuses steps beyond it at the initial speed.
DEFAULT_CFL = 0.5
MAX_COURANT = 1.0


def boussinesq_2d(
    w0: torch.Tensor,
    b0: torch.Tensor,
    viscosity: float,
    diffusivity: float,
    gravity: float,
    t_end: float,
    record_every: float = 1.0,
    dt: float | None = None,
    *,
    stratification: float = 0.0,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vorticity ``w`` and buoyancy ``b`` from ``w0``, ``b0`` ``(B, n, n)``, each returned ``(B, T, n, n)``.

    Records at ``t = record_every, ..., t_end``. ``gravity`` ``g`` scales the buoyancy torque
    ``g db/dx``; ``stratification`` ``S`` adds a background buoyancy ``S y`` (``N^2 = g S``).
    ``dt`` defaults to ``0.5 / (n U)`` (``U``: the initial or the free-fall speed, whichever is
    larger), at most ``record_every``, rounded down so that records fall on steps. Runs on ``w0``'s
    device and dtype.
    """
    check_fields(w0=w0, b0=b0)
    check_non_negative(viscosity=viscosity, diffusivity=diffusivity)
    if not (math.isfinite(gravity) and math.isfinite(stratification)):
        raise ValueError(f"gravity and stratification must be finite, got {gravity} and {stratification}")
    n = w0.shape[-1]
    spectrum = PeriodicSpectrum2d(n, device=w0.device, dtype=w0.dtype)
    f_hat = torch.fft.rfft2(torch.stack([w0, b0], dim=1))
    u0, v0 = torch.fft.irfft2(torch.stack(spectrum.velocity_from_vorticity(f_hat[:, 0]), dim=1), s=(n, n)).unbind(1)
    speed = float(u0.abs().max() + v0.abs().max())
    free_fall = math.sqrt(abs(gravity) * float(b0.max() - b0.min()))
    if dt is None:
        bound = max(speed, free_fall, math.sqrt(abs(gravity * stratification)) / n)
        dt = record_every if bound == 0 else min(record_every, DEFAULT_CFL / (n * bound))
    n_records, steps_per_record, dt = record_schedule(t_end, record_every, dt)
    if dt * n * speed > MAX_COURANT:
        raise ValueError(f"dt = {dt:g} gives Courant number {dt * n * speed:.3g} > {MAX_COURANT}: use dt <= {MAX_COURANT / (n * speed):.3g}")

    torque = gravity * 1j * spectrum.kx_odd

    def rhs(f_hat: torch.Tensor) -> torch.Tensor:
        u_hat, v_hat = spectrum.velocity_from_vorticity(f_hat[:, 0])
        sources = torch.stack([torque * f_hat[:, 1], -stratification * v_hat], dim=1)
        return sources - spectrum.advection(u_hat, v_hat, f_hat)

    kappa = torch.tensor([viscosity, diffusivity], dtype=w0.dtype, device=w0.device).view(-1, 1, 1)
    step = CrankNicolsonHeun(kappa, spectrum.k2, dt)
    fields = integrate(f_hat, step, rhs, n_records, steps_per_record, name="boussinesq_2d", record_every=record_every, progress=progress)
    return fields[:, :, 0], fields[:, :, 1]
