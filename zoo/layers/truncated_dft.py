"""The kept modes of a real field as real GEMMs, in any dtype a GEMM supports (bf16 and fp16 too).

There is no bf16 FFT, and half-precision cuFFT and pocketfft need power-of-two sizes, so mixed
precision at any grid size transforms with DFT matrices of the kept modes alone (Tu et al.,
ICLR 2024, bound the resulting error by the operator's discretisation error). Complex numbers are
carried as a trailing ``(re, im)`` axis and every complex product is a real GEMM on stacked real
and imaginary parts: bf16 and fp16 have no complex dtype, and ``torch.compile`` generates code for
real tensors only, so this is also the path a compiled model takes. Plain autograd differentiates
it exactly and its gradients are the same small GEMMs transposed. CPU GEMMs in bf16 accumulate in
float32 (oneDNN, and ATen's fallback accumulates in its float ``opmath`` type); only the products'
outputs are rounded.

Conventions are those of :mod:`zoo.layers.pruned_fft` (``norm="forward"``, kept frequencies
``0..n_pos-1`` then ``-n_neg..-1`` on outer axes, ``0..columns-1`` on the last axis) so both paths
agree to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from zoo.layers.dft_matrices import real_dft_matrix, stacked_dft_matrix

Kept = Sequence[tuple[int, int]]


def dft_preferred(x: torch.Tensor) -> bool:
    """Whether a spectral layer given ``x`` should transform with this module rather than FFTs:
    for bf16/fp16 inputs, under autocast, and while ``torch.compile`` traces."""
    half = x.dtype in (torch.float16, torch.bfloat16) or torch.is_autocast_enabled(x.device.type)
    return half or torch.compiler.is_compiling()


def truncated_rdft(x: torch.Tensor, kept: Kept, *, norm: str = "forward") -> torch.Tensor:
    """Kept modes ``(B, C, *modes, 2)`` of a real field ``(B, C, *spatial)`` (its last ``len(kept)`` axes).

    ``kept`` per spatial axis ``(n_pos, n_neg)``, the last axis ``(columns, 0)``; the output holds
    ``(re, im)`` of each mode, in ``x``'s dtype (the autocast dtype under autocast).
    """
    first = x.ndim - len(kept)
    dtype = _gemm_dtype(x)
    exact = _matrix_dtype(dtype)
    matrix = real_dft_matrix(x.shape[-1], kept[-1][0], norm, False, inverse=False, dtype=exact, device=x.device)
    modes = _split_matmul(x.to(dtype), matrix).unflatten(-1, (kept[-1][0], 2))
    for axis, (n_pos, n_neg) in enumerate(kept[:-1], start=first):
        stacked = stacked_dft_matrix(
            x.shape[axis], n_pos, n_neg, norm, inverse=False, dtype=exact, device=x.device
        )
        modes = _complex_along(stacked, modes, axis)
    return modes


def truncated_irdft(modes: torch.Tensor, kept: Kept, spatial: Sequence[int], *, norm: str = "forward") -> torch.Tensor:
    """The real field ``(B, C, *spatial)`` whose kept modes are ``modes`` ``(B, C, *modes, 2)``, others zero.

    Inverse of :func:`truncated_rdft`, as :func:`~zoo.layers.pruned_fft.pruned_irfftn` (``irfft``
    weighting of the last axis' columns; imaginary parts of its zero and Nyquist columns ignored).
    """
    first = modes.ndim - 1 - len(kept)
    exact = _matrix_dtype(modes.dtype)
    for axis, ((n_pos, n_neg), n) in enumerate(zip(kept[:-1], spatial[:-1]), start=first):
        stacked = stacked_dft_matrix(n, n_pos, n_neg, norm, inverse=True, dtype=exact, device=modes.device)
        modes = _complex_along(stacked, modes, axis)
    columns = kept[-1][0]
    matrix = real_dft_matrix(spatial[-1], columns, norm, True, inverse=True, dtype=exact, device=modes.device)
    return _split_matmul(modes.flatten(-2), matrix)


def mode_product_pairs(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``y[b, o, k] = sum_i x[b, i, k] W[k, i, o]`` on ``(re, im)`` pairs: one real batched GEMM.

    ``x`` ``(B, I, *modes, 2)``, ``weight`` ``(*modes, I, O, 2)`` -> ``(B, O, *modes, 2)``. Per mode
    ``[x_re, x_im] @ [[W_re, W_im], [-W_im, W_re]] = [y_re, y_im]``: the four real products of a
    complex one in a single GEMM of twice the size.
    """
    batch, channels, *modes, _ = x.shape
    ndim = len(modes)
    n_modes = math.prod(modes)
    # (B, I, *modes, 2) -> (modes, B, 2 I) with the pair axis outer: [x_re | x_im].
    rows = x.permute(*range(2, 2 + ndim), 0, 2 + ndim, 1).reshape(n_modes, batch, 2 * channels)
    w_re, w_im = weight.to(rows.dtype).flatten(0, ndim - 1).unbind(-1)
    block = torch.cat([torch.cat([w_re, w_im], dim=-1), torch.cat([-w_im, w_re], dim=-1)], dim=-2)
    y = torch.bmm(rows, block)  # (modes, B, 2 O) with [y_re | y_im]
    out = y.view(*modes, batch, 2, -1)
    return out.permute(ndim, ndim + 2, *range(ndim), ndim + 1)


def _gemm_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the transforms' GEMMs run in: autocast's if enabled, else ``x``'s."""
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


def _matrix_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _split_matmul(t: torch.Tensor, matrix: torch.Tensor, *, left: bool = False) -> torch.Tensor:
    """``t @ matrix`` (``matrix @ t`` batched when ``left``) with a float32 ``matrix`` in ``t``'s dtype.

    In bf16/fp16 the matrix is split in two, ``hi = bf16(D)`` and ``lo = bf16(D - hi)``, so that
    the transform itself is exact to ~2^-16 and only the activations are rounded: a DFT matrix
    rounded once to 8 bits is a slightly wrong transform, the same at every call, and an
    autoregressive rollout compounds its gain errors step after step (the pretrained NS FNO's
    40-step error grew 10x with rounded matrices, BENCHMARKS.md). Both GEMMs read the same ``t``,
    which autograd saves once.
    """
    def product(m: torch.Tensor) -> torch.Tensor:
        if not left:
            return t @ m
        # bmm with the matrix broadcast over a contiguous batch: torch.matmul(2D, 3D) would
        # transpose both operands.
        return torch.bmm(m.expand(t.shape[0], -1, -1), t)

    with torch.autocast(t.device.type, enabled=False):
        if t.dtype in (torch.float32, torch.float64):
            return product(matrix.to(t.dtype))
        hi = matrix.to(t.dtype)
        return product(hi) + product((matrix - hi.float()).to(t.dtype))


def _complex_along(stacked: torch.Tensor, t: torch.Tensor, dim: int) -> torch.Tensor:
    """The complex matrix ``A`` (given as ``[Re A; Im A]``) applied to axis ``dim`` of ``(..., 2)`` pairs."""
    shape = t.shape
    rows = stacked.shape[0] // 2
    lines = t.reshape(math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1 :]))
    z = _split_matmul(lines, stacked, left=True).view(*shape[:dim], 2 * rows, *shape[dim + 1 :])
    a, b = z.narrow(dim, 0, rows), z.narrow(dim, rows, rows)  # Re A t, Im A t, each as (re, im)
    return torch.stack([a[..., 0] - b[..., 1], b[..., 0] + a[..., 1]], dim=-1)
