"""The mode product of a spectral convolution: ``y[b, o, k] = sum_i x[b, i, k] W[k, i, o]``.

Two implementations compute it:

* the torch path, :func:`mode_product_torch`: a batched complex GEMM over the kept modes ``k`` (one
  ``(B, in) @ (in, out)`` product per mode), exact in float32 and float64 and differentiable by
  plain autograd. It is the reference and what ``backend="auto"`` uses, on every device.
* the Triton path (``zoo.kernels``), registered as the custom op ``zoo::mode_product`` with its
  backward ops and fake implementations, so ``torch.compile`` treats it as one opaque call. Where
  Triton cannot run (a CPU tensor outside the interpreter, a float64 spectrum) the op computes
  with the torch path, so it is valid on every device.

Spectra may be *layouts* longer than the kept modes (see ``kept`` in :func:`mode_product`): the
Triton kernels then pick the kept corners of an unpruned FFT output through strides and write a
whole output spectrum, zero rows included, so the layer needs no gather or zero-padding copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from einops import rearrange

BACKENDS = ("auto", "torch", "triton")


def resolve_backend(x: torch.Tensor, backend: str) -> str:
    """The implementation (``"torch"`` or ``"triton"``) that ``backend`` selects for tensors like ``x``.

    ``"auto"`` picks the path measured fastest: torch, on CPU and on GPU alike (on an H200 the
    Triton kernels were slower than the torch path at 5 of 6 FNO layer shapes, forward and
    backward; BENCHMARKS.md, "Spectral kernels on the GPU"). ``"triton"`` opts in, and raises a
    ``RuntimeError`` naming why when it cannot run (under ``TRITON_INTERPRET=1`` it runs on CPU
    tensors in Triton's interpreter).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if backend != "triton":
        return "torch"
    from zoo.kernels import triton_unavailable_reason

    reason = triton_unavailable_reason(x)
    if reason is not None:
        raise RuntimeError(f"the mode product's backend='triton' cannot run here: {reason}")
    return "triton"


def mode_product(
    x_hat: torch.Tensor,
    weight: torch.Tensor,
    *,
    backend: str = "auto",
    kept: Sequence[tuple[int, int]] | None = None,
    out_modes: Sequence[int] | None = None,
) -> torch.Tensor:
    """Contract kept modes with per-mode complex weights.

    Args:
        x_hat: complex spectrum ``(B, in, *modes)``.
        weight: real ``(*weight_modes, in, out, 2)``, the trailing axis holding ``(re, im)``.
        backend: ``"auto"``, ``"torch"`` or ``"triton"`` (see :func:`resolve_backend`).
        kept: per spatial axis ``(n_pos, n_neg)``: the first ``n_pos`` and the last ``n_neg``
            positions of that axis of ``x_hat``, ``weight`` and the output hold the kept modes
            (positive and negative frequencies); other positions are skipped on input and zero on
            output. ``None``: ``x_hat`` and ``weight`` hold exactly the kept modes.
        out_modes: per-axis length of the output spectrum; defaults to ``x_hat``'s.

    Returns:
        complex spectrum ``(B, out, *out_modes)``.
    """
    modes = tuple(x_hat.shape[2:])
    if not x_hat.is_complex() or x_hat.ndim < 3:
        raise ValueError(f"x_hat must be a complex (B, in, *modes) spectrum, got {x_hat.dtype} {tuple(x_hat.shape)}")
    if weight.is_complex() or weight.ndim != len(modes) + 3 or weight.shape[-1] != 2:
        raise ValueError(
            f"weight must be real (*modes, in, out, 2) for {len(modes)} mode axes, got {weight.dtype} {tuple(weight.shape)}"
        )
    if weight.shape[-3] != x_hat.shape[1]:
        raise ValueError(f"x_hat has {x_hat.shape[1]} channels but weight expects {weight.shape[-3]}")
    if kept is None:
        if tuple(weight.shape[:-3]) != modes:
            raise ValueError(f"weight modes {tuple(weight.shape[:-3])} differ from x_hat modes {modes}; pass kept=")
        kept = [(n, 0) for n in modes]
    out_modes = modes if out_modes is None else tuple(out_modes)
    _check_layouts(kept, modes=modes, weight_modes=tuple(weight.shape[:-3]), out_modes=out_modes)
    if resolve_backend(x_hat, backend) == "triton":
        return torch.ops.zoo.mode_product(x_hat, weight, [p for p, _ in kept], [n for _, n in kept], list(out_modes))
    return _mode_product_layout_torch(x_hat, weight, kept, out_modes)


def mode_product_torch(x_hat: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Reference torch implementation of :func:`mode_product` (exact, differentiable)."""
    kept = x_hat.shape[2:]
    w = torch.view_as_complex(weight.to(torch.float32 if x_hat.dtype == torch.complex64 else torch.float64))
    x_modes = rearrange(x_hat, "b i ... -> (...) b i").contiguous()
    y_modes = _BatchedComplexProduct.apply(x_modes, w.reshape(-1, *w.shape[-2:]))
    return y_modes.permute(1, 2, 0).reshape(y_modes.shape[1], y_modes.shape[2], *kept)


class _BatchedComplexProduct(torch.autograd.Function):
    """``torch.bmm`` of complex batches whose gradients use conjugates materialised once.

    Autograd's own gradients of a complex ``bmm`` multiply by lazily conjugated transposes, which
    ATen's CPU ``bmm`` cannot hand to batched BLAS: it loops over the modes, selecting and
    cloning each matrix (thousands of ``select``/``copy_`` calls per training step, the copies
    once blamed on the trainer). Materialising ``conj(W)^T`` and ``conj(x)^T`` (a few hundred
    kilobytes) keeps each gradient one batched GEMM; the values are the same.
    """

    @staticmethod
    def forward(ctx, x_modes, w):
        ctx.save_for_backward(x_modes, w)
        return torch.bmm(x_modes, w)

    @staticmethod
    def backward(ctx, grad):
        x_modes, w = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.bmm(grad, w.transpose(1, 2).conj().resolve_conj())
        if ctx.needs_input_grad[1]:
            grad_w = torch.bmm(x_modes.transpose(1, 2).conj().resolve_conj(), grad)
        return grad_x, grad_w


def _check_layouts(kept, **layouts: tuple[int, ...]) -> None:
    for name, lengths in layouts.items():
        if len(lengths) != len(kept) or any(p < 1 or n < 0 or p + n > length for (p, n), length in zip(kept, lengths)):
            raise ValueError(f"kept frequencies {list(kept)} do not fit {name} {lengths}")


def _select_kept(t: torch.Tensor, kept: Sequence[tuple[int, int]], first_axis: int) -> torch.Tensor:
    """The kept positions of each mode axis of ``t`` (axes ``first_axis, first_axis + 1, ...``)."""
    for axis, (n_pos, n_neg) in enumerate(kept, start=first_axis):
        length = t.shape[axis]
        if n_pos + n_neg < length:
            t = torch.cat([t.narrow(axis, 0, n_pos), t.narrow(axis, length - n_neg, n_neg)], dim=axis)
    return t


def _embed_kept(
    t: torch.Tensor, kept: Sequence[tuple[int, int]], lengths: Sequence[int], first_axis: int
) -> torch.Tensor:
    """Inverse of :func:`_select_kept`: place the kept modes in a layout of ``lengths``, zeros elsewhere."""
    for axis, ((n_pos, n_neg), length) in enumerate(zip(kept, lengths), start=first_axis):
        if n_pos + n_neg < length:
            shape = list(t.shape)
            shape[axis] = length - n_pos - n_neg
            t = torch.cat([t.narrow(axis, 0, n_pos), t.new_zeros(shape), t.narrow(axis, n_pos, n_neg)], dim=axis)
    return t


def _mode_product_layout_torch(x_hat, weight, kept, out_modes):
    y = mode_product_torch(_select_kept(x_hat, kept, 2), _select_kept(weight, kept, 0))
    return _embed_kept(y, kept, out_modes, 2)


# The custom ops. Each computes with Triton where it can run on its inputs and with the torch
# path elsewhere, so the op is valid on every device (and opcheck/torch.compile work on CPU).


def _triton_runs_on(x: torch.Tensor) -> bool:
    from zoo.kernels import triton_unavailable_reason

    return triton_unavailable_reason(x) is None


@torch.library.custom_op(
    "zoo::mode_product",
    mutates_args=(),
    schema="(Tensor x_hat, Tensor weight, int[] kept_pos, int[] kept_neg, int[] out_modes) -> Tensor",
)
def _mode_product_op(x_hat, weight, kept_pos, kept_neg, out_modes):
    kept = list(zip(kept_pos, kept_neg))
    if _triton_runs_on(x_hat):
        from zoo.kernels.mode_product import contract_channels

        return contract_channels(x_hat, weight, kept, out_modes)
    return _mode_product_layout_torch(x_hat, weight, kept, out_modes).contiguous()


@torch.library.custom_op(
    "zoo::mode_product_grad_input",
    mutates_args=(),
    schema="(Tensor grad_out, Tensor weight, int[] kept_pos, int[] kept_neg, int[] in_modes) -> Tensor",
)
def _mode_product_grad_input_op(grad_out, weight, kept_pos, kept_neg, in_modes):
    """``grad_x[b, i, k] = sum_o g[b, o, k] conj(W[k, i, o])`` in the layout of ``in_modes``."""
    kept = list(zip(kept_pos, kept_neg))
    if _triton_runs_on(grad_out):
        from zoo.kernels.mode_product import contract_channels

        return contract_channels(grad_out, weight, kept, in_modes, adjoint=True)
    w = _select_kept(weight, kept, 0)
    w_adjoint = torch.stack([w[..., 0], -w[..., 1]], dim=-1).transpose(-3, -2)
    grad = mode_product_torch(_select_kept(grad_out, kept, 2), w_adjoint)
    return _embed_kept(grad, kept, in_modes, 2).contiguous()


@torch.library.custom_op(
    "zoo::mode_product_grad_weight",
    mutates_args=(),
    schema="(Tensor x_hat, Tensor grad_out, Tensor weight, int[] kept_pos, int[] kept_neg) -> Tensor",
)
def _mode_product_grad_weight_op(x_hat, grad_out, weight, kept_pos, kept_neg):
    """``grad_W[k, i, o] = sum_b conj(x[b, i, k]) g[b, o, k]`` in ``weight``'s shape and dtype."""
    kept = list(zip(kept_pos, kept_neg))
    if _triton_runs_on(x_hat):
        from zoo.kernels.mode_product import weight_grad

        return weight_grad(x_hat, grad_out, weight, kept)
    grad = torch.einsum("bi...,bo...->...io", _select_kept(x_hat, kept, 2).conj(), _select_kept(grad_out, kept, 2))
    return _embed_kept(torch.view_as_real(grad).to(weight.dtype), kept, weight.shape[:-3], 0).contiguous()


@_mode_product_op.register_fake
def _(x_hat, weight, kept_pos, kept_neg, out_modes):
    return x_hat.new_empty((x_hat.shape[0], weight.shape[-2], *out_modes))


@_mode_product_grad_input_op.register_fake
def _(grad_out, weight, kept_pos, kept_neg, in_modes):
    return grad_out.new_empty((grad_out.shape[0], weight.shape[-3], *in_modes))


@_mode_product_grad_weight_op.register_fake
def _(x_hat, grad_out, weight, kept_pos, kept_neg):
    return weight.new_empty(weight.shape)


def _save_for_backward(ctx, inputs, output):
    x_hat, weight, kept_pos, kept_neg, _ = inputs
    ctx.save_for_backward(x_hat, weight)
    ctx.kept_pos, ctx.kept_neg = kept_pos, kept_neg


def _backward(ctx, grad_out):
    x_hat, weight = ctx.saved_tensors
    grad_x = grad_weight = None
    if ctx.needs_input_grad[0]:
        grad_x = _mode_product_grad_input_op(grad_out, weight, ctx.kept_pos, ctx.kept_neg, list(x_hat.shape[2:]))
    if ctx.needs_input_grad[1]:
        grad_weight = _mode_product_grad_weight_op(x_hat, grad_out, weight, ctx.kept_pos, ctx.kept_neg)
    return grad_x, grad_weight, None, None, None


_mode_product_op.register_autograd(_backward, setup_context=_save_for_backward)
