"""Reusable building blocks: the spectral convolution (and its domain-parallel form in
:mod:`zoo.layers.domain_parallel`) and the Fourier token mixers."""

from zoo.layers.mixers import AFNOMixer, FNetMixer, FNOMixer, FourierMixer, GlobalFilterMixer, make_mixer
from zoo.layers.mode_product import mode_product
from zoo.layers.spectral_conv import SpectralConv

__all__ = [
    "AFNOMixer",
    "FNOMixer",
    "FNetMixer",
    "FourierMixer",
    "GlobalFilterMixer",
    "SpectralConv",
    "make_mixer",
    "mode_product",
]
