"""Domain parallelism for 2D spectral layers: a grid too large for one device, split into slabs.

Each of ``P`` processes holds a slab of rows ``(B, C, H / P, W)``. A 2D spectral convolution needs
the whole grid, but only through FFTs, and a 2D FFT is two 1D FFTs with a transpose between them
(slab decomposition, as in distributed FFT libraries such as P3DFFT and heFFTe):

1. ``rfft`` along ``W`` (rows are whole on every rank) and keep the ``m2`` kept columns;
2. all-to-all: rank ``r`` receives column chunk ``r`` of every rank's rows, so it holds all ``H``
   rows of ``m2 / P`` columns;
3. ``fft`` along ``H``, keep the ``+-m1`` rows, multiply by the weights of its columns, inverse
   ``fft`` along ``H``;
4. all-to-all back to row slabs, ``irfft`` along ``W``.

Only the kept columns travel (``m2`` of ``W / 2 + 1``), so each all-to-all moves ``B C H m2 / P``
complex numbers per rank. The exchange is differentiable (its adjoint is the same all-to-all of
the gradients), so training backpropagates through it.

Training with slabs: every rank's loss only sees its own points, so each parameter's gradient is
the sum of the ranks' contributions: all-reduce gradients with ``SUM`` over the domain group
(:func:`sum_gradients`) when the loss is a sum over points, and divide by ``P`` for a mean. A model
is domain-parallel when all its non-local operations are: pointwise layers are local; grid
coordinate features, domain padding and normalisation over space are not (use an FNO with
``grid_features=False``, ``norm=None``, ``domain_padding=0``, or feed coordinates as data).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from zoo.layers.mode_product import mode_product
from zoo.layers.spectral_conv import SpectralConv


class SlabSpectralConv2d(nn.Module):
    """A 2D :class:`SpectralConv` applied to row slabs ``(B, C, H / P, W)`` held by ``P`` processes.

    Wraps (and shares the weight of) an existing layer, so a trained model becomes domain-parallel
    without touching its checkpoint. ``H`` must be divisible by the group size; every rank holds
    the same (replicated) weight.
    """

    def __init__(self, conv: SpectralConv, group: dist.ProcessGroup | None = None) -> None:
        super().__init__()
        if conv.ndim != 2:
            raise ValueError(f"slab decomposition is implemented for 2D spectral layers, got {conv.ndim}D")
        self.conv = conv
        self.group = group

    def forward(self, x: torch.Tensor, *, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, in, H / P, W) -> (B, out, H / P, W)``; ``bias`` ``(out,)`` is added to every point,
        as :meth:`SpectralConv.forward` does."""
        ranks, rank = dist.get_world_size(self.group), dist.get_rank(self.group)
        batch, channels, local_rows, width = x.shape
        height = local_rows * ranks
        (rows_pos, rows_neg), (columns, _) = self.conv.kept_per_axis((height, width))
        chunk = -(-columns // ranks)  # columns per rank, the last chunks zero-padded
        x_hat = torch.fft.rfft(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x, dim=-1, norm="forward")
        x_hat = _pad_last(x_hat[..., :columns], chunk * ranks)
        # (B, C, H/P, P*chunk) row slab -> (B, C, H, chunk) column slab
        x_hat = _exchange(x_hat.unflatten(-1, (ranks, chunk)).movedim(-2, 0), self.group).movedim(0, 2).flatten(2, 3)
        x_hat = torch.fft.fft(x_hat, dim=2, norm="forward")
        x_hat = torch.cat([x_hat[:, :, :rows_pos], x_hat[:, :, height - rows_neg :]], dim=2)
        weight = self.conv.weight_for((height, width))
        weight = torch.cat([weight, weight.new_zeros(weight.shape[0], chunk * ranks - columns, *weight.shape[2:])], dim=1)
        y_hat = mode_product(x_hat, weight[:, rank * chunk : (rank + 1) * chunk], backend=self.conv.backend)
        zeros = y_hat.new_zeros(batch, y_hat.shape[1], height - rows_pos - rows_neg, chunk)
        y_hat = torch.fft.ifft(torch.cat([y_hat[:, :, :rows_pos], zeros, y_hat[:, :, rows_pos:]], dim=2), dim=2, norm="forward")
        # (B, O, H, chunk) column slab -> (B, O, H/P, P*chunk) row slab
        y_hat = _exchange(y_hat.unflatten(2, (ranks, local_rows)).movedim(2, 0), self.group).movedim(0, -2).flatten(-2)
        y = torch.fft.irfft(y_hat[..., :columns], n=width, dim=-1, norm="forward")
        return (y if bias is None else y + bias[:, None, None]).to(x.dtype)


def _pad_last(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size:
        return x
    return torch.cat([x, x.new_zeros(*x.shape[:-1], size - x.shape[-1])], dim=-1)


def _exchange(blocks: torch.Tensor, group: dist.ProcessGroup | None) -> torch.Tensor:
    """All-to-all of ``blocks[j]`` to rank ``j``; returns ``received[j]`` from rank ``j`` (differentiable).

    Complex tensors travel as real ``(..., 2)`` views (not every backend moves complex numbers).
    """
    received = _AllToAll.apply(torch.view_as_real(blocks.contiguous()), group)
    return torch.view_as_complex(received)


class _AllToAll(torch.autograd.Function):
    """Equal-split all-to-all. Its adjoint is itself: the gradient of what rank ``j`` received from
    rank ``r`` goes back from ``j`` to ``r``, which is again an all-to-all of the output gradient."""

    @staticmethod
    def forward(ctx, blocks: torch.Tensor, group: dist.ProcessGroup | None) -> torch.Tensor:
        ctx.group = group
        received = torch.empty_like(blocks, memory_format=torch.contiguous_format)
        dist.all_to_all_single(received, blocks.contiguous(), group=group)
        return received

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        returned = torch.empty_like(grad, memory_format=torch.contiguous_format)
        dist.all_to_all_single(returned, grad.contiguous(), group=ctx.group)
        return returned, None


def shard_spectral_layers(model: nn.Module, group: dist.ProcessGroup | None = None) -> nn.Module:
    """Replace every 2D :class:`SpectralConv` in ``model`` by its slab-parallel wrapper (in place)."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, SpectralConv):
                setattr(module, name, SlabSpectralConv2d(child, group))
    return model


def sum_gradients(model: nn.Module, group: dist.ProcessGroup | None = None) -> None:
    """All-reduce (sum) every parameter gradient over the domain group: slabs' contributions add up."""
    for parameter in model.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM, group=group)
