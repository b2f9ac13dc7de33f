"""Global filter mixing (GFNet, Rao et al., NeurIPS 2021), written from the paper.

A learned complex gain per frequency and channel multiplies the grid's spectrum: a global
depthwise convolution. The filter is learned on a base grid ``filter_size``. On another grid it is
resized by linear interpolation as a function of the frequency relative to the grid's sampling
rate, ``f = k / n`` in ``[-1/2, 1/2)`` (periodic) on outer axes and ``[0, 1/2]`` on the rfft axis,
which is what GFNet does when it fine-tunes at a higher resolution. So the layer keeps the shape
of its frequency response relative to the Nyquist frequency, not its response to a fixed physical
wavenumber: unlike :class:`FNOMixer` it is not resolution invariant in the operator sense.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from einops import rearrange
from torch import nn

from zoo.layers.mixers.base import FourierMixer, transform_dtype
from zoo.layers.mixers.spectrum import kept_per_axis
from zoo.layers.pruned_fft import pruned_irfftn, pruned_rfftn


class GlobalFilterMixer(FourierMixer):
    """Learned complex filter per frequency and channel, resized for other grid sizes.

    Args:
        dim: channels ``C``.
        ndim: 1 or 2 spatial axes.
        filter_size: the grid the filter is learned on; defaults to ``grid_size``.
        grid_size, num_prefix_tokens: see :class:`FourierMixer`.

    The weight is ``(*filter_size[:-1], filter_size[-1] // 2 + 1, dim, 2)``, real with a trailing
    ``(re, im)`` axis, in FFT frequency order.

    Shapes: ``(B, *spatial, C)`` grids or ``(B, N, C)`` tokens, output of the same shape.
    """

    def __init__(
        self,
        dim: int,
        ndim: int = 2,
        *,
        filter_size: Sequence[int] | None = None,
        grid_size: Sequence[int] | None = None,
        num_prefix_tokens: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            dim, ndim, grid_size=grid_size, num_prefix_tokens=num_prefix_tokens, device=device, dtype=dtype
        )
        filter_size = filter_size if filter_size is not None else grid_size
        if filter_size is None:
            raise ValueError(
                "GlobalFilterMixer needs filter_size (or grid_size): the grid its filter is learned on"
            )
        if len(filter_size) != ndim or min(filter_size) < 1:
            raise ValueError(f"filter_size {tuple(filter_size)} must hold {ndim} positive entries")
        self.filter_size = tuple(int(n) for n in filter_size)
        shape = (*self.filter_size[:-1], self.filter_size[-1] // 2 + 1)
        self.weight = nn.Parameter(torch.empty(*shape, dim, 2, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # GFNet's initialisation: N(0, 0.02^2) for the real and imaginary parts.
        nn.init.normal_(self.weight, std=0.02)

    def mix_grid(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.shape[1:-1]
        dims = tuple(range(2, self.ndim + 2))
        kept = kept_per_axis(spatial, None)
        # Channels first: the FFTs run over contiguous axes (faster on CPU than channels last).
        fields = rearrange(transform_dtype(x), "b ... c -> b c ...").contiguous()
        x_hat = pruned_rfftn(fields, dims, kept)
        gain = torch.view_as_complex(self.filter_for(spatial).to(x_hat.real.dtype)).movedim(-1, 0)
        y = pruned_irfftn(x_hat * gain, dims, kept, spatial)
        return rearrange(y, "b c ... -> b ... c").to(x.dtype)

    def filter_for(self, spatial: Sequence[int]) -> torch.Tensor:
        """The filter on the grid ``spatial``: ``(*spatial[:-1], spatial[-1] // 2 + 1, dim, 2)``."""
        weight = self.weight
        if tuple(spatial) == self.filter_size:
            return weight
        last = self.ndim - 1
        for axis, (n, n_base) in enumerate(zip(spatial, self.filter_size)):
            matrix = frequency_interpolation(n, n_base, rfft_axis=axis == last).to(weight)
            weight = torch.tensordot(matrix, weight, dims=([1], [axis])).movedim(0, axis)
        return weight

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, filter_size={self.filter_size}"


def frequency_interpolation(n: int, n_base: int, *, rfft_axis: bool) -> torch.Tensor:
    """Linear interpolation from a base axis of ``n_base`` points to one of ``n`` points, in frequency.

    Returns the ``(rows, base_rows)`` matrix taking filter values at the base grid's frequencies
    (FFT order; the ``n_base // 2 + 1`` rfft columns when ``rfft_axis``) to the values at the new
    grid's frequencies, both read as ``f = k / n``. Outer axes are periodic in ``f``; the rfft axis
    is clamped at the base grid's highest column.
    """
    if rfft_axis:
        rows, base_rows = n // 2 + 1, n_base // 2 + 1
        frequencies = torch.arange(rows, dtype=torch.float64)
    else:
        rows, base_rows = n, n_base
        frequencies = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    position = frequencies * (n_base / n)
    if rfft_axis:
        position = position.clamp(max=base_rows - 1)
    lower = position.floor()
    fraction = position - lower
    lower = lower.long()
    upper = (lower + 1).clamp(max=base_rows - 1) if rfft_axis else lower + 1
    matrix = torch.zeros(rows, base_rows, dtype=torch.float64)
    row = torch.arange(rows)
    # Negative positions wrap to the base grid's negative frequencies (FFT order).
    matrix.index_put_((row, lower % base_rows), 1.0 - fraction, accumulate=True)
    matrix.index_put_((row, upper % base_rows), fraction, accumulate=True)
    return matrix
