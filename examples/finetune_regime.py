"""Same equation, new regime: fine-tune the nu = 1e-3 Navier-Stokes checkpoints to nu = 1e-4 and to
Kolmogorov forcing, with 10, 50 and 200 training trajectories, against the same architectures
trained from scratch on the same data with the same compute.

    python examples/finetune_regime.py            # the full run (about 13 minutes of one free CPU core)
    python examples/finetune_regime.py --quick    # a small version of the same code (seconds)

Protocol. Regimes (data from ``common.ns2d_data``, 64x64, t = 1..T used, t = 0 dropped as in the
FNO paper):

* ``ns2d-nu1e-4``: viscosity 1e-4, the FNO paper's forcing, T = 30: w(t = 1..10) -> w(t = 11..30).
* ``ns2d-kolmogorov``: viscosity 1e-3, forcing 0.1 sin(8 pi y), T = 50: w(t = 1..10) -> w(t = 11..50).

Training data are the first 10/50/200 trajectories of a set generated with one seed; test data the
first ``eval_samples`` trajectories of a set generated with another. For each regime, number of
trajectories and architecture (``fno-ns2d-nu1e-3``, ``afno-ns2d-nu1e-3``), two models are trained
with identical settings: the checkpoint (its weights and its own normalisation) and the same
architecture freshly initialised, normalised with the new training data's statistics. Both get
the pretraining recipe's first stage (``recipes/ns2d.py``): one-step windows (10 frames -> the next)
on the 32x32 subsampled grid, AdamW lr 1e-3, weight decay 1e-4, cosine schedule with 10% warm-up
down to 5%, gradient clipping 1.0, batch 20, the same number of steps, the same seed and batch
order. Evaluation: free autoregressive rollout at 64x64 from the true t = 1..10; relative L2 of each
test sample's whole predicted trajectory, averaged over samples (the FNO paper's metric). The
pretrained checkpoints are also evaluated without any fine-tuning (zero-shot).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from common import checkpoint_record, ns2d_data, parse_args, write_results
from torch import nn
from torch.utils.data import Subset

import zoo
from zoo.data import FieldData, TimeWindows
from zoo.eval import plot_curves, plot_fields
from zoo.eval.rollout import rollout_errors, rollout_predictions
from zoo.eval.evaluate import evaluate, flatten_metrics
from zoo.files import atomic_path
from zoo.models.normalisation import normalised_to
from zoo.train import Autoregressive, TrainConfig, Trainer, seed_everything

EXAMPLE = "finetune_regime"
CHECKPOINTS = {"FNO": "fno-ns2d-nu1e-3", "AFNO": "afno-ns2d-nu1e-3"}
INITS = ("pretrained", "scratch")
LABELS = {"pretrained": "fine-tuned", "scratch": "from scratch"}  # what each init is called in plots
HISTORY = 10
FIRST_FRAME = 1  # t = 0 (the random initial field) is not used, as in the FNO paper's data
PROBE_WINDOWS = 50  # training windows on which the one-step loss is measured before and after


@dataclass(frozen=True)
class Regime:
    """A new regime of the same equation: ``ns2d_data`` arguments and the train/test seeds."""

    name: str
    title: str
    data: dict[str, Any]
    train_seed: int
    test_seed: int


@dataclass(frozen=True)
class Budget:
    """Sizes of a run: data, grid, optimisation steps."""

    regimes: tuple[Regime, ...]
    trajectories: tuple[int, ...]  # training-set sizes; the data set holds the largest
    test_samples: int  # generated test trajectories
    eval_samples: int  # of which the first ones are evaluated
    resolution: int  # data and evaluation grid
    subsample: int  # training grid = resolution / subsample
    steps: int
    batch_size: int
    data_prefix: str  # quick data live apart: a data set's directory holds one recipe only


REGIMES = (
    Regime("ns2d-nu1e-4", "viscosity 1e-4, FNO forcing", {"viscosity": 1e-4, "steps": 30}, 10, 11),
    Regime("ns2d-kolmogorov", "viscosity 1e-3, Kolmogorov forcing 0.1 sin(8 pi y)",
           {"viscosity": 1e-3, "forcing": "kolmogorov", "steps": 50}, 12, 13),
)
FULL = Budget(REGIMES, trajectories=(10, 50, 200), test_samples=50, eval_samples=10, resolution=64, subsample=2,
              steps=150, batch_size=20, data_prefix="")
QUICK = Budget((replace(REGIMES[0], data={**REGIMES[0].data, "steps": 14}),), trajectories=(1, 2), test_samples=2,
               eval_samples=2, resolution=32, subsample=1, steps=6, batch_size=4, data_prefix="quick-")


def regime_data(root, regime: Regime, budget: Budget) -> tuple[FieldData, FieldData]:
    """Training ``(max(trajectories), T, 1, n, n)`` and test ``(eval_samples, T, 1, n, n)`` fields, t = 1..T."""
    kwargs = {**regime.data, "resolution": budget.resolution}
    name = budget.data_prefix + regime.name
    train = ns2d_data(root, f"{name}/train", samples=max(budget.trajectories), seed=regime.train_seed, **kwargs)
    test = ns2d_data(root, f"{name}/test", samples=budget.test_samples, seed=regime.test_seed, **kwargs)
    times = slice(FIRST_FRAME, None)
    return train.select(times=times), test.select(samples=slice(0, budget.eval_samples), times=times)


def initial_model(checkpoint: str, init: str, windows: TimeWindows, seed: int) -> nn.Module:
    """The checkpoint as published, or its architecture freshly initialised and normalised to ``windows``."""
    pretrained = zoo.from_pretrained(checkpoint)
    if init == "pretrained":
        return pretrained
    seed_everything(seed)
    fresh = zoo.create_model(type(pretrained).__name__, **pretrained.config)
    return normalised_to(fresh, windows)


def one_step_error(model: nn.Module, objective: Autoregressive, probe: Subset) -> float:
    """Mean relative L2 of one predicted frame over the ``probe`` windows (the training loss, without updates)."""
    return flatten_metrics(evaluate(model, objective.evaluate, probe))["relative_l2"]


def train(model: nn.Module, windows: TimeWindows, budget: Budget, seed: int) -> dict[str, Any]:
    """Train ``model`` in place on one-step ``windows``; its one-step error before/after, loss curve, wall time."""
    objective = Autoregressive(HISTORY)
    probe = Subset(windows, torch.linspace(0, len(windows) - 1, min(PROBE_WINDOWS, len(windows))).long().tolist())
    config = TrainConfig(
        max_steps=budget.steps, batch_size=budget.batch_size, lr=1e-3, weight_decay=1e-4, schedule="cosine",
        warmup_steps=budget.steps // 10, min_lr_factor=0.05, grad_clip=1.0, log_every=max(1, budget.steps // 12),
        seed=seed, progress=False, device="cpu",
    )
    before = one_step_error(model, objective, probe)
    started = time.perf_counter()
    history = Trainer(model.train(), windows, config, objective=objective).fit()
    wall = time.perf_counter() - started
    return {
        "one_step_error_before": before,
        "one_step_error_after": one_step_error(model, objective, probe),
        "loss_curve": [[record["step"], record["loss"]] for record in history],
        "train_wall_s": round(wall, 1),
    }


def rollout_test_errors(model: nn.Module, test: FieldData) -> tuple[dict[str, Any], torch.Tensor]:
    """Rollout errors on ``test`` (metrics for results.json) and the first sample's last predicted frame ``(n, n)``."""
    truth = test.trajectories[:, :, 0]
    predictions = rollout_predictions(model.eval(), truth, history=HISTORY)
    errors = rollout_errors(predictions, truth[:, HISTORY:])
    metrics = {"relative_l2": float(errors["trajectory"]), "per_step": errors["per_step"].tolist()}
    return metrics, predictions[0, -1].clone()


