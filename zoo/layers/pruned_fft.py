"""Pruned real Fourier transforms: a real field to its kept low modes, and back.

The forward transform runs ``rfft`` on the last axis, keeps the kept columns, then ``fft`` on each
other axis, keeping its kept rows; the inverse zero-fills the dropped rows, runs ``ifft`` on each
outer axis and ends with a one-dimensional ``irfft``. Both are exact and never hand a
multi-dimensional C2R transform a spectrum that is not Hermitian on its outer axes (cuFFT and
pocketfft disagree on such spectra, pytorch#154496).

Each transform's gradient is the other one, pruned too. Plain autograd would differentiate through
the full transforms instead: the gradient of a pruned ``rfft`` zero-pads back to the whole
spectrum and runs a full complex FFT, several times the work of the pruned forward pass. With
``c_k = 1`` on the last axis' zero and Nyquist columns and ``2`` elsewhere (the columns that stand
for a conjugate pair), the forward transform ``X = T(x)`` and inverse ``y = S(Y) = Re sum_k c_k Y_k
e^{2 pi i k.x}`` satisfy ``grad_x = S'(grad_X / c)`` and ``grad_Y = c T'(grad_y)``, where ``'``
swaps the normalisation (``"forward"`` <-> ``"backward"``).

On CPU an axis with few kept modes is transformed by a GEMM with its DFT matrix instead: that
reads the field once and writes only the kept modes, where ``rfft`` writes the whole half spectrum
and an FFT along an outer axis transposes and zero-fills, and a GEMM runs near the CPU's peak
while a short FFT does not (see BENCHMARKS.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from zoo.layers.dft_matrices import dft_matrix, pair_counts, real_dft_matrix

_DUAL_NORM = {"forward": "backward", "backward": "forward"}

Kept = Sequence[tuple[int, int]]


def pruned_rfftn(x: torch.Tensor, dims: Sequence[int], kept: Kept, *, norm: str = "forward") -> torch.Tensor:
    """Kept Fourier modes of a real field.

    Args:
        x: real tensor; ``dims`` are its spatial axes (the last one is transformed with ``rfft``).
        dims: the transformed axes, in increasing order.
        kept: per axis of ``dims`` the ``(non-negative, negative)`` frequency counts kept; the
            last axis keeps only non-negative ones (``n_neg = 0``).
        norm: ``"forward"`` (divide by the number of points) or ``"backward"`` (no scaling).

    Returns:
        complex tensor, ``x``'s shape with axis ``dims[d]`` of length ``sum(kept[d])``: frequencies
        ``0 .. n_pos - 1`` then ``-n_neg .. -1``.
    """
    return _PrunedRFFT.apply(x, _axes(dims, x.ndim), tuple(kept), _check_norm(norm), False)


def pruned_irfftn(
    y_hat: torch.Tensor, dims: Sequence[int], kept: Kept, spatial: Sequence[int], *, norm: str = "forward"
) -> torch.Tensor:
    """The real field of ``spatial`` points per axis whose kept modes are ``y_hat``, all others zero.

    Inverse of :func:`pruned_rfftn` with the same ``dims``, ``kept`` and ``norm`` (``"forward"``
    applies no scaling, ``"backward"`` divides by the number of points). The imaginary parts of the
    last axis' zero and Nyquist columns are ignored, as ``irfft`` does.
    """
    return _PrunedIRFFT.apply(y_hat, _axes(dims, y_hat.ndim), tuple(kept), tuple(spatial), _check_norm(norm), True)


def _axes(dims: Sequence[int], ndim: int) -> tuple[int, ...]:
    return tuple(d % ndim for d in dims)


def _check_norm(norm: str) -> str:
    if norm not in _DUAL_NORM:
        raise ValueError(f"unknown norm {norm!r}; choose one of {sorted(_DUAL_NORM)}")
    return norm


def _forward(x: torch.Tensor, dims, kept, norm: str, pair_weighted: bool) -> torch.Tensor:
    """``T(x)``, its last-axis columns times ``c_k`` when ``pair_weighted``."""
    last, n, columns = dims[-1], x.shape[dims[-1]], kept[-1][0]
    if _by_gemm(x, n, columns):
        rows = _to_last(x, last)
        matrix = real_dft_matrix(n, columns, norm, pair_weighted, inverse=False, dtype=x.dtype, device=x.device)
        x_hat = _from_last(torch.view_as_complex((rows @ matrix).unflatten(-1, (columns, 2))), last)
    else:
        x_hat = torch.fft.rfft(x, dim=last, norm=norm).narrow(last, 0, columns)
        if pair_weighted:
            x_hat = x_hat * _pair_counts_along(x_hat, dims, n, columns)
    for dim, (n_pos, n_neg) in zip(dims[:-1], kept[:-1]):
        n = x_hat.shape[dim]
        if _by_gemm(x_hat, n, n_pos + n_neg):
            matrix = dft_matrix(n, n_pos, n_neg, norm, inverse=False, dtype=x_hat.dtype, device=x_hat.device)
            x_hat = _along(matrix, x_hat, dim)
            continue
        x_hat = torch.fft.fft(x_hat, dim=dim, norm=norm)
        if n_pos + n_neg < n:
            x_hat = torch.cat([x_hat.narrow(dim, 0, n_pos), x_hat.narrow(dim, n - n_neg, n_neg)], dim=dim)
    return x_hat


def _inverse(y_hat: torch.Tensor, dims, kept, spatial, norm: str, pair_weighted: bool) -> torch.Tensor:
    """``Re sum_k w_k Y_k e^{2 pi i k.x}`` with ``w_k = c_k`` (``irfft``) when ``pair_weighted``, else 1."""
    for dim, (n_pos, n_neg), n in zip(dims[:-1], kept[:-1], spatial[:-1]):
        if _by_gemm(y_hat, n, n_pos + n_neg):
            matrix = dft_matrix(n, n_pos, n_neg, norm, inverse=True, dtype=y_hat.dtype, device=y_hat.device)
            y_hat = _along(matrix, y_hat, dim)
            continue
        if n_pos + n_neg < n:
            shape = list(y_hat.shape)
            shape[dim] = n - n_pos - n_neg
            y_hat = torch.cat(
                [y_hat.narrow(dim, 0, n_pos), y_hat.new_zeros(shape), y_hat.narrow(dim, n_pos, n_neg)], dim=dim
            )
        y_hat = torch.fft.ifft(y_hat, dim=dim, norm=norm)
    last, n = dims[-1], spatial[-1]
    columns = y_hat.shape[last]
    if _by_gemm(y_hat, n, columns):
        pairs = torch.view_as_real(_to_last(y_hat, last)).flatten(-2)
        matrix = real_dft_matrix(n, columns, norm, pair_weighted, inverse=True, dtype=pairs.dtype, device=pairs.device)
        return _from_last(pairs @ matrix, last)
    if not pair_weighted:
        y_hat = y_hat / _pair_counts_along(y_hat, dims, n, columns)
    return torch.fft.irfft(y_hat, n=n, dim=last, norm=norm)


def _along(matrix: torch.Tensor, t: torch.Tensor, dim: int) -> torch.Tensor:
    """``matrix`` applied to axis ``dim`` of ``t``: one batched GEMM, no transposition."""
    # bmm with the matrix broadcast (torch.matmul(2D, 3D) would transpose both operands), on a
    # contiguous batch (a strided one, a permuted gradient say, sends complex bmm to a per-matrix
    # loop on CPU).
    shape = t.shape
    lines = t.contiguous().view(math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1 :]))
    out = torch.bmm(matrix.expand(lines.shape[0], -1, -1), lines)
    return out.view(*shape[:dim], matrix.shape[0], *shape[dim + 1 :])


def _to_last(t: torch.Tensor, dim: int) -> torch.Tensor:
    return t if dim == t.ndim - 1 else t.movedim(dim, -1)


def _from_last(t: torch.Tensor, dim: int) -> torch.Tensor:
    return t if dim == t.ndim - 1 else t.movedim(-1, dim)


def _by_gemm(t: torch.Tensor, n: int, modes: int) -> bool:
    """Whether a GEMM with the DFT matrix of ``modes`` kept modes of ``n`` points beats the FFT.

    A GEMM costs ``O(n modes)`` per line against ``O(n log n)`` for an FFT, but runs several times
    closer to peak on CPU and needs no transposition or zero-filling copies; the bound follows the
    measurements in BENCHMARKS.md.
    """
    return t.device.type == "cpu" and modes <= _GEMM_MODES_PER_LOG2 * math.log2(max(n, 2))


_GEMM_MODES_PER_LOG2 = 8


def _pair_counts_along(grad: torch.Tensor, dims, n: int, columns: int) -> torch.Tensor:
    """:func:`~zoo.layers.dft_matrices.pair_counts` shaped to broadcast along axis ``dims[-1]`` of ``grad``."""
    c = pair_counts(n, columns).to(dtype=grad.real.dtype, device=grad.device)
    return c.view(-1, *([1] * (grad.ndim - 1 - dims[-1])))


def _owned(t: torch.Tensor) -> torch.Tensor:
    """``t`` as a tensor of its own: autograd forbids in-place updates of a custom Function's output
    that views a tensor made inside it, and callers do update ours in place. The temporaries a
    transform's result views are its own, so detaching the view from them is safe (and free)."""
    return t if t._base is None else t.detach()


