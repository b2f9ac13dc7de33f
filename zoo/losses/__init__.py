"""Losses for operator learning: relative Lp/H1 errors and PDE residuals (PINO), used by training and evaluation."""

from zoo.losses.physics import BurgersPhysics, DarcyPhysics, NavierStokesPhysics, burgers_residual, darcy_residual, navier_stokes_residual
from zoo.losses.space_time import KolmogorovPhysics, kolmogorov_residual, staggered_time_stencils
from zoo.losses.relative import LOSSES, LossFn, make_loss, relative_h1, relative_l2, relative_lp

__all__ = ["LOSSES", "BurgersPhysics", "DarcyPhysics", "KolmogorovPhysics", "LossFn", "NavierStokesPhysics", "burgers_residual", "darcy_residual", "kolmogorov_residual",
           "make_loss", "navier_stokes_residual", "relative_h1", "relative_l2", "relative_lp", "staggered_time_stencils"]
