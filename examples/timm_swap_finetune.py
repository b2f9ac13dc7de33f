"""A timm ViT with its attention swapped for Fourier mixers, trained against the original ViT.

The question (issue #20): on a small physics task, does a timm ViT whose attention
``zoo.timm.create_model(..., mixer=...)`` replaced train as well as the attention model, for the
same number of steps, and at what cost per step?

Task. Read the smoothness of a random field: the input is a periodic Gaussian random field on a
64x64 grid (``zoo.pde.gaussian_random_field``, covariance ``(-Laplacian + 49 I)^(-alpha)``, the
FNO paper's law), scaled to unit standard deviation so that only the shape of its spectrum tells
``alpha``; the target is ``alpha``, uniform in [2, 4]. Each sample's field and ``alpha`` come from
its own generator, seeded by ``zoo.data.generate.sample_seed`` from one root seed per split
(train ``seed + 1``, test ``seed + 2``: disjoint streams). Metric: root-mean-square error of
``alpha`` on the test set (predicting the mean gives ``2 / sqrt(12) = 0.577``).

Models. ``vit_tiny_patch16_224`` from timm with patch 8 (an 8x8 token grid), width 96, 3 heads,
depth 4, one input channel, one output, average pooling, no class token; then the same model with
FNO and with AFNO mixing (``zoo.timm.create_model``, the mixers' defaults from the attention they
replace). Every model starts from the same initial weights for every part it shares with the
others (one seed builds the attention model; the swapped ones copy its non-attention weights).
Budget: the same steps for all (AdamW, lr 1e-3, weight decay 0.05 through timm's optimizer factory,
so biases and AFNO's frequency biases are exempt, cosine schedule, batch 32, MSE on ``alpha``);
per-step wall time is reported beside the errors. ``--seeds`` repeats the whole run.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass

import timm.optim
import timm.scheduler
import torch
from tqdm import tqdm

import zoo
from common import parse_args, write_results
from zoo.data.generate import sample_seed
from zoo.eval import plot_curves
from zoo.pde.random_fields import gaussian_random_field

MODELS = {"attention": None, "fno": "fno", "afno": "afno"}


@dataclass(frozen=True)
class Sizes:
    resolution: int
    patch: int
    width: int
    depth: int
    train_samples: int
    test_samples: int
    steps: int
    batch: int


FULL = Sizes(resolution=64, patch=8, width=96, depth=4, train_samples=2048, test_samples=512, steps=600, batch=32)
QUICK = Sizes(resolution=32, patch=8, width=48, depth=2, train_samples=96, test_samples=32, steps=12, batch=16)
ALPHA_RANGE = (2.0, 4.0)


def smoothness_data(samples: int, resolution: int, root_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fields ``(samples, 1, n, n)`` at unit std and their ``alpha`` ``(samples,)``, one generator each."""
    fields, alphas = [], []
    for index in range(samples):
        generator = torch.Generator().manual_seed(sample_seed(root_seed, index))
        alpha = ALPHA_RANGE[0] + (ALPHA_RANGE[1] - ALPHA_RANGE[0]) * torch.rand((), generator=generator).item()
        field = gaussian_random_field(1, resolution, alpha=alpha, tau=7.0, generator=generator)
        fields.append(field / field.std())
        alphas.append(alpha)
    return torch.stack(fields), torch.tensor(alphas)


def build_models(sizes: Sizes, seed: int) -> dict[str, torch.nn.Module]:
    """The attention ViT and its swaps, sharing every non-attention initial weight."""
    options = dict(
        img_size=sizes.resolution, patch_size=sizes.patch, embed_dim=sizes.width, depth=sizes.depth, num_heads=3,
        in_chans=1, num_classes=1, class_token=False, global_pool="avg",
    )
    torch.manual_seed(seed)
    reference = zoo.timm.create_model("vit_tiny_patch16_224", **options)
    models = {"attention": reference}
    for name, mixer in MODELS.items():
        if mixer is None:
            continue
        torch.manual_seed(seed)
        model = zoo.timm.create_model("vit_tiny_patch16_224", mixer=mixer, **options)
        shared = {k: v for k, v in reference.state_dict().items() if k in model.state_dict()
                  and not k.startswith(tuple(model.attention_swap.replaced))}
        model.load_state_dict({**model.state_dict(), **shared})
        models[name] = model
    return models


