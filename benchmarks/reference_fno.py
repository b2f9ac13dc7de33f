"""A neuraloperator-style FNO-2D, for when neuraloperator itself is not installed (a GPU lease, this
machine without ``/work/bench-deps``).

It reproduces the structure of neuraloperator 2.0's ``FNO(n_modes=(16, 16), hidden_channels=32,
n_layers=4, in_channels=1, out_channels=1)`` with its defaults, written from its documentation and
the layer shapes that ``fno_cpu.py`` checks against the real one:

* a grid embedding (two coordinate channels), a lifting channel MLP 3 -> 64 -> 32 (1x1 ``Conv1d``
  on the flattened grid, GELU between);
* four blocks of ``x = GELU(K x + W x)``, ``x = GELU(MLP(x) + g * x)`` (no GELU after the last
  block): ``K`` the dense spectral convolution of ``spectral_kernels.UnfusedSpectralConv`` with a
  bias (``rfftn``, gather the kept corners, complex ``einsum``, scatter into a zero spectrum,
  ``irfftn``, autograd through the full transforms), ``W`` a 1x1 ``Conv1d`` skip, the channel MLP
  32 -> 16 -> 32 of two 1x1 ``Conv1d`` with GELU, ``g`` a per-channel soft gate;
* a projection channel MLP 32 -> 64 -> 1.

It is a model of neuraloperator, not neuraloperator: figures against it are labelled
``reference`` and are not the issue's "vs neuraloperator" figures.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from spectral_kernels import UnfusedSpectralConv
from torch import nn


class ChannelMLP(nn.Module):
    def __init__(self, channels_in: int, hidden: int, channels_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv1d(channels_in, hidden, 1)
        self.fc2 = nn.Conv1d(hidden, channels_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        y = self.fc2(F.gelu(self.fc1(x.flatten(2))))
        return y.view(shape[0], -1, *shape[2:])


class ReferenceFNO(nn.Module):
    """``(B, in_channels, H, W) -> (B, out_channels, H, W)``; ``modes`` as zoo's (rows per sign, columns)."""

    def __init__(self, in_channels: int, out_channels: int, modes: tuple[int, int], width: int = 32, n_layers: int = 4,
                 *, lifting_channels: int = 64, projection_channels: int = 64, device=None) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.lifting = ChannelMLP(in_channels + 2, lifting_channels, width)
        self.spectral = nn.ModuleList(UnfusedSpectralConv(width, width, modes, device) for _ in range(n_layers))
        self.spectral_bias = nn.Parameter(torch.zeros(n_layers, width, 1, 1))
        self.skips = nn.ModuleList(nn.Conv1d(width, width, 1, bias=False) for _ in range(n_layers))
        self.mlps = nn.ModuleList(ChannelMLP(width, width // 2, width) for _ in range(n_layers))
        self.gates = nn.Parameter(torch.ones(n_layers, 1, width, 1, 1))
        self.projection = ChannelMLP(width, projection_channels, out_channels)
        self.to(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, h, w = x.shape
        axes = [torch.linspace(0, 1, n + 1, device=x.device, dtype=x.dtype)[:-1] for n in (h, w)]
        grid = torch.stack(torch.meshgrid(*axes, indexing="ij")).expand(batch, -1, -1, -1)
        x = self.lifting(torch.cat([x, grid], dim=1))
        for i in range(self.n_layers):
            last = i == self.n_layers - 1
            skip_mlp = self.gates[i] * x
            x = self.spectral[i](x) + self.spectral_bias[i] + self.skips[i](x.flatten(2)).view_as(x)
            x = x if last else F.gelu(x)
            x = self.mlps[i](x) + skip_mlp
            x = x if last else F.gelu(x)
        return self.projection(x)
