"""Training and fine-tuning: the trainer, objectives, run configurations, checkpoints, DDP.

Losses and PDE residuals live in :mod:`zoo.losses`; evaluation and plots in :mod:`zoo.eval`.
"""

from zoo.train.config import TrainConfig
from zoo.train.objectives import Autoregressive, PartiallyLabelled, PhysicsInformed, Pushforward, Supervised
from zoo.train.trainer import Trainer, seed_everything

__all__ = ["Autoregressive", "PartiallyLabelled", "PhysicsInformed", "Pushforward", "Supervised", "TrainConfig", "Trainer", "seed_everything"]
