"""FNO token mixing: the spectral convolution of Li et al. (ICLR 2021) on the token grid."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from einops import rearrange
from torch import nn

from zoo.layers.mixers.base import FourierMixer
from zoo.layers.spectral_conv import SpectralConv


class FNOMixer(FourierMixer):
    """Mode-truncated learned spectral mixing, one :class:`~zoo.layers.SpectralConv` per channel group.

    Each group of ``dim // groups`` channels is mixed by its own spectral convolution keeping the
    lowest ``modes`` frequencies of each axis, so the weights are block-diagonal across groups
    (``groups`` times fewer parameters than one dense ``dim x dim`` product per mode, at the same
    FFT cost). The layer is resolution invariant: a band-limited field sampled on any grid fine
    enough to hold its modes gives the same function (``norm="forward"`` transforms); a grid too
    coarse for the kept modes uses the modes it has.

    Args:
        dim: channels ``C``.
        ndim: 1 or 2 spatial axes.
        modes: kept frequencies per axis (an int applies to every axis).
        groups: channel groups with separate weights; must divide ``dim``.
        backend: mode-product backend of the spectral convolutions.
        grid_size, num_prefix_tokens: see :class:`FourierMixer`.

    Shapes: ``(B, *spatial, C)`` grids or ``(B, N, C)`` tokens, output of the same shape.
    """

    def __init__(
        self,
        dim: int,
        ndim: int = 2,
        *,
        modes: int | Sequence[int] = 12,
        groups: int = 1,
        backend: str = "auto",
        grid_size: Sequence[int] | None = None,
        num_prefix_tokens: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            dim, ndim, grid_size=grid_size, num_prefix_tokens=num_prefix_tokens, device=device, dtype=dtype
        )
        modes = (modes,) * ndim if isinstance(modes, int) else tuple(modes)
        if len(modes) != ndim:
            raise ValueError(f"modes {modes} must have {ndim} entries for ndim={ndim}")
        if groups < 1 or dim % groups:
            raise ValueError(f"groups={groups} must be a positive divisor of dim={dim}")
        self.modes = modes
        width = dim // groups
        self.spectral = nn.ModuleList(
            SpectralConv(width, width, modes, backend=backend, device=device, dtype=dtype)
            for _ in range(groups)
        )

    def mix_grid(self, x: torch.Tensor) -> torch.Tensor:
        fields = rearrange(x, "b ... c -> b c ...")
        if len(self.spectral) == 1:
            mixed = self.spectral[0](fields)
        else:
            chunks = fields.chunk(len(self.spectral), dim=1)
            mixed = torch.cat([conv(chunk) for conv, chunk in zip(self.spectral, chunks)], dim=1)
        return rearrange(mixed, "b c ... -> b ... c")

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, modes={self.modes}, groups={len(self.spectral)}"