# With last-axis column weights w, T_w(x) = w T(x) and S_w(Y) = Re sum_k w_k Y_k e^{2 pi i k.x} are
# each other's adjoints: grad T_w = S'_w and grad S_w = T'_w (' swaps the normalisation). The
# public transforms are T_1 and S_c; their gradients S'_1 and T'_c are two more of the family.


class _PrunedRFFT(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dims, kept, norm, pair_weighted):
        ctx.dims, ctx.kept, ctx.norm, ctx.pair_weighted = dims, kept, norm, pair_weighted
        ctx.spatial = tuple(x.shape[d] for d in dims)
        # The DFT GEMMs must stay in the field's precision: autocast would run them in bf16, and
        # complex tensors have no bf16 (the callers hand in float32 or float64).
        with torch.autocast(x.device.type, enabled=False):
            return _owned(_forward(x, dims, kept, norm, pair_weighted))

    @staticmethod
    def backward(ctx, grad):
        args = (ctx.dims, ctx.kept, ctx.spatial, _DUAL_NORM[ctx.norm], ctx.pair_weighted)
        return _PrunedIRFFT.apply(grad, *args), None, None, None, None


class _PrunedIRFFT(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y_hat, dims, kept, spatial, norm, pair_weighted):
        ctx.dims, ctx.kept, ctx.norm, ctx.pair_weighted = dims, kept, norm, pair_weighted
        with torch.autocast(y_hat.device.type, enabled=False):
            return _owned(_inverse(y_hat, dims, kept, spatial, norm, pair_weighted))

    @staticmethod
    def backward(ctx, grad):
        args = (ctx.dims, ctx.kept, _DUAL_NORM[ctx.norm], ctx.pair_weighted)
        return _PrunedRFFT.apply(grad, *args), None, None, None, None, None
