"""The mode product of a spectral convolution: ``y[b, o, k] = sum_i x[b, i, k] W[k, i, o]``.

The torch path is a batched complex GEMM over the kept modes ``k`` (one ``(B, in) @ (in, out)``
product per mode), which on CPU beats a complex ``einsum`` with its gather/scatter copies.
The Triton path (``zoo.kernels``) fuses the same product on CUDA tensors.
"""

from __future__ import annotations

import torch
from einops import rearrange

BACKENDS = ("auto", "torch", "triton")


def mode_product(x_hat: torch.Tensor, weight: torch.Tensor, *, backend: str = "auto") -> torch.Tensor:
    """Contract kept modes with per-mode complex weights.

    Args:
        x_hat: complex spectrum ``(B, in, *kept)``.
        weight: real ``(*kept, in, out, 2)``, the trailing axis holding ``(re, im)``.
        backend: ``"auto"``, ``"torch"`` or ``"triton"``.

    Returns:
        complex spectrum ``(B, out, *kept)``.
    """
    if backend == "torch" or (backend == "auto" and not x_hat.is_cuda):
        return mode_product_torch(x_hat, weight)
    from zoo.kernels import mode_product_triton, triton_unavailable_reason

    reason = triton_unavailable_reason(x_hat)
    if reason is None:
        return mode_product_triton(x_hat, weight)
    if backend == "triton":
        raise RuntimeError(f"SpectralConv backend='triton' cannot run here: {reason}")
    return mode_product_torch(x_hat, weight)


def mode_product_torch(x_hat: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Reference torch implementation of :func:`mode_product` (exact, differentiable)."""
    kept = x_hat.shape[2:]
    w = torch.view_as_complex(weight.to(torch.float32 if x_hat.dtype == torch.complex64 else torch.float64))
    x_modes = rearrange(x_hat, "b i ... -> (...) b i")
    y_modes = torch.matmul(x_modes, w.reshape(-1, *w.shape[-2:]))
    return y_modes.permute(1, 2, 0).reshape(y_modes.shape[1], y_modes.shape[2], *kept)
