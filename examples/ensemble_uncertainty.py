"""Error bars for a fine-tuned operator: a small bootstrap ensemble, and whether its intervals hold.

Setting: the pretrained ``fno-ns2d-nu1e-3`` (Navier-Stokes vorticity at viscosity 1e-3) fine-tuned
to viscosity 1e-4 from 50 trajectories; input w(t = 1..10), autoregressive prediction of
w(t = 11..30) at 64x64. ``members`` operators are fine-tuned from the same pretrained weights with
the same budget, each on its own bootstrap resample of the 50 training trajectories (drawn with
replacement) and its own data order. Their mean is the prediction; their spread gives the Gaussian
interval ``mean +- z_p * std`` at every grid point and step (:mod:`zoo.eval.uncertainty`).

On 50 held-out test trajectories (another generator seed) the example reports the coverage of the
nominal 50/80/90/95% intervals (overall and per rollout step), a calibration curve, the relative L2
of the ensemble mean against each member, one model fine-tuned on all 50 trajectories and the
zero-shot checkpoint, and the correlation of the predicted spread with the actual error. One
variance scale factor, fitted by maximum likelihood on calibration trajectories that no member was
trained on (not the test set), recalibrates the intervals; the coverage after it is reported too.

    python examples/ensemble_uncertainty.py            # full run (about 10 minutes on one core)
    python examples/ensemble_uncertainty.py --quick    # seconds, what the test runs
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch
import zoo
from common import checkpoint_record, finetune, ns2d_data, parse_args, write_results
from zoo.data import FieldData
from zoo.eval import plot_curves, plot_fields
from zoo.eval.rollout import rollout_errors, rollout_predictions
from zoo.eval.uncertainty import (
    ensemble_rollouts,
    ensemble_statistics,
    interval_coverage,
    std_error_correlation,
    variance_scale,
)

CHECKPOINT = "fno-ns2d-nu1e-3"
VISCOSITY = 1e-4
HISTORY = 10
LEVELS = (0.5, 0.8, 0.9, 0.95)
CURVE_LEVELS = tuple(round(0.05 * i, 2) for i in range(1, 20)) + (0.99,)


@dataclasses.dataclass(frozen=True)
class Setting:
    """Sizes of one run. Trajectories ``0..pool-1`` of the training set are the bootstrap pool and
    the next ``calibration`` ones the calibration split; the test set has its own seed."""

    data: str  # data set name prefix under --data
    resolution: int
    steps: int  # recorded time units, t = 0..steps
    train_samples: int  # trajectories generated for the training set (a superset of pool + calibration)
    pool: int
    calibration: int
    test: int
    members: int
    train_steps: int
    batch_size: int
    subsample: int  # training grid: every subsample-th point (the operator is resolution-invariant)
    lr: float = 5e-4
    warmup_steps: int = 0


# train_samples and test match the lead's generated data sets, so the full run reuses them.
FULL = Setting("ns2d-nu1e-4", 64, 30, train_samples=200, pool=50, calibration=25, test=50, members=5,
               train_steps=300, batch_size=20, subsample=2, warmup_steps=30)
QUICK = Setting("ns2d-nu1e-4-quick", 32, 12, train_samples=6, pool=4, calibration=2, test=2, members=2,
                train_steps=4, batch_size=4, subsample=1)


def frames(data: FieldData) -> torch.Tensor:
    """Scalar vorticity at t = 1..T: ``(N, T, H, W)`` from the data's ``(N, T + 1, 1, H, W)``."""
    return data.trajectories[:, 1:, 0]


def training(setting: Setting) -> dict[str, Any]:
    """``common.finetune``'s settings for one member."""
    return {"history": HISTORY, "steps": setting.train_steps, "batch_size": setting.batch_size, "lr": setting.lr,
            "warmup_steps": setting.warmup_steps, "subsample": setting.subsample}


def spread_and_error_per_step(
    mean: torch.Tensor, std: torch.Tensor, truth: torch.Tensor
) -> tuple[list[float], list[float]]:
    """Root-mean-square spread and error per rollout step, relative to the truth's: fields ``(N, S, H, W)``."""
    norm = truth.double().square().mean((0, 2, 3))
    spread = (std.double().square().mean((0, 2, 3)) / norm).sqrt()
    error = ((mean.double() - truth.double()).square().mean((0, 2, 3)) / norm).sqrt()
    return spread.tolist(), error.tolist()


