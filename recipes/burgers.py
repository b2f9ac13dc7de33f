"""Pretrain ``fno-burgers``: 1D viscous Burgers, u(x, 0) -> u(x, 1), nu = 0.01, periodic on [0, 1).

    python recipes/burgers.py [--resume] [--max-steps N]

Data from zoo's Burgers solver (ETDRK4 pseudo-spectral, validated against Cole-Hopf), solved at 1024
points; training on every 4th point (256), evaluation on held-out trajectories at 256 and zero-shot
at 512 and 1024 (the same trajectories, every 2nd point and all points). Regenerate the data with::

    zoo data generate burgers --viscosity 0.01 --resolution 1024 --steps 100 --record-every 0.01 --samples 1000 --seed 0 data/burgers-nu1e-2/train
    zoo data generate burgers --viscosity 0.01 --resolution 1024 --steps 100 --record-every 0.01 --samples 200 --seed 1 data/burgers-nu1e-2/test
"""

from __future__ import annotations

import torch
from common import ROOT, parse_args, plots_dir, publish, train

from zoo.data import OperatorPairs, load_fields
from zoo.eval import plot_curves
from zoo.models import FieldOperator
from zoo.losses import relative_l2
from zoo.train import TrainConfig

NAME = "fno-burgers"
DATA = ROOT / "data" / "burgers-nu1e-2"
TRAIN_GRID = 256
STEPS = 3000


def pairs(split: str, grid: int) -> OperatorPairs:
    data = load_fields(DATA / split)
    return OperatorPairs(data.subsample(data.spatial_shape[0] // grid), input_times=[0], target_times=[-1], include_static=False)


def stacked(dataset: OperatorPairs) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, targets = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(inputs), torch.stack(targets)


def main() -> None:
    args = parse_args(__doc__)
    train_set = pairs("train", TRAIN_GRID)
    u0, u1 = stacked(train_set)
    model = FieldOperator(
        {"architecture": "FNO", "config": {"in_channels": 1, "out_channels": 1, "modes": [16], "width": 64, "n_layers": 4}},
        input_mean=[round(float(u0.mean()), 6)], input_std=[round(float(u0.std()), 6)],
        output_mean=[round(float(u1.mean()), 6)], output_std=[round(float(u1.std()), 6)],
    )
    config = TrainConfig(max_steps=args.max_steps or STEPS, batch_size=20, lr=1e-3, weight_decay=1e-4, schedule="cosine",
                         warmup_steps=100, grad_clip=1.0, log_every=100, checkpoint_every=500, seed=0)
    compute = train(NAME, model, train_set, config, resume=args.resume)

    resolutions = []
    for grid in (TRAIN_GRID, 2 * TRAIN_GRID, 4 * TRAIN_GRID):
        inputs, truth = stacked(pairs("test", grid))
        with torch.no_grad():
            prediction = model(inputs)
        error = float(relative_l2(prediction, truth))
        resolutions.append({"grid": [grid], "zero_shot": grid != TRAIN_GRID, "samples": len(inputs), "metrics": {"relative_l2": round(error, 5)}})
        x = (torch.arange(grid) / grid).tolist()
        plot_curves({"u(x, 0)": (x, inputs[0, 0].tolist()), "u(x, 1) solver": (x, truth[0, 0].tolist()), "u(x, 1) FNO": (x, prediction[0, 0].tolist())},
                    plots_dir(NAME) / f"prediction_{grid}.png", xlabel="x", ylabel="u",
                    title=f"Burgers, nu = 0.01, {grid} points" + (" (zero-shot)" if grid != TRAIN_GRID else ""))
        print(f"{grid} points: relative L2 {error:.5f}")

    evaluation = {
        "test_data": {"description": "200 held-out trajectories of zoo's Burgers generator (seed 1), solved at 1024 points; "
                                     "256 and 512 points are every 4th / 2nd point",
                      "metric": "relative L2 per sample of u(., 1), averaged (FNO paper)"},
        "resolutions": resolutions,
    }
    metadata = {
        "task": "1D viscous Burgers: u(x, 0) -> u(x, 1)",
        "resolution": [TRAIN_GRID],
        "license": "mit",
        "tags": ["neural-operator", "burgers", "pde", "physics"],
        "datasets": ["zoo burgers-nu1e-2 (generated)"],
        "pde": {"name": "viscous Burgers", "equation": "u_t + (u^2 / 2)_x = nu u_xx on [0, 1), periodic",
                "parameters": {"viscosity": 0.01}},
        "data": {"generator": "zoo data generate burgers --viscosity 0.01 --resolution 1024 (see recipes/burgers.py)",
                 "initial_condition": "periodic Gaussian random field (zoo.data.equations.burgers_recipe defaults)",
                 "solver": "ETDRK4 pseudo-spectral, 2/3 dealiasing", "training_samples": len(train_set), "seed": 0},
        "fields": {"input": "(B, 1, N): u(x, 0) on x_i = i / N", "output": "(B, 1, N): u(x, 1)", "grid": "any N (trained at 256)"},
        "normalisation": "inside the model: mean and std of u(., 0) and u(., 1) over the training set (config)",
        "training": {"recipe": "python recipes/burgers.py", "optimiser": "AdamW lr 1e-3 cosine, batch 20, relative L2 loss",
                     "compute": compute},
        "finetune": "zoo finetune --from fno-burgers --data PATH for other viscosities or final times",
        "limitations": ["One viscosity (0.01) and one final time (t = 1); not an autoregressive stepper.",
                        "Initial conditions from zoo's Gaussian random field law, not PDEBench's sine superpositions: "
                        "PDEBench figures are not directly comparable."],
    }
    publish(NAME, model, metadata=metadata, evaluation=evaluation)
    print(f"published pretrained/{NAME}")


if __name__ == "__main__":
    main()
