"""Adaptive Fourier neural operator mixing (Guibas et al., ICLR 2022), written from the paper.

Per kept frequency ``k``, the channel vector ``X(k)`` is split into ``num_blocks`` blocks and each
block goes through a two-layer complex MLP shared across frequencies,
``Y_b(k) = S_lambda(W2_b relu(W1_b X_b(k) + b1_b) + b2_b)``, where ``relu`` acts on real and
imaginary parts separately and ``S_lambda`` is soft-shrinkage (it zeroes small coefficients,
the paper's sparsity prior). Two choices differ from common public code (see facts.md):

* The hard mode threshold ``modes`` is counted per axis, as in :class:`~zoo.layers.SpectralConv`
  (lowest ``modes[d]`` frequencies of each sign on outer axes, ``modes[-1]`` rfft columns on the
  last). Public versions keep ``N // 2 + 1`` modes with ``N = H * W`` (a no-op) or apply a count
  computed from ``H`` to both axes.
* ``norm="forward"`` with ``bias=False`` makes the layer resolution consistent: coefficients then
  approximate the continuous Fourier coefficients, the MLP maps the zero coefficients of
  frequencies a coarse grid lacks to zero, and a band-limited field gives the same function at
  every grid size (to float rounding). Frequency biases fill every frequency a coarse grid lacks,
  and ``norm="ortho"`` scales coefficients with the grid size (which moves them across the fixed
  soft-shrinkage threshold), so with these the output changes with the grid: over 10% from 16x16
  to 64x64 on a smooth field with ``ortho`` and biases of a trained layer's size, as facts.md
  reports. ``ortho`` with biases is the paper's image-classification setting.

The ReLU on real and imaginary parts does not commute with the phase a shift puts on each
coefficient, so AFNO, unlike FNO and global filters, is not shift equivariant. The mixer returns
the filtered field only; the residual connection belongs to the block around it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from zoo.layers.mixers.base import FourierMixer, transform_dtype
from zoo.layers.mixers.spectrum import kept_per_axis
from zoo.layers.pruned_fft import pruned_irfftn, pruned_rfftn
from zoo.layers.truncated_dft import dft_preferred, truncated_irdft, truncated_rdft

NORMS = ("forward", "ortho")


class AFNOMixer(FourierMixer):
    """Block-diagonal complex MLP on every kept Fourier mode, with soft-shrinkage.

    Args:
        dim: channels ``C``; must be divisible by ``num_blocks``.
        ndim: 1 or 2 spatial axes.
        num_blocks: blocks of the block-diagonal weights.
        hidden_factor: hidden width of each block's MLP, as a multiple of the block size.
        sparsity_threshold: ``lambda`` of the soft-shrinkage (0 disables it).
        modes: kept frequencies per axis (an int applies to every axis); ``None`` keeps all.
        norm: FFT normalisation, ``"forward"`` (resolution consistent) or ``"ortho"``.
        bias: learned frequency-domain biases ``b1``, ``b2``.
        grid_size, num_prefix_tokens: see :class:`FourierMixer`.

    Weights are real with a trailing ``(re, im)`` axis: ``w1 (num_blocks, block, hidden, 2)``,
    ``w2 (num_blocks, hidden, block, 2)``, biases ``(num_blocks, width, 2)``.

    Shapes: ``(B, *spatial, C)`` grids or ``(B, N, C)`` tokens, output of the same shape.
    """

    def __init__(
        self,
        dim: int,
        ndim: int = 2,
        *,
        num_blocks: int = 8,
        hidden_factor: int = 1,
        sparsity_threshold: float = 0.01,
        modes: int | Sequence[int] | None = None,
        norm: str = "forward",
        bias: bool = False,
        grid_size: Sequence[int] | None = None,
        num_prefix_tokens: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            dim, ndim, grid_size=grid_size, num_prefix_tokens=num_prefix_tokens, device=device, dtype=dtype
        )
        if num_blocks < 1 or dim % num_blocks:
            raise ValueError(f"num_blocks={num_blocks} must be a positive divisor of dim={dim}")
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of {NORMS}")
        if sparsity_threshold < 0:
            raise ValueError(f"sparsity_threshold must be >= 0, got {sparsity_threshold}")
        if isinstance(modes, int):
            modes = (modes,) * ndim
        if modes is not None and (len(modes) != ndim or min(modes) < 1):
            raise ValueError(f"modes {tuple(modes)} must hold {ndim} positive entries for ndim={ndim}")
        self.num_blocks = num_blocks
        self.sparsity_threshold = sparsity_threshold
        self.modes = None if modes is None else tuple(modes)
        self.norm = norm
        block = dim // num_blocks
        hidden = block * hidden_factor
        factory = {"device": device, "dtype": dtype}
        self.w1 = nn.Parameter(torch.empty(num_blocks, block, hidden, 2, **factory))
        self.w2 = nn.Parameter(torch.empty(num_blocks, hidden, block, 2, **factory))
        self.b1 = nn.Parameter(torch.empty(num_blocks, hidden, 2, **factory)) if bias else None
        self.b2 = nn.Parameter(torch.empty(num_blocks, block, 2, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Complex normal weights of variance 1/fan_in keep a coefficient's size through each layer.
        # The public code's N(0, 0.02^2) makes the MLP's output about 0.02^2 * fan_in times its
        # input: with small blocks soft-shrinkage then zeroes every coefficient, and no gradient
        # reaches the weights. Biases start at zero.
        for weight in (self.w1, self.w2):
            nn.init.normal_(weight, std=(2 * weight.shape[1]) ** -0.5)
        for bias in (self.b1, self.b2):
            if bias is not None:
                nn.init.zeros_(bias)

    def no_weight_decay(self) -> set[str]:
        # The frequency-domain biases are biases (timm exempts biases), though not 1D.
        return {"b1", "b2"} if self.b1 is not None else set()

    def mix_grid(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.shape[1:-1]
        dims = tuple(range(2, self.ndim + 2))
        kept = kept_per_axis(spatial, self.modes)
        # "ortho" coefficients are the "forward" ones times sqrt(N), its inverse divides by sqrt(N).
        scale = math.sqrt(math.prod(spatial)) if self.norm == "ortho" else 1.0
        if dft_preferred(x):
            return self._mix_grid_dft(x, kept, scale)
        # Channels first: the FFTs run over contiguous axes, and each block's MLP is one batched
        # GEMM over all frequencies with no further copies (faster on CPU than channels last).
        fields = rearrange(transform_dtype(x), "b ... c -> b c ...").contiguous()
        x_hat = pruned_rfftn(fields, dims, kept) * scale
        z = rearrange(x_hat, "b (n i) ... -> b n i (...)", n=self.num_blocks)
        z = _split_relu(_block_linear(z, self.w1, self.b1))
        z = _block_linear(z, self.w2, self.b2)
        if self.sparsity_threshold > 0:
            z = torch.view_as_complex(F.softshrink(torch.view_as_real(z), self.sparsity_threshold))
        y = pruned_irfftn(z.reshape(x_hat.shape), dims, kept, spatial) / scale
        return rearrange(y, "b c ... -> b ... c").to(x.dtype)

    def _mix_grid_dft(self, x: torch.Tensor, kept, scale: float) -> torch.Tensor:
        """:meth:`mix_grid` on ``(re, im)`` pairs with real GEMMs (:mod:`zoo.layers.truncated_dft`):
        in bf16/fp16, under autocast, and compiled (no complex tensors)."""
        spatial = x.shape[1:-1]
        fields = rearrange(x, "b ... c -> b c ...").contiguous()
        x_hat = truncated_rdft(fields, kept) * scale
        z = rearrange(x_hat, "b (n i) ... two -> b n i (...) two", n=self.num_blocks)
        z = F.relu(_block_linear_pairs(z, self.w1, self.b1))
        z = _block_linear_pairs(z, self.w2, self.b2)
        if self.sparsity_threshold > 0:
            z = F.softshrink(z, self.sparsity_threshold)
        y = truncated_irdft(z.reshape(x_hat.shape), kept, spatial) / scale
        return rearrange(y, "b c ... -> b ... c")

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, num_blocks={self.num_blocks}, modes={self.modes}, "
            f"norm={self.norm!r}, sparsity_threshold={self.sparsity_threshold}, bias={self.b1 is not None}"
        )


def _block_linear(z: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Block ``n`` of ``z (B, n, i, K)`` times its weights ``(n, i, o, 2)``, plus bias ``(n, o, 2)``."""
    real_dtype = z.real.dtype
    out = torch.matmul(torch.view_as_complex(weight.to(real_dtype)).transpose(1, 2), z)
    return out if bias is None else out + torch.view_as_complex(bias.to(real_dtype))[..., None]


def _block_linear_pairs(z: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """:func:`_block_linear` on pairs: ``z (B, n, i, K, 2)`` -> ``(B, n, o, K, 2)``, one real GEMM.

    ``[[W_re^T, -W_im^T], [W_im^T, W_re^T]] @ [z_re; z_im] = [y_re; y_im]``.
    """
    batch, blocks, width, modes, _ = z.shape
    w_re, w_im = weight.to(z.dtype).transpose(1, 2).unbind(-1)  # (n, o, i) each
    block = torch.cat([torch.cat([w_re, -w_im], dim=-1), torch.cat([w_im, w_re], dim=-1)], dim=-2)
    stacked = z.permute(0, 1, 4, 2, 3).reshape(batch, blocks, 2 * width, modes)
    out = torch.matmul(block, stacked).view(batch, blocks, 2, -1, modes).permute(0, 1, 3, 4, 2)
    return out if bias is None else out + bias.to(out.dtype)[:, :, None, :]


def _split_relu(z: torch.Tensor) -> torch.Tensor:
    """ReLU on the real and imaginary parts separately, as in the paper."""
    return torch.view_as_complex(F.relu(torch.view_as_real(z)))
