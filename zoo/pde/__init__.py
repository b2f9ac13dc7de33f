"""PDE solvers, random fields and spectral calculus (no neural networks here)."""

from zoo.pde.boussinesq import boussinesq_2d
from zoo.pde.burgers import burgers_1d
from zoo.pde.burgers_2d import burgers_2d
from zoo.pde.darcy import darcy_2d, threshold_coefficient
from zoo.pde.navier_stokes import navier_stokes_2d, passive_scalar_2d, periodic_grid
from zoo.pde.random_fields import cosine_random_field, gaussian_random_field
from zoo.pde.reaction_diffusion import gray_scott_2d
from zoo.pde.shallow_water import shallow_water_2d
from zoo.pde.spectral import gradient, laplacian, spectral_derivative, wavenumbers
from zoo.pde.wave import wave_2d

__all__ = [
    "boussinesq_2d",
    "burgers_1d",
    "burgers_2d",
    "darcy_2d",
    "cosine_random_field",
    "gaussian_random_field",
    "gray_scott_2d",
    "gradient",
    "laplacian",
    "navier_stokes_2d",
    "passive_scalar_2d",
    "periodic_grid",
    "shallow_water_2d",
    "spectral_derivative",
    "threshold_coefficient",
    "wave_2d",
    "wavenumbers",
]
