"""Operator transformer: a vision transformer whose attention is a Fourier token mixer.

Fields go in and fields come out: patch embedding, pre-norm residual blocks of (Fourier mixer,
MLP), patch recovery, as in AFNO's and FourCastNet's backbones. The mixer works on the patch grid
channels last, ``(B, *grid, D)``, so no sequence flattening is needed and any grid divisible by
the patch size works. There is no learned position embedding (it would fix the grid size);
position enters, when wanted, through grid coordinates appended to the input channels.

A patch of grid points covers a physical area that shrinks as the grid refines, so a model whose
patches are embedded on the input grid's own points sees different tokens on every grid (the
published NS hybrid lost 3-4x in accuracy from 64x64 to 128x128 zero-shot, BENCHMARKS.md). With
``embed_grid`` the patches are embedded and recovered on one fixed grid, reached from any input
grid by Fourier interpolation, so a token covers the same part of the domain at every resolution:
every other layer (Fourier mixer with modes fixed in physical wavenumber, LayerNorm and MLP on
each token) is already resolution consistent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from einops import rearrange
from timm.layers import Mlp
from torch import nn

from zoo.layers.activations import ACTIVATIONS
from zoo.layers.mixers import make_mixer
from zoo.layers.validation import check_model_input
from zoo.models.fno import grid_coordinates
from zoo.models.multiscale import spectral_resample
from zoo.models.registry import register_model

# einops patterns between a field (B, C, *spatial) and its patch grid (B, *grid, patch values).
_PATCHES = {
    1: ("b c (g0 p0) -> b g0 (p0 c)", "b g0 (p0 c) -> b c (g0 p0)"),
    2: ("b c (g0 p0) (g1 p1) -> b g0 g1 (p0 p1 c)", "b g0 g1 (p0 p1 c) -> b c (g0 p0) (g1 p1)"),
}


class FourierMixerBlock(nn.Module):
    """``x + mixer(norm(x))`` then ``x + MLP(norm(x))`` on a patch grid ``(B, *grid, D)``."""

    def __init__(
        self, dim: int, mixer: nn.Module, *, mlp_ratio: float, activation: str, device=None, dtype=None
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.norm1 = nn.LayerNorm(dim, eps=1e-6, **factory)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(dim, eps=1e-6, **factory)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=ACTIVATIONS[activation], **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


@register_model
class FourierTransformer(nn.Module):
    """Patch embedding -> ``depth`` blocks of (norm, Fourier mixer, norm, MLP) -> patch recovery.

    Args:
        in_channels: input field channels (grid coordinates are appended when ``grid_features``).
        out_channels: output field channels.
        patch_size: patch extent per spatial axis; its length (1 or 2) is the dimension.
        embed_dim: channels of every token.
        depth: number of blocks.
        mixer: the token mixer by name: ``"afno"``, ``"fno"``, ``"global_filter"`` or ``"fnet"``.
        mixer_kwargs: keyword arguments of that mixer (e.g. ``{"num_blocks": 8}`` for AFNO,
            ``{"modes": 8}`` for FNO, ``{"filter_size": [16, 16]}`` for the global filter).
        mlp_ratio: hidden width of each block's MLP as a multiple of ``embed_dim``.
        activation: activation of the MLPs (``"gelu"``, ``"relu"``, ``"silu"``, ``"tanh"``).
        grid_features: append the coordinates ``i / n`` of each axis as input channels (gives the
            model position, e.g. for a spatially varying forcing; without it every mixer but AFNO
            and FNet makes the model equivariant to shifts by whole patches).
        embed_grid: points per axis of the grid on which patches are embedded and recovered (2D
            only; each entry divisible by the patch size), e.g. the training grid. An input on
            another grid is brought to it by Fourier interpolation of the periodic field
            (:func:`~zoo.models.spectral_resample`: truncation when coarser, zero-padding when
            finer) and the output is brought back the same way, so each token covers
            ``patch_size / embed_grid`` of each axis on every grid and the output on any grid
            is the same band-limited function (the modes ``|k| < embed_grid / 2``; a residual
            time stepper around it carries the finer modes of its input forward). ``None``:
            patches of the input grid's own points, which cover less area as the grid refines
            (not resolution invariant; inputs must be divisible by the patch size).

    Shapes: ``(B, in_channels, *spatial) -> (B, out_channels, *spatial)`` for any ``spatial``
    (with ``embed_grid=None``: divisible by ``patch_size``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        patch_size: Sequence[int] = (4, 4),
        embed_dim: int = 256,
        depth: int = 8,
        *,
        mixer: str = "afno",
        mixer_kwargs: dict[str, Any] | None = None,
        mlp_ratio: float = 4.0,
        activation: str = "gelu",
        grid_features: bool = True,
        embed_grid: Sequence[int] | None = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.patch_size = tuple(int(p) for p in patch_size)
        if len(self.patch_size) not in _PATCHES or min(self.patch_size) < 1:
            raise ValueError(f"patch_size must hold 1 or 2 positive entries, got {tuple(patch_size)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.grid_features = grid_features
        self.embed_grid = None if embed_grid is None else tuple(int(n) for n in embed_grid)
        if self.embed_grid is not None and (
            len(self.embed_grid) != 2 or self.ndim != 2
            or any(n < p or n % p for n, p in zip(self.embed_grid, self.patch_size))
        ):
            raise ValueError(
                f"embed_grid {tuple(embed_grid)} must hold 2 entries, each a positive multiple of the 2D "
                f"patch size {self.patch_size}, e.g. the training grid; or pass None"
            )
        factory = {"device": device, "dtype": dtype}
        patch_points = math.prod(self.patch_size)
        lifted = in_channels + (self.ndim if grid_features else 0)
        self.patch_embed = nn.Linear(patch_points * lifted, embed_dim, **factory)
        self.blocks = nn.ModuleList(
            FourierMixerBlock(
                embed_dim,
                make_mixer(mixer, embed_dim, ndim=self.ndim, **(mixer_kwargs or {}), **factory),
                mlp_ratio=mlp_ratio,
                activation=activation,
                **factory,
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6, **factory)
        self.head = nn.Linear(embed_dim, patch_points * out_channels, **factory)
        for module in (self.patch_embed, self.head, *(block.mlp for block in self.blocks)):
            module.apply(_init_linear)

    @property
    def ndim(self) -> int:
        return len(self.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        name = f"{type(self).__name__} input"
        check_model_input(x, channels=self.in_channels, ndim=self.ndim, dtype=self.patch_embed.weight.dtype, name=name)
        spatial = tuple(x.shape[2:])
        if self.embed_grid is not None:
            return spectral_resample(self.forward_patches(spectral_resample(x, self.embed_grid)), spatial)
        if any(n % p for n, p in zip(spatial, self.patch_size)):
            raise ValueError(
                f"{name} grid {spatial} is not divisible by the patch size {self.patch_size}; "
                "pass embed_grid (e.g. the training grid) to take any grid"
            )
        return self.forward_patches(x)

    def forward_patches(self, x: torch.Tensor) -> torch.Tensor:
        """Patches of ``x`` ``(B, in_channels, *spatial)`` -> blocks -> ``(B, out_channels, *spatial)``."""
        spatial = tuple(x.shape[2:])
        if self.grid_features:
            grid = grid_coordinates(spatial, device=x.device, dtype=x.dtype)
            x = torch.cat([x, grid.expand(x.shape[0], *grid.shape)], dim=1)
        to_patches, to_field = _PATCHES[self.ndim]
        patch_axes = {f"p{axis}": p for axis, p in enumerate(self.patch_size)}
        tokens = self.patch_embed(rearrange(x, to_patches, **patch_axes))
        for block in self.blocks:
            tokens = block(tokens)
        return rearrange(self.head(self.norm(tokens)), to_field, **patch_axes)


def _init_linear(module: nn.Module) -> None:
    # timm's ViT initialisation: truncated normal weights of std 0.02, zero biases.
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
