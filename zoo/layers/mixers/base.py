"""What every Fourier token mixer shares: the attention call signature and the token layouts.

A mixer is usable wherever self-attention was. It is called as ``mixer(x, attn_mask=None,
is_causal=False)``, the signature of timm's ``Attention``, on either layout:

* a grid, channels last: ``(B, H, W, C)`` for a 2D mixer, ``(B, N, C)`` for a 1D one;
* tokens ``(B, N, C)``: ``num_prefix_tokens`` prefix tokens (class, distillation, register tokens)
  followed by the patch tokens of a grid in row-major order. The grid is the ``grid_size``
  argument of ``forward`` if given, else the ``grid_size`` attribute (set at construction, or kept
  current by :func:`zoo.replace_attention`), else inferred: square for 2D, the whole sequence for 1D.

Prefix tokens have no place on the grid. They read the whole sequence through its mean token and
a learned linear map, ``prefix_out = Linear(mean over all tokens)``, which is exactly what
attention computes when every query attends uniformly (as it does at initialisation, where
``q.k`` is near zero). Patch tokens are mixed on the grid alone and do not read the prefix
tokens, so a mixer gives the same patch output with or without them.

Fourier mixing couples every token with every other (it is a global convolution), so it cannot
honour a causal request or an attention mask: both raise an error rather than being ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

LAYOUTS = "tokens (B, N, C) or a grid (B, *spatial, C)"


class FourierMixer(nn.Module):
    """Base class: subclasses implement :meth:`mix_grid` on ``(B, *spatial, C)`` grids.

    Args:
        dim: channels ``C`` of every token.
        ndim: spatial dimension of the token grid, 1 (sequences) or 2 (images, fields).
        grid_size: token grid ``(H, W)`` (or ``(N,)``) assumed for token inputs; ``None`` infers it.
        num_prefix_tokens: tokens in front of the patch tokens, treated as the module docstring
            says (adds a ``dim x dim`` linear map when positive).
    """

    def __init__(
        self,
        dim: int,
        ndim: int = 2,
        *,
        grid_size: Sequence[int] | None = None,
        num_prefix_tokens: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__} mixes 1D or 2D token grids, got ndim={ndim}")
        if grid_size is not None and len(grid_size) != ndim:
            raise ValueError(f"grid_size {tuple(grid_size)} must have {ndim} entries for ndim={ndim}")
        if num_prefix_tokens < 0:
            raise ValueError(f"num_prefix_tokens must be >= 0, got {num_prefix_tokens}")
        self.dim = dim
        self.ndim = ndim
        self.grid_size = None if grid_size is None else tuple(int(n) for n in grid_size)
        self.num_prefix_tokens = num_prefix_tokens
        self.prefix_proj = (
            nn.Linear(dim, dim, device=device, dtype=dtype) if num_prefix_tokens else None
        )

    def mix_grid(self, x: torch.Tensor) -> torch.Tensor:
        """Mix a grid ``(B, *spatial, C)`` into a grid of the same shape."""
        raise NotImplementedError

    def no_weight_decay(self) -> set[str]:
        """Names of this mixer's parameters that take no weight decay (biases that are not 1D)."""
        return set()

    def __prepare_scriptable__(self) -> FourierMixer:
        # torch.jit.script calls this on every submodule before compiling: fail here with the reason
        # rather than deep inside the compiler.
        raise NotImplementedError(
            f"{type(self).__name__} cannot be compiled by TorchScript: its token grid is set from "
            "Python (a patch_embed hook, or the grid_size attribute), and the pruned FFTs and einops "
            "rearranges it runs are not scriptable; use torch.compile or torch.export instead"
        )

    def forward(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        *,
        grid_size: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Mix tokens ``(B, N, C)`` or a grid ``(B, *spatial, C)``; the output has the input's shape."""
        name = type(self).__name__
        if is_causal:
            raise ValueError(
                f"{name} cannot honour is_causal=True: Fourier mixing is a global convolution in "
                "which every token reads every other; use attention for causal models"
            )
        if attn_mask is not None:
            raise ValueError(
                f"{name} cannot honour an attention mask: Fourier mixing is a global convolution "
                "in which every token reads every other; pass attn_mask=None"
            )
        self._check(x)
        if x.ndim == self.ndim + 2 and self.ndim > 1:
            return self.mix_grid(x)
        batch, n_tokens, channels = x.shape
        n_prefix = self.num_prefix_tokens
        grid = self.token_grid(n_tokens - n_prefix, grid_size)
        patches = x[:, n_prefix:].reshape(batch, *grid, channels)
        mixed = self.mix_grid(patches).reshape(batch, n_tokens - n_prefix, channels)
        if not n_prefix:
            return mixed
        prefix = self.prefix_proj(x.mean(dim=1, keepdim=True)).expand(-1, n_prefix, -1)
        return torch.cat([prefix, mixed], dim=1)

    def token_grid(self, n_patches: int, grid_size: Sequence[int] | None = None) -> tuple[int, ...]:
        """The grid holding ``n_patches`` patch tokens (argument, then attribute, then inferred)."""
        grid = grid_size if grid_size is not None else self.grid_size
        if grid is not None:
            grid = tuple(int(n) for n in grid)
            if len(grid) != self.ndim or math.prod(grid) != n_patches:
                raise ValueError(
                    f"{type(self).__name__} got {n_patches} patch tokens (after "
                    f"{self.num_prefix_tokens} prefix tokens), which do not fill the token grid {grid}"
                )
            return grid
        if self.ndim == 1:
            return (n_patches,)
        side = math.isqrt(n_patches)
        if side * side != n_patches:
            raise ValueError(
                f"{type(self).__name__} cannot infer the token grid of {n_patches} patch tokens "
                f"(after {self.num_prefix_tokens} prefix tokens): not a square; pass "
                "grid_size=(H, W) or set the mixer's grid_size attribute"
            )
        return (side, side)

    def _check(self, x: torch.Tensor) -> None:
        name = f"{type(self).__name__} input"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim not in {3, self.ndim + 2}:
            raise ValueError(
                f"{name} must be {LAYOUTS} with {self.ndim} spatial axes, got shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a real floating-point tensor, got dtype {x.dtype}")
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"{name} has {x.shape[-1]} channels in its last axis, expected {self.dim} "
                f"(shape {tuple(x.shape)}; the mixer expects channels last)"
            )

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, ndim={self.ndim}, grid_size={self.grid_size}, "
            f"num_prefix_tokens={self.num_prefix_tokens}"
        )


def transform_dtype(x: torch.Tensor) -> torch.Tensor:
    """``x`` in a dtype the FFT supports: half precision goes to float32 (there is no bf16 FFT)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
