"""1D viscous Burgers ``u_t + (u^2 / 2)_x = nu u_xx`` on the periodic interval ``[0, 1)``.

Pseudo-spectral in space (2/3 rule on ``u^2``) and ETDRK4 in time (Cox & Matthews 2002, with the
contour-integral coefficients of Kassam & Trefethen 2005): the stiff diffusion is integrated
exactly, so the step is limited only by advection, and the scheme is fourth order.
"""

from __future__ import annotations

import math

import torch

# Default dt = DEFAULT_CFL * dx / max|u0|. Burgers obeys a maximum principle (max|u| never grows),
# so the initial speed bounds the Courant number for the whole run; RK4's stability interval on the
# imaginary axis is 2.8, and 0.5 keeps the time error far below the spatial one.
DEFAULT_CFL = 0.5
_CONTOUR_POINTS = 32


def _etdrk4_coefficients(linear: torch.Tensor, h: float) -> tuple[torch.Tensor, ...]:
    """``exp(hL)``, ``exp(hL/2)`` and the phi-function weights (times ``h``) for diagonal ``L`` (float64).

    The weights are averaged over a circle of radius 1 around each ``hL`` in the complex plane,
    which avoids the cancellation of their closed forms at small ``|hL|`` (Kassam & Trefethen).
    """
    r = torch.exp(1j * math.pi * (torch.arange(1, _CONTOUR_POINTS + 1, dtype=torch.float64) - 0.5) / _CONTOUR_POINTS)
    hl = h * linear
    lr = hl[..., None].to(torch.complex128) + r
    e = torch.exp(lr)
    q = h * ((torch.exp(lr / 2) - 1) / lr).mean(-1).real
    f1 = h * ((-4 - lr + e * (4 - 3 * lr + lr**2)) / lr**3).mean(-1).real
    f2 = h * ((2 + lr + e * (lr - 2)) / lr**3).mean(-1).real
    f3 = h * ((-4 - 3 * lr - lr**2 + e * (4 - lr)) / lr**3).mean(-1).real
    return torch.exp(hl), torch.exp(hl / 2), q, f1, f2, f3


def burgers_1d(
    u0: torch.Tensor,
    viscosity: float,
    t_end: float,
    record_every: float = 1.0,
    dt: float | None = None,
) -> torch.Tensor:
    """Solve from ``u0`` ``(B, N)`` on ``x_i = i / N``; return ``u`` at ``record_every, ..., t_end``: ``(B, T, N)``.

    ``dt`` defaults to ``0.5 dx / max|u0|`` (at most ``record_every``), rounded down so that each
    record falls on a step. Runs on ``u0``'s device and dtype.
    """
    if u0.ndim != 2 or u0.is_complex() or not u0.is_floating_point():
        raise ValueError(f"u0 must be a real floating tensor of shape (B, N), got {tuple(u0.shape)} {u0.dtype}")
    if viscosity <= 0:
        raise ValueError(f"viscosity must be positive (the inviscid limit forms shocks), got {viscosity}")
    n_records = round(t_end / record_every)
    if n_records < 1 or not math.isclose(n_records * record_every, t_end, rel_tol=1e-9):
        raise ValueError(f"t_end = {t_end} must be a positive multiple of record_every = {record_every}")
    n = u0.shape[-1]
    if dt is None:
        speed = float(u0.abs().max())
        dt = record_every if speed == 0 else min(record_every, DEFAULT_CFL / (n * speed))
    steps_per_record = math.ceil(record_every / dt - 1e-9)
    h = record_every / steps_per_record

    k = 2 * math.pi * torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64)
    e, e2, q, f1, f2, f3 = (c.to(u0.device, u0.dtype) for c in _etdrk4_coefficients(-viscosity * k**2, h))
    dealias = (torch.arange(k.numel(), device=u0.device) <= n // 3).to(u0.dtype)
    # -(u^2 / 2)_x in Fourier space; odd derivative, so the Nyquist mode gets no i k factor.
    flux_factor = -0.5j * torch.where(k == math.pi * n, 0.0, k).to(u0.device, u0.dtype) * dealias

    def nonlinear(v: torch.Tensor) -> torch.Tensor:
        return flux_factor * torch.fft.rfft(torch.fft.irfft(v, n=n) ** 2)

    v = torch.fft.rfft(u0)
    records = torch.empty((u0.shape[0], n_records, n), dtype=u0.dtype, device=u0.device)
    for record in range(n_records):
        for _ in range(steps_per_record):
            nv = nonlinear(v)
            a = e2 * v + q * nv
            na = nonlinear(a)
            b = e2 * v + q * na
            nb = nonlinear(b)
            c = e2 * a + q * (2 * nb - nv)
            v = e * v + f1 * nv + 2 * f2 * (na + nb) + f3 * nonlinear(c)
        records[:, record] = torch.fft.irfft(v, n=n)
        if not torch.isfinite(records[:, record]).all():
            raise FloatingPointError(f"burgers_1d blew up before t = {(record + 1) * record_every:g} with dt = {h:g}: use a smaller dt")
    return records
