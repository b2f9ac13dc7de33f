"""Which Fourier modes a mixer keeps on a grid, in the form :mod:`zoo.layers.pruned_fft` takes."""

from __future__ import annotations

from collections.abc import Sequence

from zoo.layers.spectral_conv import kept_frequencies


def kept_per_axis(spatial: Sequence[int], modes: Sequence[int] | None) -> list[tuple[int, int]]:
    """``(non-negative, negative)`` frequencies kept on each axis; ``modes=None`` keeps all.

    The last axis is the rfft axis (non-negative frequencies only); see
    :func:`zoo.layers.spectral_conv.kept_frequencies` for grids too coarse to hold ``modes``.
    """
    last = len(spatial) - 1
    return [
        kept_frequencies(n, n if modes is None else m, last_axis=axis == last)
        for axis, (n, m) in enumerate(zip(spatial, modes or spatial))
    ]