def train(model, x, y, sizes: Sizes, seed: int, label: str = "") -> dict[str, object]:
    """Trains ``model`` for ``sizes.steps``; returns its loss curve and seconds per step."""
    optimizer = timm.optim.create_optimizer_v2(model, "adamw", lr=1e-3, weight_decay=0.05)
    schedule = timm.scheduler.CosineLRScheduler(optimizer, t_initial=sizes.steps)
    generator = torch.Generator().manual_seed(seed)
    target_mean = sum(ALPHA_RANGE) / 2
    losses, start = [], time.perf_counter()
    model.train()
    for step in tqdm(range(sizes.steps), desc=f"training {label}", mininterval=10, disable=sizes.steps < 100):
        batch = torch.randint(0, len(x), (sizes.batch,), generator=generator)
        loss = torch.nn.functional.mse_loss(model(x[batch]).squeeze(1) + target_mean, y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step(step + 1)
        losses.append(loss.item())
    return {"losses": losses, "seconds_per_step": (time.perf_counter() - start) / sizes.steps}


@torch.no_grad()
def rmse(model, x, y) -> float:
    model.eval()
    prediction = torch.cat([model(chunk) for chunk in x.split(64)]).squeeze(1) + sum(ALPHA_RANGE) / 2
    return math.sqrt(torch.mean((prediction - y) ** 2).item())


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(
        __doc__.split("\n")[0], "timm_swap_finetune", argv,
        extra=lambda parser: parser.add_argument("--seeds", type=int, default=1, help="repetitions (model seeds)"),
    )
    sizes = QUICK if args.quick else FULL
    train_x, train_y = smoothness_data(sizes.train_samples, sizes.resolution, args.seed + 1)
    test_x, test_y = smoothness_data(sizes.test_samples, sizes.resolution, args.seed + 2)
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in MODELS}
    for repeat in range(args.seeds):
        models = build_models(sizes, seed=args.seed + 100 + repeat)
        for name, model in models.items():
            record = train(model, train_x, train_y, sizes, seed=args.seed + 200 + repeat, label=f"{name} (repeat {repeat})")
            record.update(test_rmse=rmse(model, test_x, test_y), parameters=sum(p.numel() for p in model.parameters()))
            if name != "attention":
                record["mixer_kwargs"] = {k: list(v) if isinstance(v, tuple) else v
                                          for k, v in model.attention_swap.mixer_kwargs.items()}
            runs[name].append(record)
            print(f"repeat {repeat} (seed {args.seed}): {name:>9}  test RMSE(alpha) {record['test_rmse']:.4f}  "
                  f"{record['seconds_per_step'] * 1e3:.0f} ms/step  {record['parameters']:,} parameters", flush=True)
    summary = {
        name: {
            "test_rmse": [r["test_rmse"] for r in records],
            "test_rmse_median": statistics.median(r["test_rmse"] for r in records),
            "seconds_per_step_median": statistics.median(r["seconds_per_step"] for r in records),
            "parameters": records[0]["parameters"],
            "loss_first": records[0]["losses"][0],
            "loss_last": statistics.mean(records[0]["losses"][-max(1, sizes.steps // 10):]),
            **({"mixer_kwargs": records[0]["mixer_kwargs"]} if "mixer_kwargs" in records[0] else {}),
        }
        for name, records in runs.items()
    }
    curve = {name: (list(range(1, sizes.steps + 1)), records[0]["losses"]) for name, records in runs.items()}
    plot = plot_curves(curve, args.out / "training_loss.png", xlabel="step", ylabel="MSE of alpha (seed 0)",
                       title="ViT: attention vs Fourier mixers", logy=True)
    results = {
        "sizes": asdict(sizes),
        "seeds": args.seeds,
        "baseline_rmse_predicting_the_mean": (ALPHA_RANGE[1] - ALPHA_RANGE[0]) / math.sqrt(12),
        "models": summary,
        "plots": [str(plot)],
    }
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
