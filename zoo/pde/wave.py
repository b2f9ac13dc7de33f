"""The linear wave equation ``u_tt = c^2 Laplacian(u)`` on the periodic unit square, solved exactly.

Written as a first-order system for ``u`` and ``v = u_t``. Each Fourier mode of wavenumber ``k`` is a
harmonic oscillator of frequency ``omega = c |k|``, so

    u_k(t) = u_k(0) cos(omega t) + v_k(0) sin(omega t) / omega,
    v_k(t) = -omega u_k(0) sin(omega t) + v_k(0) cos(omega t),

(``u_0(t) = u_0(0) + v_0(0) t`` for the mean) is evaluated directly at each record time: no time
stepping, hence no time error and no stability limit, whatever ``dt``. The only errors are the
grid's (none for a band-limited field) and round-off (measured: ~1e-15 relative in float64 against
exact plane waves and d'Alembert's solution, energy conserved to ~1e-15; tests/test_pde_wave.py).
Axis ``-2`` of a field is x and axis ``-1`` is y, grid points ``x_i = i / n``. Modes do not
interact, so a 64x64 solve equals a 128x128 solve truncated to 64x64 (measured: 5e-16).
"""

from __future__ import annotations

import torch

from zoo.pde.spectral import wavenumbers
from zoo.pde.time_stepping import check_fields, check_non_negative, record_schedule


def wave_2d(
    u0: torch.Tensor,
    v0: torch.Tensor,
    speed: float,
    t_end: float,
    record_every: float = 1.0,
    dt: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Displacement ``u`` and velocity ``v = u_t`` from ``u0``, ``v0`` ``(B, n, n)``, each returned ``(B, T, n, n)``.

    Records at ``t = record_every, 2 record_every, ..., t_end``. The solution is exact in time, so it
    does not depend on ``dt``: the argument exists so that every solver of ``zoo.pde`` is called the
    same way, and is only checked (positive if given). Runs on ``u0``'s device and dtype.
    """
    check_fields(u0=u0, v0=v0)
    check_non_negative(speed=speed)
    n_records, _, _ = record_schedule(t_end, record_every, record_every if dt is None else dt)
    n = u0.shape[-1]
    kx, ky = wavenumbers((n, n), device=u0.device, dtype=u0.dtype)
    omega = speed * torch.sqrt(kx**2 + ky**2)
    times = record_every * torch.arange(1, n_records + 1, device=u0.device, dtype=u0.dtype).view(-1, 1, 1)
    phase = omega * times  # (T, n, n // 2 + 1)
    cos, sin = torch.cos(phase), torch.sin(phase)
    # sin(omega t) / omega -> t at omega = 0 (the mean drifts with the mean velocity).
    sin_over_omega = torch.where(omega > 0, sin / torch.where(omega > 0, omega, 1.0), times)
    u_hat, v_hat = torch.fft.rfft2(u0)[:, None], torch.fft.rfft2(v0)[:, None]
    u = torch.fft.irfft2(u_hat * cos + v_hat * sin_over_omega, s=(n, n))
    v = torch.fft.irfft2(v_hat * cos - u_hat * omega * sin, s=(n, n))
    return u, v
