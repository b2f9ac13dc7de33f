"""Training and fine-tuning: the trainer, losses, physics-informed residuals, checkpoints, DDP."""

from zoo.train.losses import relative_h1, relative_l2, relative_lp
from zoo.train.objectives import Autoregressive, PartiallyLabelled, PhysicsInformed, Supervised, unroll
from zoo.train.physics import (
    BurgersPhysics,
    DarcyPhysics,
    NavierStokesPhysics,
    burgers_residual,
    darcy_residual,
    navier_stokes_residual,
)
from zoo.train.trainer import TrainConfig, Trainer, seed_everything

__all__ = [
    "Autoregressive",
    "BurgersPhysics",
    "DarcyPhysics",
    "NavierStokesPhysics",
    "PartiallyLabelled",
    "PhysicsInformed",
    "Supervised",
    "TrainConfig",
    "Trainer",
    "burgers_residual",
    "darcy_residual",
    "navier_stokes_residual",
    "relative_h1",
    "relative_l2",
    "relative_lp",
    "seed_everything",
    "unroll",
]
