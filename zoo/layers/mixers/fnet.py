"""FNet mixing (Lee-Thorp et al., NAACL 2022): the real part of a DFT, no parameters."""

from __future__ import annotations

import torch

from zoo.layers.mixers.base import FourierMixer, transform_dtype


class FNetMixer(FourierMixer):
    """``y = Re(DFT(x))`` over the spatial axes and the channel axis, as in FNet.

    FNet applies an unnormalised DFT inside post-norm blocks, where the output's scale does not
    matter. Here the DFT is unitary (``norm="ortho"``) so that, for tokens with independent
    entries, the output keeps about half the input's variance whatever the grid size, which suits
    the pre-norm residual blocks of timm and of :class:`~zoo.models.FourierTransformer`. The
    mixing is fixed, defined on whatever grid it is given; it is neither resolution invariant nor
    shift equivariant (taking the real part discards the phase a shift puts on the spectrum).

    Args:
        dim, ndim, grid_size, num_prefix_tokens: see :class:`FourierMixer` (prefix tokens are the
            only source of parameters).

    Shapes: ``(B, *spatial, C)`` grids or ``(B, N, C)`` tokens, output of the same shape.
    """

    def mix_grid(self, x: torch.Tensor) -> torch.Tensor:
        # The channel transform first, then the spatial ones: one three-axis fftn is the same DFT
        # but runs about 30x slower on CPU with two threads (torch 2.14).
        spectrum = torch.fft.fft(transform_dtype(x), dim=-1, norm="ortho")
        spectrum = torch.fft.fftn(spectrum, dim=tuple(range(1, self.ndim + 1)), norm="ortho")
        return spectrum.real.to(x.dtype)
