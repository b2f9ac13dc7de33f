"""A standard 2D U-Net (Ronneberger et al. 2015): the convolutional baseline operators are compared to.

Its kernels have a fixed size in grid points, so on a finer grid of the same domain it sees a
smaller physical neighbourhood: exactly what the resolution-invariance claim of neural operators is
measured against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.layers.validation import check_model_input
from zoo.models.registry import register_model


def _conv_block(in_channels: int, out_channels: int, *, padding_mode: str, device, dtype) -> nn.Sequential:
    factory = {"device": device, "dtype": dtype}
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode=padding_mode, bias=False, **factory),
        nn.BatchNorm2d(out_channels, **factory),
        nn.GELU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, padding_mode=padding_mode, bias=False, **factory),
        nn.BatchNorm2d(out_channels, **factory),
        nn.GELU(),
    )


@register_model
class UNet2d(nn.Module):
    """U-Net with ``depth`` down/up levels, ``width * 2**level`` channels, skip connections.

    Args:
        in_channels, out_channels: field channels.
        width: channels of the first level.
        depth: number of 2x down-sampling steps; grid sides must be divisible by ``2**depth``.
        padding_mode: ``"circular"`` for periodic domains, ``"zeros"`` otherwise.

    Shapes: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 32,
        depth: int = 4,
        *,
        padding_mode: str = "circular",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.depth = depth
        factory = {"padding_mode": padding_mode, "device": device, "dtype": dtype}
        channels = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList(
            _conv_block(c_in, c_out, **factory)
            for c_in, c_out in zip([in_channels, *channels[:-1]], channels)
        )
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, 2, stride=2, device=device, dtype=dtype)
            for c_in, c_out in zip(channels[:0:-1], channels[-2::-1])
        )
        self.merge = nn.ModuleList(_conv_block(2 * c, c, **factory) for c in channels[-2::-1])
        self.head = nn.Conv2d(width, out_channels, 1, device=device, dtype=dtype)

    ndim = 2  # spatial axes, as FNO.ndim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_model_input(x, channels=self.in_channels, ndim=2, dtype=self.head.weight.dtype, name="UNet2d input")
        factor = 2**self.depth
        if x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(f"UNet2d with depth {self.depth} needs grid sides divisible by {factor}, got {tuple(x.shape[-2:])}")
        skips = []
        h = x
        for level, block in enumerate(self.down):
            h = block(h if level == 0 else F.max_pool2d(h, 2))
            skips.append(h)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            h = merge(torch.cat([up(h), skip], dim=1))
        return self.head(h)
