"""Real FFTs over chosen axes that keep only the lowest frequencies of each axis.

The Fourier mixers hold their grids channels last, ``(B, *spatial, C)``, so they transform axes
``1..ndim`` rather than the trailing axes. The transforms follow the same two rules as
:class:`zoo.layers.SpectralConv`:

* forward: ``rfft`` on the last spatial axis, keep only the kept columns, then ``fft`` on each
  other axis and keep its kept rows (exact, and less work when few modes are kept);
* inverse: ``ifft`` on the outer axes, then a one-dimensional ``irfft`` on the last axis. A mixer's
  output spectrum is not Hermitian along the zero-frequency column, and a multi-dimensional C2R
  transform treats such spectra differently on CPU (pocketfft) and GPU (cuFFT), pytorch#154496.

Kept frequencies per axis are given as ``(non-negative, negative)`` counts, see
:func:`zoo.layers.spectral_conv.kept_frequencies`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from zoo.layers.spectral_conv import kept_frequencies

Kept = Sequence[tuple[int, int]]


def kept_per_axis(spatial: Sequence[int], modes: Sequence[int] | None) -> list[tuple[int, int]]:
    """``(non-negative, negative)`` frequencies kept on each axis; ``modes=None`` keeps all."""
    last = len(spatial) - 1
    return [
        kept_frequencies(n, n if modes is None else m, last_axis=axis == last)
        for axis, (n, m) in enumerate(zip(spatial, modes or spatial))
    ]


def truncated_rfftn(x: torch.Tensor, dims: Sequence[int], kept: Kept, *, norm: str) -> torch.Tensor:
    """Real ``x`` -> its kept Fourier coefficients on axes ``dims`` (the last one halved by rfft)."""
    last = dims[-1]
    x_hat = torch.fft.rfft(x, dim=last, norm=norm)
    if kept[-1][0] < x_hat.shape[last]:
        x_hat = x_hat.narrow(last, 0, kept[-1][0])
    for dim, (n_pos, n_neg) in zip(dims[:-1], kept[:-1]):
        x_hat = torch.fft.fft(x_hat, dim=dim, norm=norm)
        n = x_hat.shape[dim]
        if n_pos + n_neg < n:
            x_hat = torch.cat([x_hat.narrow(dim, 0, n_pos), x_hat.narrow(dim, n - n_neg, n_neg)], dim=dim)
    return x_hat


def truncated_irfftn(
    y_hat: torch.Tensor, dims: Sequence[int], kept: Kept, spatial: Sequence[int], *, norm: str
) -> torch.Tensor:
    """Inverse of :func:`truncated_rfftn`: kept coefficients -> real field on the grid ``spatial``.

    Frequencies that were not kept are zero.
    """
    for dim, (n_pos, n_neg), n in zip(dims[:-1], kept[:-1], spatial[:-1]):
        n_zero = n - n_pos - n_neg
        if n_zero > 0:
            shape = list(y_hat.shape)
            shape[dim] = n_zero
            y_hat = torch.cat(
                [y_hat.narrow(dim, 0, n_pos), y_hat.new_zeros(shape), y_hat.narrow(dim, n_pos, n_neg)],
                dim=dim,
            )
        y_hat = torch.fft.ifft(y_hat, dim=dim, norm=norm)
    return torch.fft.irfft(y_hat, n=spatial[-1], dim=dims[-1], norm=norm)
