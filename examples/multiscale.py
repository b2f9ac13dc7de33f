"""A 256x256 Navier-Stokes time stepper built from the pretrained 64x64 FNO plus a fine-scale correction.

The pretrained coarse operator (fno-ns2d-nu1e-3, trained at 64x64) steps the spectrally truncated
input on a 64x64 grid; its prediction is Fourier-interpolated to 256x256, and a small FNO with
more modes, reading the fine input and that prediction, adds the fine-scale part
(``zoo.models.MultiscaleOperator``). Stage 1 trains the correction with the coarse operator
frozen; stage 2 fine-tunes both jointly at a lower rate. Baselines, on the same held-out
trajectories: the coarse operator evaluated zero-shot at 256x256 (directly, and through the 64x64
grid), and an FNO of the correction's size trained at 256x256 from scratch for the same measured
compute (CPU time, one thread) as stages 1 and 2 together.

Data: NS vorticity, nu = 1e-3, FNO forcing, solved at 256x256 (12 training trajectories, seed
20; 4 test trajectories, seed 21), input t = 1..10, predict t = 11..15. Metric: relative L2 of
each test trajectory's 5-step rollout, averaged over trajectories; kinetic-energy spectra at
t = 15.

    python examples/multiscale.py            # full run (data generated on first use)
    python examples/multiscale.py --quick    # 64x64 fine grid, 32x32 coarse grid, seconds
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

from common import checkpoint_record, ns2d_data, parse_args, write_results
from zoo import from_pretrained
from zoo.data import TimeWindows
from zoo.eval import kinetic_energy_spectrum, plot_curves, plot_fields
from zoo.eval.evaluate import evaluate, flatten_metrics, pair_metrics
from zoo.eval.rollout import rollout_errors, rollout_predictions
from zoo.models import AutoregressiveOperator, FieldOperator, MultiscaleOperator
from zoo.train import TrainConfig, Trainer

CHECKPOINT = "fno-ns2d-nu1e-3"
HISTORY = 10


@dataclass(frozen=True)
class Sizes:
    fine: int  # grid of the data and of the predictions
    coarse: int  # grid the pretrained operator runs on inside the multiscale model
    train: int
    test: int
    steps: int  # time units solved; frames t = 1..steps are used
    dt: float | None
    width: int  # correction FNO and single-grid FNO
    modes: int
    layers: int
    stage1: int  # optimisation steps
    stage2: int
    batch: int
    lr1: float = 1e-3
    lr2: float = 2e-4


FULL = Sizes(fine=256, coarse=64, train=12, test=4, steps=15, dt=0.005, width=16, modes=24, layers=4, stage1=60, stage2=20, batch=2)
QUICK = Sizes(fine=64, coarse=32, train=2, test=1, steps=11, dt=None, width=6, modes=8, layers=2, stage1=6, stage2=2, batch=2)


def fno(in_channels: int, sizes: Sizes) -> dict:
    config = {"in_channels": in_channels, "out_channels": 1, "modes": [sizes.modes] * 2, "width": sizes.width, "n_layers": sizes.layers}
    return {"architecture": "FNO", "config": config}


def multiscale_model(coarse: AutoregressiveOperator, sizes: Sizes, correction_scale: float) -> MultiscaleOperator:
    """The pretrained coarse stepper plus a correction whose last layer starts at zero, so that the
    untrained model is exactly the coarse prediction Fourier-interpolated to the fine grid. The
    correction's output is in units of ``correction_scale`` (the size of what it has to add)."""
    std = coarse.config["field_std"]
    correction = FieldOperator(fno(HISTORY + 1, sizes), input_std=std * (HISTORY + 1), output_std=[correction_scale])
    last = correction.backbone.projection.fc2
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return MultiscaleOperator.from_parts(coarse, correction, coarse_grid=sizes.coarse)


@torch.no_grad()
def coarse_error_rms(model: MultiscaleOperator, windows: TimeWindows, batch: int) -> float:
    """Root-mean-square of ``truth - coarse prediction`` over the one-step training windows."""
    total, count = 0.0, 0
    for x, y in DataLoader(windows, batch_size=batch):
        total += (y - model.coarse_prediction(x)).double().square().sum().item()
        count += y.numel()
    return math.sqrt(total / count)


def one_step_error(model: nn.Module, windows: TimeWindows, batch: int) -> float:
    """Relative L2 of one step, averaged over the windows."""
    return flatten_metrics(evaluate(model, pair_metrics, windows, batch_size=batch))["relative_l2"]


