"""Pointwise (1x1) linear maps on channels-first fields of any dimension."""

from __future__ import annotations

import math

import torch
from torch import nn

from zoo.layers.activations import make_activation


def pointwise_linear(
    u: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    add: torch.Tensor | None = None,
) -> torch.Tensor:
    """``y[b, o, *x] = sum_i W[o, i] u[b, i, *x] + bias[o] (+ add[b, o, *x])`` on channels-first fields.

    Args:
        u: ``(B, in, *spatial)``.
        weight: ``(out, in)``.
        bias: ``(out,)`` or ``None``.
        add: ``(B, out, *spatial)`` or ``None``: a field (another path's output, a residual) that
            the GEMM accumulates onto, which saves the separate pass over memory of ``y + add``.

    One batched GEMM over all points (``W @ u.flatten(2)``), which on CPU is faster than a
    ``Conv{1,2,3}d`` with a 1x1 kernel and works for any number of spatial axes. (Accumulating in
    place into ``add`` would save one more copy but costs two in the backward pass: autograd
    rebuilds the gradient of an updated view.)
    """
    batch, flat = u.shape[0], u.flatten(2)
    if add is not None:
        start = add.flatten(2) if bias is None else add.flatten(2) + bias[:, None]
    elif bias is not None:
        start = bias[:, None].expand(batch, -1, flat.shape[-1])
    else:
        return torch.matmul(weight, flat).view(batch, -1, *u.shape[2:])
    return torch.baddbmm(start, weight.expand(batch, -1, -1), flat).view(batch, -1, *u.shape[2:])


class PointwiseLinear(nn.Module):
    """``y[b, o, *x] = sum_i W[o, i] u[b, i, *x] + bias[o]``: :func:`pointwise_linear` as a module.

    Shapes: ``(B, in_channels, *spatial) -> (B, out_channels, *spatial)``.
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

    def forward(self, u: torch.Tensor, *, add: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, in, *spatial) -> (B, out, *spatial)``, plus ``add`` when given (see :func:`pointwise_linear`)."""
        return pointwise_linear(u, self.weight, self.bias, add=add)


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

    def forward(self, u: torch.Tensor, *, add: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, in, *spatial) -> (B, out, *spatial)``; ``add`` (e.g. a residual) is summed by the last GEMM."""
        return self.fc2(self.act(self.fc1(u)), add=add)