def coverage_table(mean: torch.Tensor, std: torch.Tensor, truth: torch.Tensor, scale: float) -> dict[str, Any]:
    """Coverage of the nominal :data:`LEVELS` overall and per step, and the calibration curve."""
    per_step = interval_coverage(mean, std, truth, LEVELS, keep=1, scale=scale)
    return {
        "levels": list(LEVELS),
        "overall": interval_coverage(mean, std, truth, LEVELS, scale=scale).tolist(),
        "per_step": {f"{p:g}": row.tolist() for p, row in zip(LEVELS, per_step)},
        "curve": {"nominal": list(CURVE_LEVELS),
                  "empirical": interval_coverage(mean, std, truth, CURVE_LEVELS, scale=scale).tolist()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, "ensemble_uncertainty", argv)
    setting = QUICK if args.quick else FULL
    started, cpu_started = time.perf_counter(), time.process_time()
    # Loaded once and recorded first: every model of the run starts from this one revision.
    checkpoint = checkpoint_record(CHECKPOINT)
    pretrained = zoo.from_pretrained(CHECKPOINT)
    train = ns2d_data(args.data, f"{setting.data}/train", viscosity=VISCOSITY, steps=setting.steps, seed=10,
                      samples=setting.train_samples, resolution=setting.resolution)
    test = ns2d_data(args.data, f"{setting.data}/test", viscosity=VISCOSITY, steps=setting.steps, seed=11,
                     samples=setting.test, resolution=setting.resolution)
    pool = train.select(samples=slice(0, setting.pool))
    calibration = frames(train.select(samples=slice(setting.pool, setting.pool + setting.calibration)))
    test_frames = frames(test)
    truth = test_frames[:, HISTORY:]
    data_seconds = time.perf_counter() - started

    # Members: bootstrap resamples of the pool, one seed each; a reference model sees the whole pool.
    members, member_losses, train_seconds = [], [], []
    for m in range(setting.members):
        seed = 1000 * args.seed + m
        resample = torch.randint(setting.pool, (setting.pool,), generator=torch.Generator().manual_seed(seed))
        tic = time.perf_counter()
        model, losses = finetune(pretrained, pool, resample.tolist(), seed=seed, **training(setting))
        train_seconds.append(time.perf_counter() - tic)
        members.append(model)
        member_losses.append(losses)
        print(f"member {m}: {len(set(resample.tolist()))} distinct trajectories, one-step loss "
              f"{losses[0]:.4f} -> {losses[-1]:.4f}, {train_seconds[-1]:.0f} s", flush=True)
    tic = time.perf_counter()
    single, single_losses = finetune(pretrained, pool, list(range(setting.pool)),
                                     seed=1000 * args.seed + setting.members, **training(setting))
    train_seconds.append(time.perf_counter() - tic)

    tic = time.perf_counter()
    predictions = ensemble_rollouts(members, test_frames, history=HISTORY)  # (M, N, S, H, W)
    mean, std = ensemble_statistics(predictions)
    cal_mean, cal_std = ensemble_statistics(ensemble_rollouts(members, calibration, history=HISTORY))
    scale = variance_scale(cal_mean, cal_std, calibration[:, HISTORY:])
    baselines = {
        f"single model, all {setting.pool} trajectories": rollout_predictions(single, test_frames, history=HISTORY),
        "zero-shot (pretrained at nu=1e-3)": rollout_predictions(pretrained.eval(), test_frames, history=HISTORY),
    }
    eval_seconds = time.perf_counter() - tic

    member_errors = [rollout_errors(p, truth) for p in predictions]
    ensemble_error = rollout_errors(mean, truth)
    errors = {
        "ensemble mean": float(ensemble_error["trajectory"]),
        "members (mean)": float(torch.stack([e["trajectory"] for e in member_errors]).mean()),
        "members (best)": float(min(e["trajectory"] for e in member_errors)),
        "members (worst)": float(max(e["trajectory"] for e in member_errors)),
        **{name: float(rollout_errors(p, truth)["trajectory"]) for name, p in baselines.items()},
    }
    raw = coverage_table(mean, std, truth, 1.0)
    calibrated = coverage_table(mean, std, truth, scale)
    correlation = {"pointwise": std_error_correlation(std, mean, truth),
                   "per trajectory": std_error_correlation(std, mean, truth, dim=0)}
    spread, rms_error = spread_and_error_per_step(mean, std, truth)

    steps = list(range(HISTORY + 1, HISTORY + 1 + truth.shape[1]))
    plots = [
        plot_curves({"ideal": (CURVE_LEVELS, CURVE_LEVELS),
                     "ensemble": (CURVE_LEVELS, raw["curve"]["empirical"]),
                     f"ensemble, std x {scale:.2f} (calibrated)": (CURVE_LEVELS, calibrated["curve"]["empirical"])},
                    args.out / "calibration.png", xlabel="nominal coverage", ylabel="empirical coverage (test)",
                    title="Gaussian intervals, nu=1e-4, t=11..30"),
        *[plot_curves({f"{p:.0%}": (steps, table["per_step"][f"{p:g}"]) for p in LEVELS},
                      args.out / f"coverage_vs_step_{name}.png", xlabel="t", ylabel="empirical coverage (test)",
                      title=f"interval coverage per step ({title})")
          for name, table, title in (("raw", raw, "ensemble std"),
                                     ("calibrated", calibrated, f"std x {scale:.2f}"))],
        plot_curves({"ensemble mean": (steps, ensemble_error["per_step"].tolist()),
                     "members (mean)": (steps, torch.stack([e["per_step"] for e in member_errors]).mean(0).tolist()),
                     **{name: (steps, rollout_errors(p, truth)["per_step"].tolist()) for name, p in baselines.items()}},
                    args.out / "error_vs_step.png", xlabel="t", ylabel="relative L2 (test)", logy=True,
                    title="rollout error, fine-tuned to nu=1e-4"),
        plot_curves({"rms error of the mean": (steps, rms_error), "rms ensemble std": (steps, spread),
                     f"rms std x {scale:.2f}": (steps, [scale * s for s in spread])},
                    args.out / "spread_vs_error.png", xlabel="t", ylabel="relative to rms of truth", logy=True,
                    title="predicted spread against actual error"),
        plot_fields({"truth": truth[0, -1], "ensemble mean": mean[0, -1]}, args.out / "fields.png",
                    title=f"test trajectory 0, t={steps[-1]}"),
        plot_fields({"mean - truth": mean[0, -1] - truth[0, -1], f"{scale:.2f} x ensemble std": scale * std[0, -1]},
                    args.out / "uncertainty.png", title=f"test trajectory 0, t={steps[-1]}"),
    ]

    results = {
        "checkpoint": checkpoint,
        "protocol": {
            "data": f"NS vorticity nu={VISCOSITY:g}, FNO forcing, {setting.resolution}x{setting.resolution}, "
                    f"t=0..{setting.steps}; train seed 10 (pool: trajectories 0..{setting.pool - 1}, calibration: "
                    f"{setting.pool}..{setting.pool + setting.calibration - 1}), test seed 11 ({setting.test})",
            "task": f"w(t=1..{HISTORY}) -> w(t={HISTORY + 1}..{setting.steps}), autoregressive",
            "members": f"{setting.members}, each fine-tuned from {CHECKPOINT} on a bootstrap resample of the pool",
            "training": f"{setting.train_steps} AdamW steps per model, batch {setting.batch_size} one-step windows "
                        f"on the {setting.resolution // setting.subsample}-point grid, lr {setting.lr:g} cosine, "
                        f"warm-up {setting.warmup_steps}, all weights trained",
            "metric": "relative L2 per test trajectory over all predicted steps, averaged over trajectories",
            "interval": "mean +- z_p * scale * std per point, std over members (divisor M-1), "
                        "scale = 1 (raw) or the maximum-likelihood factor on the calibration split",
            "seed": args.seed,
        },
        "relative_l2": errors,
        "variance_scale": scale,
        "coverage_raw": raw,
        "coverage_calibrated": calibrated,
        "std_error_correlation": correlation,
        "rms_spread_per_step": spread,
        "rms_error_per_step": rms_error,
        "training_loss": {"members": member_losses, "single": single_losses},
        "wall_seconds": {"data": data_seconds, "training": train_seconds, "evaluation": eval_seconds,
                         "total": time.perf_counter() - started, "cpu_total": time.process_time() - cpu_started},
        "plots": [str(p) for p in plots],
    }
    write_results(args.out, results)

    print(f"\n{CHECKPOINT} ({results['checkpoint']['weights_sha256'][:12]}) -> nu={VISCOSITY:g}, "
          f"{setting.members} members, test relative L2 over t={steps[0]}..{steps[-1]}:")
    for name, value in errors.items():
        print(f"  {name:38s} {value:.4f}")
    print(f"variance scale on the calibration split: {scale:.3f}")
    print("nominal    " + "  ".join(f"{p:6.0%}" for p in LEVELS))
    for name, table in (("raw", raw), ("calibrated", calibrated)):
        print(f"{name:10s} " + "  ".join(f"{c:6.1%}" for c in table["overall"]))
    print(f"std-error correlation: pointwise {correlation['pointwise']:.3f}, "
          f"per trajectory {correlation['per trajectory']:.3f}")
    seconds = results["wall_seconds"]
    print(f"wall time {seconds['total']:.0f} s (CPU {seconds['cpu_total']:.0f} s); plots, results.json in {args.out}")
    return results


if __name__ == "__main__":
    main()
