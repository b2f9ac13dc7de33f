"""Spectral calculus on periodic grids: wavenumbers and derivatives of fields on ``[0, L)^d``.

Used by the solvers and by the physics-informed losses, so both differentiate the same way.
Fields are real tensors whose last ``ndim`` axes are the periodic spatial axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def wavenumbers(spatial: Sequence[int], *, length: float = 1.0, device=None, dtype=torch.float32) -> list[torch.Tensor]:
    """Angular wavenumbers ``2 pi k / L`` of an ``rfftn`` spectrum, broadcastable to its shape.

    Returns one tensor per axis; the last axis holds ``0..n//2`` (rfft), the others
    ``fftfreq`` order. Each is shaped to broadcast against ``(..., *spectrum_shape)``.
    """
    ndim = len(spatial)
    out = []
    for axis, n in enumerate(spatial):
        if axis == ndim - 1:
            k = torch.fft.rfftfreq(n, d=1.0 / n, device=device, dtype=dtype)
        else:
            k = torch.fft.fftfreq(n, d=1.0 / n, device=device, dtype=dtype)
        shape = [1] * ndim
        shape[axis] = k.numel()
        out.append((2 * math.pi / length) * k.reshape(shape))
    return out


def _nyquist_free(k: torch.Tensor, n: int, axis: int, ndim: int) -> torch.Tensor:
    """Zero the Nyquist wavenumber of an even axis: odd derivatives of a real field have none."""
    if n % 2:
        return k
    k = k.clone()
    k[tuple(n // 2 if i == axis else slice(None) for i in range(ndim))] = 0
    return k


def spectral_derivative(u: torch.Tensor, order: Sequence[int], *, length: float = 1.0) -> torch.Tensor:
    """``d^|order| u / dx_1^order[0] ... `` for a periodic real field ``u`` of shape ``(..., *spatial)``.

    ``order`` gives the derivative order per spatial axis (its length is the dimension).
    """
    ndim = len(order)
    spatial = u.shape[-ndim:]
    dims = tuple(range(-ndim, 0))
    u_hat = torch.fft.rfftn(u, dim=dims)
    real_dtype = u_hat.real.dtype
    factor = torch.ones((), dtype=u_hat.dtype, device=u.device)
    for axis, (k, p) in enumerate(zip(wavenumbers(spatial, length=length, device=u.device, dtype=real_dtype), order)):
        if p == 0:
            continue
        if p % 2:
            k = _nyquist_free(k, spatial[axis], axis, ndim)
        factor = factor * (1j * k) ** p
    return torch.fft.irfftn(u_hat * factor, s=spatial, dim=dims)


def gradient(u: torch.Tensor, ndim: int, *, length: float = 1.0) -> list[torch.Tensor]:
    """First derivatives along each of the last ``ndim`` axes."""
    return [
        spectral_derivative(u, [int(a == axis) for a in range(ndim)], length=length)
        for axis in range(ndim)
    ]


def laplacian(u: torch.Tensor, ndim: int, *, length: float = 1.0) -> torch.Tensor:
    """Sum of second derivatives along the last ``ndim`` axes."""
    dims = tuple(range(-ndim, 0))
    spatial = u.shape[-ndim:]
    u_hat = torch.fft.rfftn(u, dim=dims)
    k2 = sum(k**2 for k in wavenumbers(spatial, length=length, device=u.device, dtype=u_hat.real.dtype))
    return torch.fft.irfftn(-k2 * u_hat, s=spatial, dim=dims)


class PeriodicSpectrum2d:
    """The ``rfft2`` spectrum of an ``(n, n)`` grid on the periodic unit square, for pseudo-spectral solvers.

    Holds the angular wavenumbers ``kx`` (axis -2) and ``ky`` (axis -1), ``k2 = |k|^2``, its inverse
    (0 at ``k = 0``), ``kx_odd`` / ``ky_odd`` for first derivatives (no Nyquist component: a real
    field's odd derivatives have none) and ``dealias``, the 2/3 rule ``|k_i| <= (2/3)(n/2)`` on both
    axes in integer wavenumbers (as the FNO paper's solver). Every tensor broadcasts against
    ``(..., n, n // 2 + 1)`` and lives on ``device`` in the real ``dtype`` of the fields.
    """

    def __init__(self, resolution: int, *, device=None, dtype=torch.float32):
        self.resolution = resolution
        self.kx, self.ky = wavenumbers((resolution, resolution), device=device, dtype=dtype)
        self.k2 = self.kx**2 + self.ky**2
        self.inverse_k2 = torch.where(self.k2 > 0, 1.0 / torch.where(self.k2 > 0, self.k2, 1.0), 0.0)
        half = resolution // 2
        even = resolution % 2 == 0
        self.kx_odd = torch.where(self.kx.abs() == 2 * math.pi * half, 0.0, self.kx) if even else self.kx
        self.ky_odd = torch.where(self.ky.abs() == 2 * math.pi * half, 0.0, self.ky) if even else self.ky
        kmax = (2.0 / 3.0) * half * 2 * math.pi
        self.dealias = ((self.kx.abs() <= kmax) & (self.ky.abs() <= kmax)).to(dtype)

    def velocity_from_vorticity(self, w_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spectra of ``u = d psi/dy``, ``v = -d psi/dx`` with ``-Laplacian(psi) = w`` (so ``w = v_x - u_y``)."""
        psi_hat = w_hat * self.inverse_k2
        return 1j * self.ky_odd * psi_hat, -1j * self.kx_odd * psi_hat

    def advection(self, u_hat: torch.Tensor, v_hat: torch.Tensor, f_hat: torch.Tensor) -> torch.Tensor:
        """Dealiased spectrum of ``u . grad(f)`` for velocity spectra ``(B, n, m)`` and field spectra ``(B, F, n, m)``.

        One batched inverse transform carries the velocity and the gradient of every field.
        """
        n_fields = f_hat.shape[1]
        spectra = torch.cat([u_hat[:, None], v_hat[:, None], 1j * self.kx_odd * f_hat, 1j * self.ky_odd * f_hat], dim=1)
        physical = torch.fft.irfft2(spectra, s=(self.resolution, self.resolution))
        u, v = physical[:, :1], physical[:, 1:2]
        f_x, f_y = physical[:, 2 : 2 + n_fields], physical[:, 2 + n_fields :]
        return self.dealias * torch.fft.rfft2(u * f_x + v * f_y)
