"""Pretrain ``fno-darcy``: Darcy flow, coefficient -> pressure, on neuraloperator's 16x16 set.

    python recipes/darcy.py [--resume] [--max-steps N]

Trains on the 1000 samples of ``darcy_train_16.pt`` (bundled), evaluates on its 50 test samples and
zero-shot on 32x32 and 64x64 sets from zoo's Darcy solver in the same convention (``a`` is the
indicator of the high-permeability phase; the solver's coefficient is 1 there and 0.1 elsewhere,
with f = 4, which reproduces the file's pressure statistics). Regenerate those sets with::

    zoo data generate darcy --resolution 32 --solve-factor 4 --high 1 --low 0.1 --forcing 4 --samples 100 --seed 3 data/darcy-neuralop/test-32
    zoo data generate darcy --resolution 64 --solve-factor 2 --high 1 --low 0.1 --forcing 4 --samples 100 --seed 4 data/darcy-neuralop/test-64
"""

from __future__ import annotations

from dataclasses import replace
from importlib.resources import files

import torch
from common import ROOT, parse_args, plots_dir, publish, train

from zoo.data import OperatorPairs, load_fields
from zoo.eval import plot_fields
from zoo.models import FieldOperator
from zoo.losses import relative_l2
from zoo.train import TrainConfig

NAME = "fno-darcy"
BUNDLED = files("zoo.data") / "bundled"
ZERO_SHOT = {32: ROOT / "data" / "darcy-neuralop" / "test-32", 64: ROOT / "data" / "darcy-neuralop" / "test-64"}
STEPS = 8000


def pairs(path) -> OperatorPairs:
    data = load_fields(path)
    data = replace(data, static=(data.static > 0.5).float())  # the solver's coefficient (1 or 0.1) as neuraloperator's indicator
    return OperatorPairs(data, input_times=[], target_times=[-1], include_static=True)


def stacked(dataset: OperatorPairs) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, targets = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(inputs), torch.stack(targets)


def main() -> None:
    args = parse_args(__doc__)
    train_set = pairs(BUNDLED / "darcy_train_16.pt")
    a, u = stacked(train_set)
    model = FieldOperator(
        {"architecture": "FNO", "config": {"in_channels": 1, "out_channels": 1, "modes": [8, 9], "width": 32, "n_layers": 4,
                                            "domain_padding": 0.25}},
        input_mean=[round(float(a.mean()), 6)], input_std=[round(float(a.std()), 6)],
        output_mean=[round(float(u.mean()), 6)], output_std=[round(float(u.std()), 6)],
    )
    test_sets = {16: pairs(BUNDLED / "darcy_test_16.pt")} | {n: pairs(path) for n, path in ZERO_SHOT.items()}
    config = TrainConfig(max_steps=args.max_steps or STEPS, batch_size=32, lr=2e-3, weight_decay=1e-4, schedule="cosine",
                         warmup_steps=200, grad_clip=1.0, log_every=100, eval_every=1000, checkpoint_every=500, seed=0)
    compute = train(NAME, model, train_set, config, resume=args.resume, eval_data=test_sets[16])

    resolutions = []
    for n, dataset in test_sets.items():
        inputs, truth = stacked(dataset)
        with torch.no_grad():
            prediction = model(inputs)
        error = float(relative_l2(prediction, truth))
        resolutions.append({"grid": [n, n], "zero_shot": n != 16, "samples": len(dataset), "metrics": {"relative_l2": round(error, 5)}})
        plot_fields({"coefficient": inputs[0, 0] - 0.5, "truth": truth[0, 0], "prediction": prediction[0, 0], "error": prediction[0, 0] - truth[0, 0]},
                    plots_dir(NAME) / f"pressure_{n}.png", title=f"Darcy pressure at {n}x{n}" + (" (zero-shot)" if n != 16 else ""))
        print(f"{n}x{n}: relative L2 {error:.4f}")

    evaluation = {
        "test_data": {"description": "16x16: neuraloperator's darcy_test_16.pt (50 samples); 32x32 and 64x64: zoo's Darcy solver "
                                     "(seeds 3, 4) in the same convention, solved on 125 / 127 nodes and subsampled",
                      "metric": "relative L2 per sample, averaged (FNO paper)"},
        "resolutions": resolutions,
        "baselines": [{"name": "neuraloperator TFNO example (20 epochs, 523,257 parameters), as published",
                       "resolutions": [{"grid": [16, 16], "zero_shot": False, "metrics": {"relative_l2": 0.10}},
                                       {"grid": [32, 32], "zero_shot": True, "metrics": {"relative_l2": 0.14}}]}],
    }
    metadata = {
        "task": "2D Darcy flow: permeability indicator a(x) -> pressure u(x)",
        "resolution": [16, 16],
        "license": "mit",
        "tags": ["neural-operator", "darcy-flow", "pde", "physics", "porous-media"],
        "datasets": ["neuraloperator 0.3.0 darcy_train_16.pt (MIT), bundled in zoo.data"],
        "pde": {"name": "Darcy flow", "equation": "-div(k(x) grad u) = f on (0, 1)^2, u = 0 on the boundary",
                "parameters": {"k": "1 where a = 1, 0.1 where a = 0 (zoo's reproduction of the file's convention)", "f": 4}},
        "data": {"training": "1000 samples of neuraloperator's darcy_train_16.pt", "resolution": [16, 16],
                 "zero_shot_generator": "zoo data generate darcy (see recipes/darcy.py)"},
        "fields": {"input": "(B, 1, H, W): a in {0, 1} (neuraloperator's boolean x as float)",
                   "output": "(B, 1, H, W): pressure u", "grid": "nodes x_i = i / (n - 1) including the boundary"},
        "normalisation": "inside the model: per-channel mean and std of input and output from the training set (config)",
        "training": {"recipe": "python recipes/darcy.py", "optimiser": "AdamW lr 2e-3 cosine, batch 32, relative L2 loss",
                     "compute": compute},
        "finetune": "zoo finetune --from fno-darcy --data PATH; other coefficient laws or forcings need fine-tuning",
        "limitations": ["Misses the goal of half neuraloperator's example error: the 16x16 test error stays at 0.107 from "
                        "step 1000 on while the training error falls from 0.04 to 0.006, and smaller or more strongly "
                        "regularised models (modes 4x5; weight decay 0.1) plateau at 0.11-0.12. The file's pressure was "
                        "solved on a finer grid than its 16x16 coefficient shows, so the input does not determine the "
                        "output; no zoo solver setting reproduces the file's pressure from its coefficient to better "
                        "than about 21%.",
                        "Zero-shot grids use zoo's solver in the closest convention found (coefficient 1 / 0.1, f = 4), "
                        "so their error mixes model error with that convention mismatch.",
                        "Trained only at 16x16 on two-phase coefficients.",
                        "Forcing, contrast and boundary conditions are fixed to the training data's."],
    }
    publish(NAME, model, metadata=metadata, evaluation=evaluation)
    print(f"published pretrained/{NAME}")


if __name__ == "__main__":
    main()
