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
