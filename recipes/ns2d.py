"""Pretrain the 2D Navier-Stokes operators (nu = 1e-3) on the FNO paper's protocol.

    python recipes/ns2d.py fno  [--resume] [--max-steps N]   # -> pretrained/fno-ns2d-nu1e-3
    python recipes/ns2d.py afno                              # -> pretrained/afno-ns2d-nu1e-3
    python recipes/ns2d.py unet                              # the convolutional baseline (runs/ only)

Protocol (Li et al. 2021): vorticity at t = 1..10 in, t = 11..50 predicted autoregressively, 64x64,
relative L2 of the whole predicted trajectory per sample, averaged over test samples. Training is
one-step on every 10-frame window of t = 1..50, first on the 32x32 subsampled grid (the operator
is resolution invariant, and a step there costs a quarter), then on 64x64; ``UNROLL > 1`` makes the
second stage a free multi-step unroll, so the model learns from its own errors (costlier per step).
All three models get the same data, steps and batch size. The step counts fit the compute of one
session on a shared 2-core CPU; they are far below the FNO paper's 500 epochs.
"""

from __future__ import annotations

from common import ROOT, parse_args, train  # noqa: E402  (run as a script from recipes/)

from zoo.data import TimeWindows, load_fields
from zoo.models import AutoregressiveOperator
from zoo.train.objectives import Autoregressive
from zoo.train.trainer import TrainConfig

DATA = ROOT / "data" / "ns2d-nu1e-3"
HISTORY = 10
FIRST_FRAME = 1  # the paper's data starts at t = 1; t = 0 (the random initial field) is not used
TRAIN_SAMPLES = 500  # compute-limited: see the model card

BACKBONES = {
    # The FNO paper's FNO-2D: modes 12, width 20, 4 layers (465k complex / 926k real parameters).
    "fno": {"architecture": "FNO", "config": {"in_channels": HISTORY, "out_channels": 1, "modes": [12, 12], "width": 20, "n_layers": 4}},
    "afno": {
        "architecture": "FourierTransformer",
        "config": {
            "in_channels": HISTORY, "out_channels": 1, "patch_size": [2, 2], "embed_dim": 64, "depth": 4,
            "mixer": "afno", "mixer_kwargs": {"num_blocks": 4, "modes": [12, 12], "norm": "forward", "bias": False},
            "mlp_ratio": 2.0,
        },
    },
    "unet": {"architecture": "UNet2d", "config": {"in_channels": HISTORY, "out_channels": 1, "width": 16, "depth": 3}},
}
NAMES = {"fno": "fno-ns2d-nu1e-3", "afno": "afno-ns2d-nu1e-3", "unet": "unet-ns2d-nu1e-3"}
COARSE_STEPS, FINE_STEPS, UNROLL = 2000, 100, 1


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
    args = parse_args(__doc__, kinds=list(BACKBONES))
    name = NAMES[args.kind]
    model = make_model(args.kind)
    common = {"batch_size": 20, "lr": 1e-3, "weight_decay": 1e-4, "schedule": "cosine", "min_lr_factor": 0.05,
              "grad_clip": 1.0, "log_every": 50, "checkpoint_every": 250, "seed": 0}
    # No evaluation during training: the test set is evaluated once, by recipes/evaluate_ns2d.py.
    objective = Autoregressive(HISTORY, teacher_forcing=False)
    train(f"{name}/coarse", model, training_data(2, 1),
          TrainConfig(max_steps=args.max_steps or COARSE_STEPS, warmup_steps=200, **common),
          resume=args.resume, objective=objective)
    train(f"{name}/fine", model, training_data(1, UNROLL),
          TrainConfig(max_steps=FINE_STEPS, warmup_steps=50, **{**common, "lr": 3e-4}),
          resume=args.resume, objective=objective)


if __name__ == "__main__":
    main()
