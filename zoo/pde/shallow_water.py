"""The nonlinear shallow-water equations on the periodic unit square, in height + velocity form.

    h_t + div(h u) = nu Laplacian(h),
    u_t + (u . grad) u + g dh/dx - f v = nu Laplacian(u),
    v_t + (u . grad) v + g dh/dy + f u = nu Laplacian(v),

with an optional passive tracer (a concentration, advective form) ``c_t + u . grad(c) = kappa Laplacian(c)``.
``h`` is the total fluid depth (must stay positive), ``u = (u, v)`` the depth-averaged velocity,
``g`` gravity, ``f`` the Coriolis parameter (``coriolis``; 0, non-rotating, by default; ``f > 0``
turns the flow clockwise as in the northern hemisphere, and gravity waves become inertia-gravity
waves of frequency ``sqrt(f^2 + g H |k|^2)``). Axis ``-2`` of a field is x and axis ``-1`` is y,
grid points ``x_i = i / n``.

``nu`` (``viscosity``) is a small Laplacian diffusion applied alike to ``h``, ``u`` and ``v``: the
nonlinear equations steepen waves into bores (shocks) that a spectral grid cannot hold, and the
diffusion keeps them a few grid cells wide. Resolution (64x64 solve vs a 128x128 solve truncated to
64x64, relative L2 over 20 records to t = 1, g = 1, h = 1 + A x unit-std random field, alpha 3,
tau 5, at rest): A = 0.1: 1.4e-5 (h), 1.7e-4 (u) at the default nu = 2e-3, 1.7e-4 and 9e-4 at
nu = 1e-3; A = 0.2, or A = 0.1 with initial velocities 0.2 x random fields, needs nu = 5e-3
(A = 0.2: 6e-6, 8e-6, and 1.7e-3, 1e-3 at nu = 2e-3; with velocities: 7e-5, 3e-5, and 5e-3, 2e-3 at 2e-3).
Diffusing ``h`` too leaves the mass ``mean(h)`` untouched (no ``k = 0`` component) and damps each
linear wave by exactly ``exp(-nu |k|^2 t)`` without changing its frequency.

Scheme: pseudo-spectral, 2/3 rule on the products ``h u``, ``h v`` and the advection; diffusion by
an exact integrating factor, everything else (waves, advection, Coriolis) by classical RK4 (fourth
order, stable on the imaginary axis up to ``|lambda dt| = 2 sqrt 2``). The Courant number
``dt n (max|u| + max|v| + 2 sqrt(g max h))`` bounds ``|lambda dt|`` by about ``2.2`` of it, so a
step above ``MAX_COURANT`` (at the initial state) is refused. Mass ``mean(h)`` is conserved to
round-off. Measured (tests/test_pde_shallow_water.py): small-amplitude gravity waves follow the
linear dispersion relation ``omega = sqrt(g H) |k|`` (relative deviation 6e-4 at amplitude 1e-4,
10x smaller per 10x smaller amplitude: the nonlinear correction), the inertial oscillation and a
geostrophic shear are reproduced exactly, and the error against a refined solve falls 16x per
halving of dt (1.4e-4 at dt = 1/50 on a random state with |u| ~ 0.3, 16x16).
"""

from __future__ import annotations

import math

import torch

from zoo.pde.spectral import PeriodicSpectrum2d
from zoo.pde.time_stepping import IntegratingFactorRK4, check_fields, check_non_negative, integrate, record_schedule

# Default dt = DEFAULT_CFL / (n (max|u0| + max|v0| + 2 sqrt(g max h0))), at most record_every:
# half the refused Courant number, leaving room for the speed-up of the flow.
DEFAULT_CFL = 0.5
MAX_COURANT = 1.0


