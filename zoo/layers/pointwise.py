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
            the GEMM accumulates onto, which saves a separate pass over memory for ``y + add``.

    One batched GEMM over all points (``W @ u.flatten(2)``), which on CPU is faster than a
    ``Conv{1,2,3}d`` with a 1x1 kernel and works for any number of spatial axes.
    """
    batch, flat = u.shape[0], u.flatten(2)
    if add is not None:
        # The bias in add's dtype: under autocast a float32 bias would promote a bf16 residual
        # stream to float32 (and every activation saved downstream with it).
        start = add.clone() if bias is None else add + bias.to(add.dtype).view(-1, *([1] * (u.ndim - 2)))
        return accumulate_pointwise(start, u, weight)
    if bias is None:
        return torch.bmm(weight.expand(batch, -1, -1), flat).view(batch, -1, *u.shape[2:])
    start = bias[:, None].expand(batch, -1, flat.shape[-1])
    return torch.baddbmm(start, weight.expand(batch, -1, -1), flat).view(batch, -1, *u.shape[2:])


def accumulate_pointwise(acc: torch.Tensor, u: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``acc += W u`` in place, one GEMM with ``beta = 1``; returns ``acc``.

    For a contiguous ``acc`` ``(B, out, *spatial)`` that the caller owns and no longer needs, e.g.
    the fresh output of another path: its old value is overwritten (autograd raises if something
    saved it for a backward pass). ``u`` is ``(B, in, *spatial)``, ``weight`` ``(out, in)``.
    Plain autograd would rebuild the gradient of such an in-place update of a view with two full
    copies; this op's backward passes the gradient of ``acc`` through untouched.
    """
    if not acc.is_contiguous():
        raise ValueError(f"accumulate_pointwise needs a contiguous acc, got strides {acc.stride()}")
    return _AccumulatePointwise.apply(acc, u, weight)


class _AccumulatePointwise(torch.autograd.Function):
    @staticmethod
    def forward(ctx, acc, u, weight):
        ctx.save_for_backward(u, weight)
        batch = u.shape[0]
        # Under autocast the operands can differ in dtype (bf16 activations, float32 weights): an
        # in-place GEMM is not autocast, so it computes in the accumulator's dtype.
        flat_u = u.reshape(batch, weight.shape[1], -1).to(acc.dtype)
        acc.view(batch, weight.shape[0], -1).baddbmm_(weight.to(acc.dtype).expand(batch, -1, -1), flat_u)
        ctx.mark_dirty(acc)
        return acc

    @staticmethod
    def backward(ctx, grad):
        u, weight = ctx.saved_tensors
        flat_grad = grad.reshape(u.shape[0], weight.shape[0], -1)
        grad_u = grad_weight = None
        if ctx.needs_input_grad[1]:
            # bmm with the weight broadcast: torch.matmul(2D, 3D) would transpose both operands.
            weight_t = weight.t().to(flat_grad.dtype).expand(u.shape[0], -1, -1)
            grad_u = torch.bmm(weight_t, flat_grad).view(u.shape).to(u.dtype)
        if ctx.needs_input_grad[2]:
            u_t = u.flatten(2).transpose(1, 2).to(flat_grad.dtype)
            grad_weight = torch.matmul(flat_grad, u_t).sum(0).to(weight.dtype)
        return grad, grad_u, grad_weight


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
