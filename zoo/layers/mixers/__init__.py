"""Fourier token mixers: drop-in replacements for self-attention on token grids.

Every mixer shares the call signature of attention, ``mixer(x, attn_mask=None, is_causal=False)``,
and accepts tokens ``(B, N, C)`` or grids ``(B, *spatial, C)`` (see :class:`FourierMixer`).
:func:`make_mixer` builds one by name, so model configs stay plain JSON.
"""

from __future__ import annotations

from typing import Any

from zoo.layers.mixers.afno import AFNOMixer
from zoo.layers.mixers.base import FourierMixer
from zoo.layers.mixers.fnet import FNetMixer
from zoo.layers.mixers.fno import FNOMixer
from zoo.layers.mixers.global_filter import GlobalFilterMixer

MIXERS: dict[str, type[FourierMixer]] = {
    "fno": FNOMixer,
    "afno": AFNOMixer,
    "global_filter": GlobalFilterMixer,
    "fnet": FNetMixer,
}


def make_mixer(name: str, dim: int, **kwargs: Any) -> FourierMixer:
    """The mixer called ``name`` (one of :data:`MIXERS`) on ``dim`` channels, built with ``kwargs``."""
    try:
        cls = MIXERS[name]
    except KeyError:
        raise ValueError(f"unknown mixer {name!r}; choose one of {sorted(MIXERS)}") from None
    return cls(dim, **kwargs)


__all__ = ["MIXERS", "AFNOMixer", "FNOMixer", "FNetMixer", "FourierMixer", "GlobalFilterMixer", "make_mixer"]
