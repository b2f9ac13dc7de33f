"""Triton kernels for the mode product of a spectral convolution, forward and backward.

The spectral convolution contracts channels mode by mode: ``y[b, o, k] = sum_i x[b, i, k] W[k, i, o]``
over the kept modes ``k``, whose gradients are ``grad_x = sum_o g conj(W)`` and
``grad_W = sum_b conj(x) g``. Every tensor here is a *spectrum layout*: per spatial axis, a run of
positions of which the first ``n_pos`` and the last ``n_neg`` hold kept frequencies (the positive
and negative corners of the FFT output) and the rest are not kept. One layout may be the unpruned
FFT output, another the packed kept modes (``n_pos + n_neg`` positions) or the weight tensor; the
kernels map between them by index arithmetic, so reading the kept corners of an FFT output and
writing a whole spectrum, its zero rows included, needs no gather, scatter or memset.

Triton has no complex type: complex tensors arrive as ``torch.view_as_real`` views, real and
imaginary parts interleaved. Loads are cast to float32, so bf16/fp16 weights accumulate in float32
(the interpreter also computes bf16 arithmetic wrongly without the cast). Up to three spatial
axes are handled; fewer are padded with length-one axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import triton
import triton.language as tl

# float32 dot products on tensor cores: "tf32x3" splits each operand into two TF32 parts, which
# is accurate to about float32 rounding (plain "tf32" errs by ~1e-3, as torch's matmul does not),
# while the kernel stays memory-bound. The interpreter ignores the setting and computes in float32.
DOT_PRECISION: tl.constexpr = tl.constexpr("tf32x3")

MAX_AXES = 3


@triton.jit
def _axis_position(coord, length, n_pos, n_neg, other_length):
    """Whether ``coord`` on an axis of ``length`` positions is kept, and its position on another
    layout of the same axis with ``other_length`` positions (the negative corner counts from the end)."""
    is_negative = coord >= length - n_neg
    kept = (coord < n_pos) | is_negative
    return kept, tl.where(is_negative, coord - length + other_length, coord)


@triton.jit
def _mode_offsets(
    block_start, BLOCK_K: tl.constexpr,
    len0, len1, len2, stride0, stride1, stride2,
    pos0, pos1, pos2, neg0, neg1, neg2,
    a_len0, a_len1, a_len2, a_stride0, a_stride1, a_stride2,
    b_len0, b_len1, b_len2, b_stride0, b_stride1, b_stride2,
):
    """For ``BLOCK_K`` consecutive positions of a layout of shape ``(len0, len1, len2)``: whether
    each is in range and kept, and its element offset there and in two other layouts ``a``, ``b``."""
    flat = block_start + tl.arange(0, BLOCK_K)
    in_range = flat < len0 * len1 * len2
    c2 = flat % len2
    c1 = (flat // len2) % len1
    c0 = flat // (len2 * len1)
    kept0, a0 = _axis_position(c0, len0, pos0, neg0, a_len0)
    kept1, a1 = _axis_position(c1, len1, pos1, neg1, a_len1)
    kept2, a2 = _axis_position(c2, len2, pos2, neg2, a_len2)
    _, b0 = _axis_position(c0, len0, pos0, neg0, b_len0)
    _, b1 = _axis_position(c1, len1, pos1, neg1, b_len1)
    _, b2 = _axis_position(c2, len2, pos2, neg2, b_len2)
    kept = in_range & kept0 & kept1 & kept2
    offset = c0.to(tl.int64) * stride0 + c1.to(tl.int64) * stride1 + c2.to(tl.int64) * stride2
    a_offset = a0.to(tl.int64) * a_stride0 + a1.to(tl.int64) * a_stride1 + a2.to(tl.int64) * a_stride2
    b_offset = b0.to(tl.int64) * b_stride0 + b1.to(tl.int64) * b_stride1 + b2.to(tl.int64) * b_stride2
    return in_range, kept, offset, a_offset, b_offset


@triton.jit
def _contract_channels_kernel(
    x_ptr, w_ptr, out_ptr,
    batch, channels_in, channels_out,
    out_len0, out_len1, out_len2,
    pos0, pos1, pos2, neg0, neg1, neg2,
    x_len0, x_len1, x_len2, w_len0, w_len1, w_len2,
    x_stride_b, x_stride_c, x_stride0, x_stride1, x_stride2,
    w_stride0, w_stride1, w_stride2, w_stride_in, w_stride_out,
    out_stride_b, out_stride_c, out_stride0, out_stride1, out_stride2,
    CONJ_WEIGHT: tl.constexpr,
    BLOCK_K: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_IN: tl.constexpr, BLOCK_OUT: tl.constexpr,
):
    """out[b, o, k] = sum_i x[b, i, k] W[k, i, o] (W conjugated if ``CONJ_WEIGHT``) for every
    position k of the output layout, zero where k is not kept.

    One program owns ``BLOCK_K`` output positions x ``BLOCK_B`` batch rows x ``BLOCK_OUT`` output
    channels; consecutive programs share the mode block, so the x and W tiles they all read are
    fetched from DRAM once and served from L2 afterwards.
    """
    pid = tl.program_id(0)
    n_b = tl.cdiv(batch, BLOCK_B)
    n_o = tl.cdiv(channels_out, BLOCK_OUT)
    pid_k = pid // (n_b * n_o)
    pid_b = (pid // n_o) % n_b
    pid_o = pid % n_o

    in_range, kept, out_mode, x_mode, w_mode = _mode_offsets(
        pid_k * BLOCK_K, BLOCK_K, out_len0, out_len1, out_len2, out_stride0, out_stride1, out_stride2,
        pos0, pos1, pos2, neg0, neg1, neg2,
        x_len0, x_len1, x_len2, x_stride0, x_stride1, x_stride2,
        w_len0, w_len1, w_len2, w_stride0, w_stride1, w_stride2,
    )

    b = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    o = pid_o * BLOCK_OUT + tl.arange(0, BLOCK_OUT)
    acc_re = tl.zeros((BLOCK_K, BLOCK_B, BLOCK_OUT), dtype=tl.float32)
    acc_im = tl.zeros((BLOCK_K, BLOCK_B, BLOCK_OUT), dtype=tl.float32)
    # A block of non-kept positions only writes zeros: skip its reduction.
    any_kept = tl.max(kept.to(tl.int32), axis=0)
    for i_start in range(0, channels_in * any_kept, BLOCK_IN):
        i = i_start + tl.arange(0, BLOCK_IN)
        x_ptrs = (
            x_ptr + x_mode[:, None, None] + b.to(tl.int64)[None, :, None] * x_stride_b
            + i.to(tl.int64)[None, None, :] * x_stride_c
        )
        x_mask = kept[:, None, None] & (b < batch)[None, :, None] & (i < channels_in)[None, None, :]
        x_re = tl.load(x_ptrs, mask=x_mask, other=0.0).to(tl.float32)
        x_im = tl.load(x_ptrs + 1, mask=x_mask, other=0.0).to(tl.float32)
        w_ptrs = (
            w_ptr + w_mode[:, None, None] + i.to(tl.int64)[None, :, None] * w_stride_in
            + o.to(tl.int64)[None, None, :] * w_stride_out
        )
        w_mask = kept[:, None, None] & (i < channels_in)[None, :, None] & (o < channels_out)[None, None, :]
        w_re = tl.load(w_ptrs, mask=w_mask, other=0.0).to(tl.float32)
        w_im = tl.load(w_ptrs + 1, mask=w_mask, other=0.0).to(tl.float32)
        if CONJ_WEIGHT:
            w_im = -w_im
        acc_re += tl.dot(x_re, w_re, input_precision=DOT_PRECISION)
        acc_re -= tl.dot(x_im, w_im, input_precision=DOT_PRECISION)
        acc_im += tl.dot(x_re, w_im, input_precision=DOT_PRECISION)
        acc_im += tl.dot(x_im, w_re, input_precision=DOT_PRECISION)

    out_ptrs = (
        out_ptr + out_mode[:, None, None] + b.to(tl.int64)[None, :, None] * out_stride_b
        + o.to(tl.int64)[None, None, :] * out_stride_c
    )
    out_mask = in_range[:, None, None] & (b < batch)[None, :, None] & (o < channels_out)[None, None, :]
    tl.store(out_ptrs, acc_re.to(out_ptr.dtype.element_ty), mask=out_mask)
    tl.store(out_ptrs + 1, acc_im.to(out_ptr.dtype.element_ty), mask=out_mask)


@triton.jit
def _weight_grad_kernel(
    x_ptr, g_ptr, gw_ptr,
    batch, channels_in, channels_out,
    w_len0, w_len1, w_len2,
    pos0, pos1, pos2, neg0, neg1, neg2,
    x_len0, x_len1, x_len2, g_len0, g_len1, g_len2,
    x_stride_b, x_stride_c, x_stride0, x_stride1, x_stride2,
    g_stride_b, g_stride_c, g_stride0, g_stride1, g_stride2,
    gw_stride0, gw_stride1, gw_stride2, gw_stride_in, gw_stride_out,
    BLOCK_K: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_IN: tl.constexpr, BLOCK_OUT: tl.constexpr,
):
    """grad_W[k, i, o] = sum_b conj(x[b, i, k]) g[b, o, k] for every position k of the weight
    layout, zero where k is not kept (modes a coarse grid does not hold get no gradient)."""
    pid = tl.program_id(0)
    n_i = tl.cdiv(channels_in, BLOCK_IN)
    n_o = tl.cdiv(channels_out, BLOCK_OUT)
    pid_k = pid // (n_i * n_o)
    pid_i = (pid // n_o) % n_i
    pid_o = pid % n_o

    in_range, kept, gw_mode, x_mode, g_mode = _mode_offsets(
        pid_k * BLOCK_K, BLOCK_K, w_len0, w_len1, w_len2, gw_stride0, gw_stride1, gw_stride2,
        pos0, pos1, pos2, neg0, neg1, neg2,
        x_len0, x_len1, x_len2, x_stride0, x_stride1, x_stride2,
        g_len0, g_len1, g_len2, g_stride0, g_stride1, g_stride2,
    )

    i = pid_i * BLOCK_IN + tl.arange(0, BLOCK_IN)
    o = pid_o * BLOCK_OUT + tl.arange(0, BLOCK_OUT)
    acc_re = tl.zeros((BLOCK_K, BLOCK_IN, BLOCK_OUT), dtype=tl.float32)
    acc_im = tl.zeros((BLOCK_K, BLOCK_IN, BLOCK_OUT), dtype=tl.float32)
    any_kept = tl.max(kept.to(tl.int32), axis=0)
    for b_start in range(0, batch * any_kept, BLOCK_B):
        b = b_start + tl.arange(0, BLOCK_B)
        x_ptrs = (
            x_ptr + x_mode[:, None, None] + i.to(tl.int64)[None, :, None] * x_stride_c
            + b.to(tl.int64)[None, None, :] * x_stride_b
        )
        x_mask = kept[:, None, None] & (i < channels_in)[None, :, None] & (b < batch)[None, None, :]
        x_re = tl.load(x_ptrs, mask=x_mask, other=0.0).to(tl.float32)
        x_im = tl.load(x_ptrs + 1, mask=x_mask, other=0.0).to(tl.float32)
        g_ptrs = (
            g_ptr + g_mode[:, None, None] + b.to(tl.int64)[None, :, None] * g_stride_b
            + o.to(tl.int64)[None, None, :] * g_stride_c
        )
        g_mask = kept[:, None, None] & (b < batch)[None, :, None] & (o < channels_out)[None, None, :]
        g_re = tl.load(g_ptrs, mask=g_mask, other=0.0).to(tl.float32)
        g_im = tl.load(g_ptrs + 1, mask=g_mask, other=0.0).to(tl.float32)
        # conj(x) g = (x_re g_re + x_im g_im) + i (x_re g_im - x_im g_re)
        acc_re += tl.dot(x_re, g_re, input_precision=DOT_PRECISION)
        acc_re += tl.dot(x_im, g_im, input_precision=DOT_PRECISION)
        acc_im += tl.dot(x_re, g_im, input_precision=DOT_PRECISION)
        acc_im -= tl.dot(x_im, g_re, input_precision=DOT_PRECISION)

    gw_ptrs = (
        gw_ptr + gw_mode[:, None, None] + i.to(tl.int64)[None, :, None] * gw_stride_in
        + o.to(tl.int64)[None, None, :] * gw_stride_out
    )
    gw_mask = in_range[:, None, None] & (i < channels_in)[None, :, None] & (o < channels_out)[None, None, :]
    tl.store(gw_ptrs, acc_re.to(gw_ptr.dtype.element_ty), mask=gw_mask)
    tl.store(gw_ptrs + 1, acc_im.to(gw_ptr.dtype.element_ty), mask=gw_mask)


def _configs(tiles: Sequence[tuple[int, int, int, int, int]]) -> list[triton.Config]:
    return [
        triton.Config({"BLOCK_K": k, "BLOCK_B": b, "BLOCK_IN": i, "BLOCK_OUT": o}, num_warps=warps)
        for k, b, i, o, warps in tiles
    ]


# GPU tiles: every dot dimension is at least 16 (Triton's floor for 16-bit dots on NVIDIA), a
# program covers up to 32 batch rows so each weight tile is read from DRAM about once.
_CONTRACT_TILES = [  # (modes, batch, reduced channels, output channels, warps)
    (1, 32, 32, 64, 4), (2, 16, 16, 32, 4), (4, 16, 16, 32, 4), (4, 32, 16, 32, 4),
    (8, 16, 16, 16, 4), (2, 32, 16, 64, 8), (8, 32, 16, 32, 8),
]
_WEIGHT_GRAD_TILES = [  # (modes, reduced batch, input channels, output channels, warps)
    (1, 32, 32, 64, 4), (2, 16, 32, 32, 4), (4, 16, 16, 32, 4), (4, 32, 32, 32, 8),
    (8, 16, 16, 16, 4), (2, 32, 32, 64, 8),
]
# The interpreter runs one fixed small tile (it cannot time configs), small enough that tiny test
# shapes span several tiles with ragged edges on every axis.
INTERPRETER_TILE = {"BLOCK_K": 4, "BLOCK_B": 2, "BLOCK_IN": 4, "BLOCK_OUT": 4}

_LAYOUT_KEY = ["batch", "channels_in", "channels_out"]
_contract_channels_tuned = triton.autotune(
    _configs(_CONTRACT_TILES), key=[*_LAYOUT_KEY, "out_len0", "out_len1", "out_len2", "CONJ_WEIGHT"]
)(_contract_channels_kernel)
_weight_grad_tuned = triton.autotune(
    _configs(_WEIGHT_GRAD_TILES), key=[*_LAYOUT_KEY, "w_len0", "w_len1", "w_len2"]
)(_weight_grad_kernel)

INTERPRETED = bool(triton.knobs.runtime.interpret)


def _padded(values: Sequence[int], fill: int) -> list[int]:
    """Pad per-axis values to ``MAX_AXES`` with leading length-one axes."""
    return [fill] * (MAX_AXES - len(values)) + list(values)


def _spectrum_view(z: torch.Tensor) -> tuple[torch.Tensor, list[int], list[int]]:
    """Real view of a complex ``(B, C, *modes)`` spectrum, its ``[B, C]`` and padded mode strides."""
    real = torch.view_as_real(z.resolve_conj().resolve_neg())
    strides = list(real.stride())
    return real, strides[:2], _padded(strides[2:-1], 0)


def _layout_args(kept: Sequence[tuple[int, int]]) -> list[int]:
    return _padded([p for p, _ in kept], 1) + _padded([n for _, n in kept], 0)


def _grid(programs_per_block, positions: int):
    """1D launch grid: mode blocks times the programs covering one mode block (a function of the tile)."""
    return lambda meta: (triton.cdiv(positions, meta["BLOCK_K"]) * programs_per_block(meta),)


def contract_channels(
    spectrum: torch.Tensor,
    weight: torch.Tensor,
    kept: Sequence[tuple[int, int]],
    out_modes: Sequence[int],
    *,
    adjoint: bool = False,
) -> torch.Tensor:
    """Contract channels mode by mode, reading and writing spectrum layouts.

    Args:
        spectrum: complex64 ``(B, C, *modes)``, any strides: ``x`` (``C = in``) or, for the
            adjoint, the output gradient ``g`` (``C = out``).
        weight: real ``(*weight_modes, in, out, 2)``, float32, bfloat16 or float16, any strides.
        kept: per spatial axis ``(n_pos, n_neg)``: the first ``n_pos`` and last ``n_neg``
            positions of that axis hold the kept modes in ``spectrum``, ``weight`` and the output.
        out_modes: per-axis length of the output layout; non-kept positions are written as zeros.
        adjoint: ``False`` gives ``y[b, o, k] = sum_i x[b, i, k] W[k, i, o]``, ``(B, out, *out_modes)``;
            ``True`` gives ``grad_x[b, i, k] = sum_o g[b, o, k] conj(W[k, i, o])``, ``(B, in, *out_modes)``.

    Returns:
        complex64 tensor, contiguous.
    """
    if weight.stride(-1) != 1:
        weight = weight.contiguous()
    channels_in, channels_out = weight.shape[-3:-1]
    if adjoint:
        channels_in, channels_out = channels_out, channels_in
    batch = spectrum.shape[0]
    out = torch.empty((batch, channels_out, *out_modes), dtype=torch.complex64, device=spectrum.device)
    if out.numel() == 0:
        return out
    x, (x_stride_b, x_stride_c), x_strides = _spectrum_view(spectrum)
    out_real, (out_stride_b, out_stride_c), out_strides = _spectrum_view(out)
    w_stride_in, w_stride_out = weight.stride()[-3:-1]
    if adjoint:
        w_stride_in, w_stride_out = w_stride_out, w_stride_in
    out_lens = _padded(out_modes, 1)
    args = [
        x, weight, out_real, batch, channels_in, channels_out, *out_lens, *_layout_args(kept),
        *_padded(spectrum.shape[2:], 1), *_padded(weight.shape[:-3], 1),
        x_stride_b, x_stride_c, *x_strides,
        *_padded(weight.stride()[:-3], 0), w_stride_in, w_stride_out,
        out_stride_b, out_stride_c, *out_strides,
    ]
    positions = out_lens[0] * out_lens[1] * out_lens[2]
    tiles = lambda meta: triton.cdiv(batch, meta["BLOCK_B"]) * triton.cdiv(channels_out, meta["BLOCK_OUT"])
    if INTERPRETED or not spectrum.is_cuda:
        _contract_channels_kernel[_grid(tiles, positions)(INTERPRETER_TILE)](
            *args, CONJ_WEIGHT=adjoint, **INTERPRETER_TILE
        )
    else:
        _contract_channels_tuned[_grid(tiles, positions)](*args, CONJ_WEIGHT=adjoint)
    return out


def weight_grad(
    spectrum: torch.Tensor,
    grad_out: torch.Tensor,
    weight: torch.Tensor,
    kept: Sequence[tuple[int, int]],
) -> torch.Tensor:
    """``grad_W[k, i, o] = sum_b conj(x[b, i, k]) g[b, o, k]`` in ``weight``'s shape and dtype.

    Args:
        spectrum: complex64 ``x``, ``(B, in, *modes)``, any strides.
        grad_out: complex64 ``g``, ``(B, out, *out_modes)``, any strides.
        weight: the real ``(*weight_modes, in, out, 2)`` weight (only its shape and dtype are used).
        kept: per spatial axis ``(n_pos, n_neg)``, as in :func:`contract_channels`.

    Returns:
        real ``(*weight_modes, in, out, 2)``, contiguous; zero at modes that are not kept.
    """
    batch, channels_in = spectrum.shape[:2]
    channels_out = grad_out.shape[1]
    if batch == 0:
        return torch.zeros(weight.shape, dtype=weight.dtype, device=spectrum.device)
    grad_weight = torch.empty(weight.shape, dtype=weight.dtype, device=spectrum.device)
    x, (x_stride_b, x_stride_c), x_strides = _spectrum_view(spectrum)
    g, (g_stride_b, g_stride_c), g_strides = _spectrum_view(grad_out)
    w_lens = _padded(weight.shape[:-3], 1)
    args = [
        x, g, grad_weight, batch, channels_in, channels_out, *w_lens, *_layout_args(kept),
        *_padded(spectrum.shape[2:], 1), *_padded(grad_out.shape[2:], 1),
        x_stride_b, x_stride_c, *x_strides, g_stride_b, g_stride_c, *g_strides,
        *_padded(grad_weight.stride()[:-3], 0), *grad_weight.stride()[-3:-1],
    ]
    positions = w_lens[0] * w_lens[1] * w_lens[2]
    tiles = lambda meta: triton.cdiv(channels_in, meta["BLOCK_IN"]) * triton.cdiv(channels_out, meta["BLOCK_OUT"])
    if INTERPRETED or not spectrum.is_cuda:
        _weight_grad_kernel[_grid(tiles, positions)(INTERPRETER_TILE)](*args, **INTERPRETER_TILE)
    else:
        _weight_grad_tuned[_grid(tiles, positions)](*args)
    return grad_weight
