"""PDE solvers, random fields and spectral calculus (no neural networks here)."""

from zoo.pde.spectral import gradient, laplacian, spectral_derivative, wavenumbers

__all__ = ["gradient", "laplacian", "spectral_derivative", "wavenumbers"]
