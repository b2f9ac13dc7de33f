"""Fourier neural operator (Li et al., ICLR 2021) in 1D, 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from zoo.layers.activations import make_activation
from zoo.layers.pointwise import ChannelMLP, PointwiseLinear, accumulate_pointwise
from zoo.layers.precision import in_float32
from zoo.layers.spectral_conv import SpectralConv
from zoo.layers.validation import check_model_input
from zoo.models.registry import register_model

NORMS = (None, "instance", "group")


def grid_coordinates(spatial: Sequence[int], *, device=None, dtype=None) -> torch.Tensor:
    """Coordinates ``x_d = i / n_d`` of a uniform grid on the unit cube: ``(len(spatial), *spatial)``.

    Points ``i / n`` are the sample points of a periodic field on ``[0, 1)``, so the same physical
    point gets the same coordinate at every resolution.
    """
    axes = [torch.arange(n, device=device, dtype=dtype) / n for n in spatial]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"))


class FourierBlock(nn.Module):
    """``u -> act(norm(K u + W u))`` then, optionally, ``u + MLP(u)``: one FNO layer.

    ``K`` is a :class:`SpectralConv`, ``W`` a pointwise linear; the last block of an FNO skips the
    activation, as in the paper.
    """

    def __init__(
        self,
        width: int,
        modes: Sequence[int],
        *,
        activation: str | None,
        norm: str | None,
        channel_mlp_ratio: float,
        backend: str,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.spectral = SpectralConv(width, width, modes, backend=backend, device=device, dtype=dtype)
        self.pointwise = PointwiseLinear(width, width, device=device, dtype=dtype)
        self.norm = _make_norm(norm, width, device=device, dtype=dtype)
        self.act = make_activation(activation or "identity")
        hidden = int(round(channel_mlp_ratio * width))
        self.mlp = ChannelMLP(width, hidden, width, device=device, dtype=dtype) if hidden else None

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``(B, width, *spatial) -> (B, width, *spatial)``."""
        # K u + W u + b without a separate pass over memory for either sum: the bias is added to
        # the spectral path's zero-frequency mode and the pointwise GEMM accumulates onto K u.
        v = accumulate_pointwise(self.spectral(u, bias=self.pointwise.bias), u, self.pointwise.weight)
        u = self.act(self.norm(v))
        return u if self.mlp is None else self.mlp(u, add=u)


def _make_norm(norm: str | None, width: int, *, device, dtype) -> nn.Module:
    if norm is None:
        return nn.Identity()
    if norm == "instance":
        # GroupNorm with one channel per group is instance norm for any number of spatial axes.
        return nn.GroupNorm(width, width, device=device, dtype=dtype)
    if norm == "group":
        return nn.GroupNorm(min(8, width), width, device=device, dtype=dtype)
    raise ValueError(f"unknown norm {norm!r}; choose one of {NORMS}")


@register_model
class FNO(nn.Module):
    """Fourier neural operator: lifting, ``n_layers`` Fourier blocks, projection.

    Args:
        in_channels: input field channels (grid coordinates are appended when ``grid_features``).
        out_channels: output field channels.
        modes: kept Fourier modes per spatial axis; its length (1, 2, 3) is the dimension.
        width: channels inside the Fourier blocks.
        n_layers: number of Fourier blocks.
        projection_channels: hidden channels of the two-layer pointwise projection.
        channel_mlp_ratio: hidden ratio of an optional residual channel MLP in each block (0: none).
        norm: ``None``, ``"instance"`` or ``"group"`` normalisation inside each block.
        activation: activation name (``"gelu"``, ``"relu"``, ``"silu"``, ``"tanh"``).
        grid_features: append the coordinates ``i / n`` of each axis as input channels.
        domain_padding: fraction of each axis zero-padded on its high side before the Fourier
            blocks and cropped after (for non-periodic problems; 0 for periodic ones).
        backend: mode-product backend of every :class:`SpectralConv`.

    Shapes: ``(B, in_channels, *spatial) -> (B, out_channels, *spatial)`` at any grid size.
    Under autocast the lifting, the projection and the spectral layers compute in float32 and the
    output is float32 (:mod:`zoo.layers.precision`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        width: int = 32,
        n_layers: int = 4,
        *,
        projection_channels: int = 128,
        channel_mlp_ratio: float = 0.0,
        norm: str | None = None,
        activation: str = "gelu",
        grid_features: bool = True,
        domain_padding: float = 0.0,
        backend: str = "auto",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if not 0.0 <= domain_padding < 1.0:
            raise ValueError(f"domain_padding must be in [0, 1), got {domain_padding}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = tuple(modes)
        self.grid_features = grid_features
        self.domain_padding = domain_padding
        factory = {"device": device, "dtype": dtype}
        lifted = in_channels + (len(self.modes) if grid_features else 0)
        self.lifting = PointwiseLinear(lifted, width, **factory)
        self.blocks = nn.ModuleList(
            FourierBlock(
                width,
                self.modes,
                activation=activation if i < n_layers - 1 else None,
                norm=norm,
                channel_mlp_ratio=channel_mlp_ratio,
                backend=backend,
                **factory,
            )
            for i in range(n_layers)
        )
        self.projection = ChannelMLP(width, projection_channels, out_channels, activation=activation, **factory)

    @property
    def ndim(self) -> int:
        return len(self.modes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_model_input(x, channels=self.in_channels, ndim=self.ndim, dtype=self.lifting.weight.dtype, name=f"{type(self).__name__} input")
        spatial = x.shape[2:]
        if self.grid_features:
            grid = grid_coordinates(spatial, device=x.device, dtype=x.dtype)
            x = torch.cat([x, grid.expand(x.shape[0], *grid.shape)], dim=1)
        # The layers that read the physical input and write the prediction stay float32 under
        # autocast (zoo.layers.precision): their bf16 rounding compounds over a rollout.
        h = in_float32(self.lifting, x)
        pads = [int(round(self.domain_padding * n)) for n in spatial]
        if any(pads):
            h = F.pad(h, [p for pad in reversed(pads) for p in (0, pad)])
        for block in self.blocks:
            h = block(h)
        if any(pads):
            h = h[(..., *(slice(0, n) for n in spatial))]
        return in_float32(self.projection, h)
