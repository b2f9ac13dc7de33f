"""The spectral convolution (Li et al., ICLR 2021): a learned product on the lowest Fourier modes.

Every operator and Fourier mixer in `zoo` builds on :class:`SpectralConv`. Three choices matter:

* Transforms use ``norm="forward"``: the forward transform divides by the number of points, so a
  kept coefficient approximates the continuous Fourier coefficient of the sampled function and the
  layer gives the same function at every grid size (resolution invariance by construction).
* Transforms are pruned. The forward pass transforms the last axis with ``rfft``, keeps only the
  kept columns, then transforms each other axis and keeps only its kept rows; the inverse mirrors
  it and ends with a one-dimensional ``irfft``. This is exact, does less work than ``rfftn``, and
  never hands a multi-dimensional C2R transform a spectrum that is not Hermitian on its outer
  axes (cuFFT and pocketfft disagree on such spectra, pytorch#154496). The gradients are pruned
  transforms too, and on CPU an axis with few kept modes is a GEMM with its DFT matrix
  (:mod:`zoo.layers.pruned_fft`).
* Half precision and compilation use a second path, the truncated DFT as real GEMMs
  (:mod:`zoo.layers.truncated_dft`): there is no bf16 FFT, half-precision FFTs need powers of
  two, and ``torch.compile`` generates no code for complex tensors. ``transform="auto"`` takes it
  for bf16/fp16 inputs and while compiling; float32 eager keeps the FFT path. Under autocast the
  layer computes in float32 and returns the autocast dtype (the precision policy,
  :mod:`zoo.layers.precision`: bf16 transforms were the largest source of a rollout's error).
* Weights are real tensors with a trailing ``(re, im)`` axis, laid out mode-major
  ``(*kept_modes, in_channels, out_channels, 2)`` so the contraction is one batched GEMM per mode
  and optimizers, AMP, DDP and checkpoints only ever see real parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from zoo.layers.mode_product import BACKENDS, mode_product, resolve_backend
from zoo.layers.precision import in_float32
from zoo.layers.pruned_fft import pruned_irfftn, pruned_rfftn
from zoo.layers.truncated_dft import dft_preferred, mode_product_pairs, truncated_irdft, truncated_rdft
from zoo.layers.validation import check_field


def kept_frequencies(n: int, modes: int, *, last_axis: bool) -> tuple[int, int]:
    """How many non-negative and negative frequencies of an axis of ``n`` points are kept.

    The last axis is transformed with ``rfft`` and keeps frequencies ``0..modes-1``; other axes keep
    ``0..modes-1`` and ``-modes..-1``. A grid too coarse to hold every kept mode keeps the modes it
    has: at most ``n // 2 + 1`` columns on the last axis, and on other axes ``ceil(n / 2)``
    non-negative and ``floor(n / 2)`` negative frequencies (all ``n``, with the Nyquist frequency
    of an even axis counted as negative).
    """
    if last_axis:
        return min(modes, n // 2 + 1), 0
    return min(modes, (n + 1) // 2), min(modes, n // 2)


TRANSFORMS = ("auto", "fft", "dft")


class SpectralConv(nn.Module):
    """Fourier-domain convolution keeping the lowest ``modes[d]`` frequencies of each axis.

    Args:
        in_channels: channels of the input field.
        out_channels: channels of the output field.
        modes: kept frequencies per spatial axis; ``len(modes)`` (1, 2 or 3) is the dimension.
            All axes but the last keep both signs (``2 * modes[d]`` rows); the last keeps
            ``modes[-1]`` non-negative frequencies.
        backend: ``"auto"`` (the path measured fastest: torch, see ``resolve_backend``), ``"torch"``
            or ``"triton"`` (the fused kernels, opt-in; an error naming the reason when they cannot run).
        transform: ``"auto"``, ``"fft"`` (pruned FFTs, complex arithmetic, float32/float64) or
            ``"dft"`` (truncated DFT as real GEMMs in the input's dtype, float32 accumulation).
            ``"auto"`` picks ``"dft"`` for bf16/fp16 inputs and inside ``torch.compile``,
            ``"fft"`` otherwise (and always with ``backend="triton"``). Under autocast the
            layer runs in float32 (:mod:`zoo.layers.precision`), so ``"auto"`` picks as for float32.

    Shapes:
        input ``(B, in_channels, *spatial)`` with any spatial size, output
        ``(B, out_channels, *spatial)``, in the input's dtype (under autocast, the autocast dtype, as
        a GEMM's output, computed in float32). On the ``"fft"`` path half-precision inputs are
        transformed in float32 (there is no bf16 FFT).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        backend: str = "auto",
        transform: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        modes = tuple(int(m) for m in modes)
        if not 1 <= len(modes) <= 3:
            raise ValueError(f"SpectralConv supports 1, 2 or 3 spatial axes, got modes={modes}")
        if any(m < 1 for m in modes):
            raise ValueError(f"every entry of modes must be >= 1, got modes={modes}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
        if transform not in TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r}; choose one of {TRANSFORMS}")
        if transform == "dft" and backend == "triton":
            raise ValueError("transform='dft' computes its mode product with torch; use backend='auto' or 'torch'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = modes
        self.backend = backend
        self.transform_kind = transform
        kept = tuple(2 * m for m in modes[:-1]) + (modes[-1],)
        self.weight = nn.Parameter(
            torch.empty(*kept, in_channels, out_channels, 2, device=device, dtype=dtype)
        )
        self.reset_parameters()

    @property
    def ndim(self) -> int:
        return len(self.modes)

    def reset_parameters(self) -> None:
        # Complex normal with variance 1/in_channels per mode: a field whose energy lies in the kept
        # modes keeps its variance through the layer at initialisation.
        nn.init.normal_(self.weight, std=1.0 / math.sqrt(2 * self.in_channels))

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, modes={self.modes}, backend={self.backend!r}, "
            f"transform={self.transform_kind!r}"
        )

    def forward(self, x: torch.Tensor, *, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, in, *spatial) -> (B, out, *spatial)``.

        ``bias`` ``(out,)``, when given, is added to every point of the output at no cost: a constant
        field is its zero-frequency coefficient alone, so it is added to that one mode (an FNO
        block moves its pointwise path's bias here).
        """
        check_field(x, self.in_channels, self.ndim, name="SpectralConv input")
        if torch.is_autocast_enabled(x.device.type) and x.dtype != torch.float64:  # autocast leaves float64 alone
            out = in_float32(self.forward, x, bias=bias)
            return out.to(torch.get_autocast_dtype(x.device.type))
        spatial = x.shape[2:]
        if self.resolve_transform(x) == "dft":
            kept = self.kept_per_axis(spatial)
            y_hat = mode_product_pairs(truncated_rdft(x, kept), self.weight_for(spatial))
            out = truncated_irdft(y_hat, kept, spatial)
            if bias is not None:
                out = out + bias.to(out.dtype).view(-1, *([1] * self.ndim))
            return out
        field = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        if self.ndim > 1 and resolve_backend(field, self.backend) == "triton":
            # The Triton kernel reads the kept rows of the last-transformed outer axis straight from
            # the FFT output and writes the first outer axis at full length, zero rows included, so
            # neither the gather nor the zero-padding copy remains between the transforms.
            kept = self.kept_per_axis(spatial)
            x_hat = self.transform(field, full_axes=(self.ndim - 2,))
            out_modes = [spatial[0], *(n_pos + n_neg for n_pos, n_neg in kept[1:])]
            y_hat = mode_product(x_hat, self.weight, kept=kept, out_modes=out_modes, backend=self.backend)
        else:
            y_hat = mode_product(self.transform(field), self.weight_for(spatial), backend=self.backend)
        if bias is not None:
            y_hat = y_hat.clone()  # the mode product's output may be a view it owns
            y_hat[(slice(None), slice(None), *([0] * self.ndim))] += bias
        return self.inverse_transform(y_hat, spatial).to(x.dtype)

    def resolve_transform(self, x: torch.Tensor) -> str:
        """``"fft"`` or ``"dft"``: what ``transform`` selects for the input ``x`` here."""
        if self.transform_kind != "auto":
            return self.transform_kind
        if self.backend == "triton":
            return "fft"
        if torch.is_autocast_enabled(x.device.type):  # forward then runs in float32
            return "dft" if torch.compiler.is_compiling() else "fft"
        return "dft" if dft_preferred(x) else "fft"

    def kept_per_axis(self, spatial: Sequence[int]) -> list[tuple[int, int]]:
        """``(non-negative, negative)`` frequency counts kept on each axis of this grid."""
        last = self.ndim - 1
        return [
            kept_frequencies(n, m, last_axis=axis == last)
            for axis, (n, m) in enumerate(zip(spatial, self.modes))
        ]

    def transform(self, x: torch.Tensor, *, full_axes: Sequence[int] = ()) -> torch.Tensor:
        """Pruned forward transform: ``(B, C, *spatial)`` real -> ``(B, C, *kept)`` complex.

        Outer axes listed in ``full_axes`` keep all their frequencies (for the Triton kernel,
        which picks the kept rows itself).
        """
        spatial = x.shape[2:]
        kept = [
            (spatial[axis], 0) if axis in full_axes else pair
            for axis, pair in enumerate(self.kept_per_axis(spatial))
        ]
        return pruned_rfftn(x, self.spatial_dims, kept)

    def inverse_transform(self, y_hat: torch.Tensor, spatial: Sequence[int]) -> torch.Tensor:
        """Pruned inverse transform: ``(B, C, *kept)`` complex -> ``(B, C, *spatial)`` real.

        An outer axis of ``y_hat`` may already have its full length ``spatial[axis]``, zero rows
        included (as the Triton kernel writes it); it is then transformed as it is.
        """
        kept = [
            (spatial[axis], 0) if axis < self.ndim - 1 and y_hat.shape[2 + axis] == spatial[axis] else pair
            for axis, pair in enumerate(self.kept_per_axis(spatial))
        ]
        return pruned_irfftn(y_hat, self.spatial_dims, kept, spatial)

    @property
    def spatial_dims(self) -> tuple[int, ...]:
        """The axes of ``(B, C, *spatial)`` that the transforms act on."""
        return tuple(range(2, 2 + self.ndim))

    def weight_for(self, spatial: Sequence[int]) -> torch.Tensor:
        """The weights of the modes this grid holds, ``(*kept, in, out, 2)`` (a view when all fit)."""
        weight = self.weight
        for axis, (n_pos, n_neg) in enumerate(self.kept_per_axis(spatial)):
            full = weight.shape[axis]
            if axis == self.ndim - 1:
                if n_pos < full:
                    weight = weight.narrow(axis, 0, n_pos)
            elif n_pos + n_neg < full:
                weight = torch.cat(
                    [weight.narrow(axis, 0, n_pos), weight.narrow(axis, full - n_neg, n_neg)],
                    dim=axis,
                )
        return weight
