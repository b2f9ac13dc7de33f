"""Pretrain the 2D Navier-Stokes operators (nu = 1e-3) on the FNO paper's protocol.

    python recipes/ns2d.py fno  [--resume]   # trains runs/fno-ns2d-nu1e-3
    python recipes/ns2d.py afno [--resume]   # trains runs/afno-ns2d-nu1e-3
    python recipes/ns2d.py unet [--resume]   # the convolutional baseline
    python recipes/ns2d.py afno-p1 [--resume]  # a larger AFNO backbone, for a GPU
    python recipes/ns2d.py transformer-fno [--resume]  # the AFNO's backbone with the FNO mixer
    python recipes/evaluate_ns2d.py          # evaluates all three, publishes the FNO and AFNO

Protocol (Li et al. 2021): vorticity at t = 1..10 in, t = 11..50 predicted autoregressively, 64x64,
relative L2 of the whole predicted trajectory per sample, averaged over test samples. Training is
on every 10-frame window of t = 1..50, on the 32x32 subsampled grid (the operator is resolution
invariant, and a step there costs a quarter) and on 64x64, in the ``STAGES`` below: each stage
starts from the weights the previous one ended with, and a stage with ``unroll > 1`` trains on a
free multi-step rollout, so the model learns from its own errors. The stages were added session by
session as compute allowed (``--resume`` skips the finished ones); all three models get the same
data, stages and batch size. The total is far below the FNO paper's 500 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

from common import ROOT, parse_args, train  # noqa: E402  (run as a script from recipes/)

from zoo.data import TimeWindows, load_fields
from zoo.models import AutoregressiveOperator
from zoo.train.objectives import Autoregressive
from zoo.train import TrainConfig

DATA = ROOT / "data" / "ns2d-nu1e-3"
HISTORY = 10
FIRST_FRAME = 1  # the paper's data starts at t = 1; t = 0 (the random initial field) is not used
TRAIN_SAMPLES = 500  # compute-limited: see the model card
BATCH_SIZE = 20

def transformer(patch: int, embed_dim: int, depth: int, mixer: str, **mixer_kwargs) -> dict:
    """A ``FourierTransformer`` backbone (MLP ratio 2) for the recipe's 10-frame input."""
    return {
        "architecture": "FourierTransformer",
        "config": {
            "in_channels": HISTORY, "out_channels": 1, "patch_size": [patch, patch], "embed_dim": embed_dim, "depth": depth,
            "mixer": mixer, "mixer_kwargs": mixer_kwargs, "mlp_ratio": 2.0,
        },
    }


AFNO_MIXING = {"modes": [12, 12], "norm": "forward", "bias": False}
BACKBONES = {
    # The FNO paper's FNO-2D: modes 12, width 20, 4 layers (465k complex / 926k real parameters).
    "fno": {"architecture": "FNO", "config": {"in_channels": HISTORY, "out_channels": 1, "modes": [12, 12], "width": 20, "n_layers": 4}},
    "afno": transformer(2, 64, 4, "afno", num_blocks=4, **AFNO_MIXING),
    # A larger AFNO for a GPU (session 3): the one above has 87k parameters, the FNO 926k. It embeds
    # every grid point (patch 1), so that, like the FNO, it sees the same physical neighbourhood on
    # any grid. Trained only partly so far (BENCHMARKS.md); not published.
    "afno-p1": transformer(1, 128, 8, "afno", num_blocks=8, **AFNO_MIXING),
    # The same transformer backbone as "afno" with the FNO mixer (session 3): weights per Fourier mode
    # (grouped 4-way, 1.1M parameters) where AFNO shares one block MLP across all modes.
    "transformer-fno": transformer(2, 64, 4, "fno", modes=[8, 8], groups=4),
    "unet": {"architecture": "UNet2d", "config": {"in_channels": HISTORY, "out_channels": 1, "width": 16, "depth": 3}},
}
NAMES = {kind: f"{kind}-ns2d-nu1e-3" for kind in BACKBONES}

@dataclass(frozen=True)
class Stage:
    name: str
    steps: int
    subsample: int  # 2: the 32x32 grid, 1: 64x64
    unroll: int
    lr: float
    warmup_steps: int

    def describe(self) -> str:
        grid = 64 // self.subsample
        rollout = "one-step (teacher-forced)" if self.unroll == 1 else f"{self.unroll}-step free-rollout"
        return f"{self.name}: {self.steps} {rollout} steps on {grid}x{grid}, lr {self.lr:g}"


STAGES = (
    Stage("coarse", 2000, subsample=2, unroll=1, lr=1e-3, warmup_steps=200),  # session 1
    Stage("fine", 100, subsample=1, unroll=1, lr=3e-4, warmup_steps=50),  # session 1
    Stage("coarse-2", 20000, subsample=2, unroll=1, lr=1e-3, warmup_steps=200),  # session 2
    Stage("fine-2", 500, subsample=1, unroll=2, lr=3e-4, warmup_steps=50),  # session 2
)


def training_data(subsample: int, horizon: int) -> TimeWindows:
    data = load_fields(DATA / "train", samples=(0, TRAIN_SAMPLES)).select(times=slice(FIRST_FRAME, None))
    return TimeWindows(data.subsample(subsample), history=HISTORY, horizon=horizon)


def make_model(kind: str) -> AutoregressiveOperator:
    data = load_fields(DATA / "train", samples=(0, TRAIN_SAMPLES)).trajectories[:, FIRST_FRAME:]
    return AutoregressiveOperator(
        BACKBONES[kind], history=HISTORY, channels=1,
        field_mean=[round(float(data.mean()), 6)], field_std=[round(float(data.std()), 6)], residual=True,
    )


def main() -> None:
    args = parse_args(__doc__, kinds=list(BACKBONES), max_steps=False)  # the steps are STAGES'
    name = NAMES[args.kind]
    model = make_model(args.kind)
    common = {"batch_size": BATCH_SIZE, "weight_decay": 1e-4, "schedule": "cosine", "min_lr_factor": 0.05,
              "grad_clip": 1.0, "log_every": 50, "checkpoint_every": 250, "seed": 0}
    # No evaluation during training: the test set is evaluated once, by recipes/evaluate_ns2d.py.
    objective = Autoregressive(HISTORY, teacher_forcing=False)
    for stage in STAGES:
        config = TrainConfig(max_steps=stage.steps, warmup_steps=stage.warmup_steps, **{**common, "lr": stage.lr})
        train(f"{name}/{stage.name}", model, training_data(stage.subsample, stage.unroll), config,
              resume=args.resume, objective=objective)


if __name__ == "__main__":
    main()
