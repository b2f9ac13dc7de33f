"""Reusable building blocks: the spectral convolution and the Fourier token mixers."""

from zoo.layers.mixers import AFNOMixer, FNetMixer, FNOMixer, FourierMixer, GlobalFilterMixer, make_mixer
from zoo.layers.mode_product import mode_product
from zoo.layers.normalization import ChannelNormalizer
from zoo.layers.spectral_conv import SpectralConv

__all__ = [
    "AFNOMixer",
    "ChannelNormalizer",
    "FNOMixer",
    "FNetMixer",
    "FourierMixer",
    "GlobalFilterMixer",
    "SpectralConv",
    "make_mixer",
    "mode_product",
]
