"""Pointwise (1x1) linear maps on channels-first fields of any dimension."""

from __future__ import annotations

import math

import torch
from torch import nn

from zoo.layers.activations import make_activation


class PointwiseLinear(nn.Module):
    """``y[b, o, *x] = sum_i W[o, i] u[b, i, *x] + bias[o]`` for ``u`` of shape ``(B, in, *spatial)``.

    One GEMM over all points (``W @ u.flatten(2)``), which on CPU is faster than a ``Conv{1,2,3}d``
    with a 1x1 kernel and works for any number of spatial axes.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.empty(out_channels, device=device, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        flat = u.flatten(2)
        if self.bias is None:
            out = torch.matmul(self.weight, flat)
        else:
            out = torch.baddbmm(self.bias[:, None].expand(u.shape[0], -1, flat.shape[-1]), self.weight.expand(u.shape[0], -1, -1), flat)
        return out.view(u.shape[0], self.out_channels, *u.shape[2:])


class ChannelMLP(nn.Module):
    """Two pointwise linears with an activation between: ``(B, C, *spatial) -> (B, C_out, *spatial)``."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        activation: str = "gelu",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.fc1 = PointwiseLinear(in_channels, hidden_channels, device=device, dtype=dtype)
        self.act = make_activation(activation)
        self.fc2 = PointwiseLinear(hidden_channels, out_channels, device=device, dtype=dtype)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(u)))
