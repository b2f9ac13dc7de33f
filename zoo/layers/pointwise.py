"""Pointwise (1x1) linear maps on channels-first fields of any dimension."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable

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
        if _tiles_pay(u, add, self.act, self.fc1.weight, self.fc2.weight):
            return _TiledChannelMLP.apply(
                u, add, self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias, self.act
            )
        return self.fc2(self.act(self.fc1(u)), add=add)


# Tiles of about this many points: a tile's input, hidden and output channels (about a megabyte
# at FNO widths) then stay in the core's caches from one GEMM to the next.
_TILE_POINTS = 4096


# ``grad_hidden`` from ``(activation, hidden, grad_activated)``: the activations whose derivative
# the tiled backward pass computes directly (autograd.grad on each tile costs milliseconds).
_ACTIVATION_GRADS = {
    nn.GELU: lambda act, h, g: torch.ops.aten.gelu_backward(g, h, approximate=act.approximate),
    nn.ReLU: lambda act, h, g: g * (h > 0),
    nn.SiLU: lambda act, h, g: torch.ops.aten.silu_backward(g, h),
    nn.Tanh: lambda act, h, g: g * (1 - torch.tanh(h).square()),
    nn.Identity: lambda act, h, g: g,
}


def _tiles_pay(u: torch.Tensor, add: torch.Tensor | None, act: nn.Module, *weights: torch.Tensor) -> bool:
    """Whether :class:`_TiledChannelMLP` runs: float32/64 on CPU, eager, no autocast, one dtype,
    an activation it differentiates, and more than one tile of points (else it is the plain path
    with extra steps)."""
    if u.device.type != "cpu" or u.dtype not in (torch.float32, torch.float64) or type(act) not in _ACTIVATION_GRADS:
        return False
    if torch.is_autocast_enabled("cpu") or torch.compiler.is_compiling():
        return False
    if any(w.dtype != u.dtype for w in weights) or (add is not None and add.dtype != u.dtype):
        return False
    # Only MLPs that widen (projection heads): the FNO blocks' narrowing residual MLPs measured
    # slower tiled, their small hidden field saves less traffic than the recomputation costs.
    widens = weights[0].shape[0] > weights[0].shape[1]
    return widens and u.shape[0] * u[0, 0].numel() > _TILE_POINTS


class _TiledChannelMLP(torch.autograd.Function):
    """``W2 act(W1 u + b1) + b2 (+ add)`` computed tile by tile of points, hidden layer recomputed
    in the backward pass.

    Done layer by layer, every GEMM and the activation stream the whole field through main memory,
    and a projection head's hidden field (128 channels on a width-20 FNO) is the largest tensor of
    the step. Done per tile, the hidden tile never leaves the cache, and the backward pass
    recomputes it from the saved input instead of saving it: the extra GEMM costs less than the
    memory traffic it saves on CPU (the NS FNO's training step 1.4x faster, BENCHMARKS.md), and
    only the input is kept for the backward pass. Same arithmetic as the layer-by-layer path,
    summed in another order. ``add`` is passed through to its gradient untouched; when it is ``u`` itself (a
    residual), that gradient is summed into ``u``'s tile by tile too.
    """

    @staticmethod
    def forward(ctx, u, add, w1, b1, w2, b2, act):
        batch, points = u.shape[0], u[0, 0].numel()
        residual = add is u
        flat_u = u.reshape(batch, u.shape[1], points)
        flat_add = None if add is None else add.reshape(batch, w2.shape[0], points)
        out = u.new_empty(batch, w2.shape[0], points)
        for b, start, stop in _tiles(batch, points):
            u_tile, out_tile = flat_u[b, :, start:stop], out[b, :, start:stop]
            if flat_add is None:
                out_tile.copy_(b2[:, None].expand_as(out_tile))
            else:
                torch.add(flat_add[b, :, start:stop], b2[:, None], out=out_tile)
            out_tile.addmm_(w2, act(torch.addmm(b1[:, None], w1, u_tile)))
        ctx.save_for_backward(u, w1, b1, w2)
        ctx.act, ctx.residual, ctx.add_given = act, residual, add is not None
        return out.view(batch, w2.shape[0], *u.shape[2:])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        u, w1, b1, w2 = ctx.saved_tensors
        batch, points = u.shape[0], u[0, 0].numel()
        flat_u = u.reshape(batch, u.shape[1], points)
        flat_grad = grad.reshape(batch, w2.shape[0], points)
        need_u = ctx.needs_input_grad[0]
        grad_u = torch.empty_like(flat_u) if need_u else None
        grad_w1, grad_b1 = torch.zeros_like(w1), torch.zeros_like(b1)
        grad_w2, grad_b2 = torch.zeros_like(w2), w2.new_zeros(w2.shape[0])
        for b, start, stop in _tiles(batch, points):
            u_tile, grad_tile = flat_u[b, :, start:stop], flat_grad[b, :, start:stop]
            hidden = torch.addmm(b1[:, None], w1, u_tile)
            grad_w2.addmm_(grad_tile, ctx.act(hidden).t())
            grad_b2 += grad_tile.sum(1)
            grad_hidden = _ACTIVATION_GRADS[type(ctx.act)](ctx.act, hidden, w2.t() @ grad_tile)
            grad_w1.addmm_(grad_hidden, u_tile.t())
            grad_b1 += grad_hidden.sum(1)
            if need_u:
                grad_u_tile = grad_u[b, :, start:stop]
                if ctx.residual:
                    grad_u_tile.copy_(grad_tile)
                    grad_u_tile.addmm_(w1.t(), grad_hidden)
                else:
                    grad_u_tile.addmm_(w1.t(), grad_hidden, beta=0)
        if grad_u is not None:
            grad_u = grad_u.view(u.shape)
        grad_add = grad if ctx.add_given and not ctx.residual else None
        return grad_u, grad_add, grad_w1, grad_b1, grad_w2, grad_b2, None


def _tiles(batch: int, points: int):
    """``(sample, start, stop)`` of tiles of about ``_TILE_POINTS`` points each, within one sample."""
    n_tiles = max(1, round(points / _TILE_POINTS))
    bounds = [points * i // n_tiles for i in range(n_tiles + 1)]
    for b in range(batch):
        for start, stop in zip(bounds[:-1], bounds[1:]):
            yield b, start, stop