def shallow_water_2d(
    h0: torch.Tensor,
    u0: torch.Tensor,
    v0: torch.Tensor,
    gravity: float,
    t_end: float,
    record_every: float = 1.0,
    dt: float | None = None,
    viscosity: float = 2e-3,
    tracer0: torch.Tensor | None = None,
    tracer_diffusivity: float | None = None,
    *,
    coriolis: float = 0.0,
    progress: bool = False,
) -> tuple[torch.Tensor, ...]:
    """Depth ``h`` and velocity ``u, v`` (and tracer ``c``) from ``(B, n, n)`` initial fields, each returned ``(B, T, n, n)``.

    Returns ``(h, u, v)``, or ``(h, u, v, c)`` when ``tracer0`` is given; records at
    ``t = record_every, ..., t_end``. ``h0`` must be positive. ``tracer_diffusivity`` defaults to
    ``viscosity``. ``dt`` defaults to ``0.5 / (n (max|u0| + max|v0| + 2 sqrt(g max h0)))`` (at most
    ``record_every``) and is rounded down so that records fall on steps. Runs on ``h0``'s device and dtype.
    """
    fields = {"h0": h0, "u0": u0, "v0": v0} | ({} if tracer0 is None else {"tracer0": tracer0})
    check_fields(**fields)
    if not bool((h0 > 0).all()):
        raise ValueError(f"h0 must be positive everywhere (it is the fluid depth), got min {float(h0.min()):g}")
    if tracer_diffusivity is None:
        tracer_diffusivity = viscosity
    check_non_negative(gravity=gravity, viscosity=viscosity, tracer_diffusivity=tracer_diffusivity)
    if not math.isfinite(coriolis):
        raise ValueError(f"coriolis must be finite, got {coriolis}")
    n = h0.shape[-1]
    speed = float(u0.abs().max() + v0.abs().max()) + 2 * math.sqrt(gravity * float(h0.max()))
    if dt is None:
        dt = record_every if speed == 0 else min(record_every, DEFAULT_CFL / (n * speed))
    n_records, steps_per_record, dt = record_schedule(t_end, record_every, dt)
    if dt * n * speed > MAX_COURANT:
        raise ValueError(f"dt = {dt:g} gives Courant number {dt * n * speed:.3g} > {MAX_COURANT}: use dt <= {MAX_COURANT / (n * speed):.3g}")

    spectrum = PeriodicSpectrum2d(n, device=h0.device, dtype=h0.dtype)
    ikx, iky = 1j * spectrum.kx_odd, 1j * spectrum.ky_odd

    def rhs(f_hat: torch.Tensor) -> torch.Tensor:
        h_hat, u_hat, v_hat = f_hat[:, 0], f_hat[:, 1], f_hat[:, 2]
        advection = spectrum.advection(u_hat, v_hat, f_hat[:, 1:])  # (u . grad) of u, v and the tracer
        h, u, v = torch.fft.irfft2(f_hat[:, :3], s=(n, n)).unbind(1)
        fluxes = torch.fft.rfft2(torch.stack([h * u, h * v], dim=1))
        divergence = spectrum.dealias * (ikx * fluxes[:, 0] + iky * fluxes[:, 1])
        momentum_u = -gravity * ikx * h_hat + coriolis * v_hat
        momentum_v = -gravity * iky * h_hat - coriolis * u_hat
        return torch.cat([-divergence[:, None], torch.stack([momentum_u, momentum_v], dim=1) - advection[:, :2], -advection[:, 2:]], dim=1)

    kappa = torch.tensor([viscosity] * 3 + [tracer_diffusivity] * (len(fields) - 3), dtype=h0.dtype, device=h0.device).view(-1, 1, 1)
    step = IntegratingFactorRK4(kappa, spectrum.k2, dt)
    records = integrate(
        torch.fft.rfft2(torch.stack(list(fields.values()), dim=1)), step, rhs, n_records, steps_per_record,
        name="shallow_water_2d", record_every=record_every, progress=progress,
    )
    return tuple(records.unbind(2))
