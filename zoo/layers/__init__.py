"""Reusable building blocks: the spectral convolution and the Fourier token mixers."""

from zoo.layers.mode_product import mode_product
from zoo.layers.spectral_conv import SpectralConv

__all__ = ["SpectralConv", "mode_product"]