def cached(path: Path, key: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """``compute()``, stored at ``path`` with ``key`` and reused while ``key`` is unchanged.

    The key names the checkpoint revision and every setting of the run, so an interrupted full run
    resumes where it stopped, and a new checkpoint revision or budget reruns everything.
    """
    if path.exists():
        stored = torch.load(path, weights_only=True)
        if stored["key"] == key:
            return stored["value"]
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        torch.save({"key": key, "value": value}, temporary)
    return value


def fit_and_test(checkpoint: str, init: str, windows: TimeWindows, test: FieldData, budget: Budget, seed: int):
    """One setting: train from ``init``, then its rollout errors on ``test`` and the first sample's last frame."""
    model = initial_model(checkpoint, init, windows, seed)
    training = train(model, windows, budget, seed)
    errors, frame = rollout_test_errors(model, test)
    return {**errors, **training}, frame


def run_regime(regime: Regime, budget: Budget, protocol: dict[str, Any], args) -> dict[str, Any]:
    train_data, test = regime_data(args.data, regime, budget)
    print(f"\n{regime.name}: {regime.title}, w(t=1..{HISTORY}) -> w(t={HISTORY + 1}..{regime.data['steps']}); "
          f"train {tuple(train_data.trajectories.shape)}, test {tuple(test.trajectories.shape)}", flush=True)
    cache = args.out / "cache" / f"{budget.steps}-steps" / regime.name
    setting = {"regime": regime.name, "data": regime.data, **protocol}
    zero_shot, frames = {}, {"truth": test.trajectories[0, -1, 0]}
    for arch, checkpoint in CHECKPOINTS.items():
        revision = checkpoint_record(checkpoint)
        metrics, frames[f"{arch} zero-shot"] = cached(
            cache / f"{arch}-zero-shot.pt", {**setting, "checkpoint": revision},
            lambda: rollout_test_errors(zoo.from_pretrained(checkpoint), test))
        zero_shot[arch] = {**metrics, "weights_sha256": revision["weights_sha256"]}
        print(f"  {arch} zero-shot: relative L2 {zero_shot[arch]['relative_l2']:.4f}", flush=True)
    runs = []
    for count in budget.trajectories:
        subset = train_data.select(samples=slice(0, count)).subsample(budget.subsample)
        windows = TimeWindows(subset, history=HISTORY, horizon=1)
        for arch, checkpoint in CHECKPOINTS.items():
            for init in INITS:
                revision = checkpoint_record(checkpoint)
                key = {**setting, "checkpoint": revision, "init": init, "trajectories": count}
                run, frame = cached(cache / f"{arch}-{init}-{count}.pt", key,
                                    lambda: fit_and_test(checkpoint, init, windows, test, budget, args.seed))
                if count == max(budget.trajectories):
                    frames[f"{arch} {LABELS[init]}"] = frame
                runs.append({"architecture": arch, "init": init, "trajectories": count, "windows": len(windows),
                             "weights_sha256": revision["weights_sha256"], **run})
                print(f"  N={count:>3} {arch:>4} {init:>10}: relative L2 {run['relative_l2']:.4f}  one-step "
                      f"{run['one_step_error_before']:.4f} -> {run['one_step_error_after']:.4f}  "
                      f"(trained in {run['train_wall_s']:.0f} s)", flush=True)
    plots = write_plots(regime, budget, zero_shot, runs, frames, args.out)
    return {"title": regime.title, "data": regime.data, "train_seed": regime.train_seed, "test_seed": regime.test_seed,
            "zero_shot": zero_shot, "runs": runs, "plots": plots}


def write_plots(regime, budget, zero_shot, runs, frames, out) -> list[str]:
    counts = list(budget.trajectories)
    curves = {}
    for arch in CHECKPOINTS:
        for init in INITS:
            errors = [r["relative_l2"] for r in runs if r["architecture"] == arch and r["init"] == init]
            curves[f"{arch} {LABELS[init]}"] = (counts, errors)
        curves[f"{arch} zero-shot"] = ([counts[0], counts[-1]], [zero_shot[arch]["relative_l2"]] * 2)
    largest = [r for r in runs if r["trajectories"] == counts[-1]]
    losses = {f"{r['architecture']} {LABELS[r['init']]}": tuple(zip(*r["loss_curve"])) for r in largest}
    paths = [
        plot_curves(curves, out / f"error_vs_trajectories_{regime.name}.png", xlabel="training trajectories",
                    ylabel="test relative L2 (rollout)", title=regime.name, logx=True, logy=True),
        plot_curves(losses, out / f"training_loss_{regime.name}.png", xlabel="step", ylabel="one-step relative L2",
                    title=f"{regime.name}, {counts[-1]} trajectories", logy=True),
        plot_fields(frames, out / f"vorticity_{regime.name}.png", title=f"test sample 0, last predicted frame, "
                    f"{counts[-1]} training trajectories"),
    ]
    return [str(p.relative_to(out)) for p in paths]


def print_table(name: str, result: dict[str, Any]) -> None:
    columns = [(arch, init) for arch in CHECKPOINTS for init in INITS]
    print(f"\n{name}: test relative L2 (rollout)")
    print("  N    " + "  ".join(f"{arch + ' ' + init:>15}" for arch, init in columns))
    zero_shot = {(arch, "pretrained"): result["zero_shot"][arch]["relative_l2"] for arch in CHECKPOINTS}
    print("  0    " + "  ".join(f"{zero_shot.get(c, float('nan')):>15.4f}" for c in columns))
    for count in sorted({r["trajectories"] for r in result["runs"]}):
        row = {(r["architecture"], r["init"]): r["relative_l2"] for r in result["runs"] if r["trajectories"] == count}
        print(f"  {count:<4} " + "  ".join(f"{row[c]:>15.4f}" for c in columns))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    def options(parser):
        parser.add_argument("--regime", choices=[r.name for r in REGIMES], action="append",
                            help="run only this regime (repeatable; default: all)")
        parser.add_argument("--steps", type=int, help=f"optimisation steps per model (default {FULL.steps})")

    args = parse_args(__doc__, EXAMPLE, argv, extra=options)
    budget = QUICK if args.quick else FULL
    if args.regime:
        budget = replace(budget, regimes=tuple(r for r in budget.regimes if r.name in args.regime))
    if args.steps is not None:
        if args.steps < 1:
            raise SystemExit(f"--steps must be positive, got {args.steps}")
        budget = replace(budget, steps=args.steps)
    started = time.perf_counter()
    protocol = {
        "resolution": budget.resolution, "training_grid": budget.resolution // budget.subsample,
        "history": HISTORY, "trajectories": list(budget.trajectories), "eval_samples": budget.eval_samples,
        "steps": budget.steps, "batch_size": budget.batch_size, "seed": args.seed,
        "optimiser": "AdamW lr 1e-3, weight decay 1e-4, cosine with 10% warm-up to 5%, grad clip 1.0",
        "objective": "one-step relative L2 on 10-frame windows (teacher-forced)",
        "metric": "relative L2 of each test sample's whole free rollout, averaged over samples",
        "normalisation": "pretrained: the checkpoint's own; scratch: mean/std of the training subset",
    }
    results: dict[str, Any] = {
        "example": EXAMPLE,
        "checkpoints": {arch: checkpoint_record(name) for arch, name in CHECKPOINTS.items()},
        "protocol": protocol,
        "regimes": {regime.name: run_regime(regime, budget, protocol, args) for regime in budget.regimes},
    }
    results["wall_s"] = round(time.perf_counter() - started, 1)
    for name, result in results["regimes"].items():
        print_table(name, result)
    print(f"\nwall time {results['wall_s']:.0f} s; results in {write_results(args.out, results)}")
    return results


if __name__ == "__main__":
    main()