def train(model: nn.Module, windows: TimeWindows, steps: int, lr: float, sizes: Sizes, *, seed: int,
          param_groups=None, evaluate: bool = False) -> dict:
    """One-step (teacher-forced) relative-L2 training; returns its wall and CPU time (one thread:
    CPU time is the compute, unaffected by other jobs on a shared machine) and, with
    ``evaluate``, the one-step training error before and after."""
    config = TrainConfig(max_steps=steps, batch_size=sizes.batch, lr=lr, seed=seed, log_every=max(1, steps // 10),
                         progress=False, device="cpu")
    trainer = Trainer(model, windows, config, param_groups=param_groups)
    before = one_step_error(model, windows, sizes.batch) if evaluate else None
    started, cpu_started = time.perf_counter(), time.process_time()
    history = trainer.fit()
    record = {"steps": steps, "lr": lr, "wall_s": round(time.perf_counter() - started, 1),
              "cpu_s": round(time.process_time() - cpu_started, 4),
              "train_loss": [round(r["loss"], 5) for r in history if r["split"] == "train"]}
    if evaluate:
        record["one_step_train_error"] = {"before": before, "after": one_step_error(model, windows, sizes.batch)}
    return record


def evaluate_rollouts(models: dict[str, nn.Module], test: torch.Tensor, sizes: Sizes) -> tuple[dict, dict]:
    """Rollout errors and last-frame spectra of each model on ``test`` ``(N, T, H, W)``."""
    truth = test[:, HISTORY:]
    k, truth_spectrum = kinetic_energy_spectrum(truth[:, -1].double())
    truth_spectrum = truth_spectrum.mean(0)
    fine_band = k >= sizes.coarse // 2  # modes the coarse grid cannot hold
    results, predictions = {}, {}
    for name, model in models.items():
        model.eval()
        started = time.perf_counter()
        predicted = rollout_predictions(model, test, history=HISTORY, batch_size=sizes.batch)
        errors = rollout_errors(predicted, truth)
        spectrum = kinetic_energy_spectrum(predicted[:, -1].double())[1].mean(0)
        results[name] = {
            "relative_l2": round(errors["trajectory"].item(), 5),
            "per_step": [round(e, 5) for e in errors["per_step"].tolist()],
            "fine_band_energy_fraction": (spectrum[fine_band].sum() / spectrum.sum()).item(),
            "spectrum": spectrum.tolist(),
            "eval_wall_s": round(time.perf_counter() - started, 1),
        }
        predictions[name] = predicted
    results["truth"] = {
        "spectrum": truth_spectrum.tolist(),
        "fine_band_energy_fraction": (truth_spectrum[fine_band].sum() / truth_spectrum.sum()).item(),
    }
    return results, predictions


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(__doc__, "multiscale", argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    solve = dict(resolution=sizes.fine, steps=sizes.steps, dt=sizes.dt, shard_size=4)
    train_data = ns2d_data(args.data, f"ns2d-{sizes.fine}/train", seed=20, samples=sizes.train, **solve)
    test_data = ns2d_data(args.data, f"ns2d-{sizes.fine}/test", seed=21, samples=sizes.test, **solve)
    train_data = train_data.select(times=slice(1, None))  # t = 1..steps: the checkpoint's protocol
    test = test_data.trajectories[:, 1:, 0]
    windows = TimeWindows(train_data, history=HISTORY, horizon=1)

    coarse = from_pretrained(CHECKPOINT)
    multiscale = multiscale_model(coarse, sizes, correction_scale=1.0)
    error_rms = coarse_error_rms(multiscale, windows, sizes.batch)
    multiscale = multiscale_model(coarse, sizes, correction_scale=error_rms)
    models = {"coarse zero-shot": coarse, f"coarse at {sizes.coarse} interpolated": copy.deepcopy(multiscale)}

    multiscale.coarse.requires_grad_(False)
    stage1 = train(multiscale, windows, sizes.stage1, sizes.lr1, sizes, seed=args.seed, evaluate=True)
    models["multiscale, stage 1"] = copy.deepcopy(multiscale)
    multiscale.coarse.requires_grad_(True)
    stage2 = train(multiscale, windows, sizes.stage2, sizes.lr2, sizes, seed=args.seed + 1)
    models["multiscale, joint"] = multiscale

    # The single-grid FNO gets the multiscale training's measured compute (CPU seconds of this
    # single-threaded process): a short probe measures its step time, then it trains for as many
    # steps as fit.
    mean, std = train_data.channel_statistics()
    budget_s = stage1["cpu_s"] + stage2["cpu_s"]
    probe = AutoregressiveOperator(fno(HISTORY, sizes), field_mean=mean.tolist(), field_std=std.tolist())
    probe_steps = 3
    probe_s = train(probe, windows, probe_steps, sizes.lr1, sizes, seed=args.seed)["cpu_s"]
    single_steps = max(1, round(budget_s / max(probe_s / probe_steps, 1e-3)))  # (a quick run's probe can read 0 s)
    torch.manual_seed(args.seed)
    single = AutoregressiveOperator(fno(HISTORY, sizes), field_mean=mean.tolist(), field_std=std.tolist())
    single_run = train(single, windows, single_steps, sizes.lr1, sizes, seed=args.seed)
    models[f"single FNO at {sizes.fine}"] = single

    evaluation, predictions = evaluate_rollouts(models, test, sizes)
    k = list(range(1, len(evaluation["truth"]["spectrum"])))
    spectra = {"truth": (k, evaluation["truth"]["spectrum"][1:])}
    spectra.update({name: (k, evaluation[name]["spectrum"][1:]) for name in models})
    plots = {
        "spectra": plot_curves(spectra, args.out / "spectra.png", xlabel="wavenumber k", ylabel="E(k)",
                               title=f"kinetic energy at t = {sizes.steps}, {sizes.fine}x{sizes.fine}", logx=True, logy=True),
        "rollout_error": plot_curves(
            {name: (range(HISTORY + 1, sizes.steps + 1), evaluation[name]["per_step"]) for name in models},
            args.out / "rollout_error.png", xlabel="t", ylabel="relative L2 of the frame", logy=True),
        "fields": plot_fields({"truth": test[0, -1], **{name: predictions[name][0, -1] for name in
                               ("coarse zero-shot", "multiscale, joint", f"single FNO at {sizes.fine}")}},
                              args.out / "fields.png", title=f"vorticity at t = {sizes.steps}, test sample 0"),
        "errors": plot_fields({name: predictions[name][0, -1] - test[0, -1] for name in
                               ("coarse zero-shot", "multiscale, joint", f"single FNO at {sizes.fine}")},
                              args.out / "errors.png", title=f"prediction - truth at t = {sizes.steps}, test sample 0"),
    }

    results = {
        "example": "multiscale",
        "quick": args.quick,
        "checkpoint": checkpoint_record(CHECKPOINT),
        "protocol": {
            "data": f"NS vorticity nu=1e-3, FNO forcing, solved at {sizes.fine}x{sizes.fine} (dt {sizes.dt or 'default'}); "
                    f"{sizes.train} training trajectories (seed 20), {sizes.test} test (seed 21); "
                    f"input t=1..10, predict t=11..{sizes.steps}",
            "multiscale": f"coarse {CHECKPOINT} on {sizes.coarse}x{sizes.coarse} (input restricted by spectral truncation, "
                          f"output Fourier zero-padded) + correction FieldOperator(FNO width {sizes.width}, modes "
                          f"{sizes.modes}, {sizes.layers} layers) reading the fine input and the coarse prediction; its last "
                          "layer starts at zero and its output is scaled by the RMS of the coarse one-step error "
                          "on the training windows",
            "training": f"one-step relative L2, AdamW, cosine, batch {sizes.batch}, grad clip 1; stage 1 "
                        f"{sizes.stage1} steps lr {sizes.lr1} coarse frozen; stage 2 {sizes.stage2} steps lr "
                        f"{sizes.lr2} all weights; single FNO lr {sizes.lr1}, as many steps as the measured "
                        "CPU time of stages 1+2 allows (one torch thread)",
            "metric": "relative L2 of each test trajectory's whole rollout, averaged over trajectories; "
                      "fine_band_energy_fraction: share of the kinetic energy in shells "
                      f"k >= {sizes.coarse // 2} (modes the coarse grid cannot hold) at the last step",
            "seed": args.seed,
        },
        "parameters": {"coarse": sum(p.numel() for p in coarse.parameters()),
                       "correction": sum(p.numel() for p in multiscale.correction.parameters()),
                       "single": sum(p.numel() for p in single.parameters())},
        "coarse_one_step_error_rms": error_rms,
        "training": {"stage1": stage1, "stage2": stage2, "single": {**single_run, "budget_s": budget_s}},
        "evaluation": evaluation,
        "plots": {name: str(path) for name, path in plots.items()},
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(time.process_time(), 1),
    }
    write_results(args.out, results)
    print(f"fine-band energy: share of the kinetic energy at t = {sizes.steps} in shells k >= {sizes.coarse // 2}")
    print(f"one-step training error, stage 1: {stage1['one_step_train_error']['before']:.4f} -> "
          f"{stage1['one_step_train_error']['after']:.4f}")
    print(f"training compute (CPU s): multiscale {budget_s:.0f} ({sizes.stage1}+{sizes.stage2} steps), "
          f"single FNO {single_run['cpu_s']:.0f} ({single_steps} steps)")
    print(f"{'model':32s} {'rollout rel. L2':>16s} {'last step':>10s} {'fine-band energy':>17s}")
    for name in ["truth", *models]:
        row = evaluation[name]
        errors = "" if name == "truth" else f"{row['relative_l2']:16.4f} {row['per_step'][-1]:10.4f}"
        print(f"{name:32s} {errors:>27s} {row['fine_band_energy_fraction']:17.2e}")
    return results


if __name__ == "__main__":
    main()
