"""Uncertainty bands that hold: conformal calibration of four operators, with and without a width model.

Cases (``zoo.eval.conformal``; the width model is UQNO's residual operator, ``zoo.train.residual_width``).
Every case calibrates on at least 100 functions (the finite-sample excess of the pointwise band is up
to ``level / n``: 0.9 points at 90% with n = 100; see ``zoo.eval.conformal``) and tests on others:

* ``ns2d-nu1e-4``: ``fno-ns2d-nu1e-3`` fine-tuned to viscosity 1e-4 exactly as one member of
  ``ensemble_uncertainty.py`` (``common.finetune``, trajectories 0..49 of the training set, seed 10),
  w(t = 1..10) -> w(t = 11..30) at 64x64. Trajectories 50..99 train the width model, 100..199
  calibrate, and the 50 trajectories of the test set (seed 11) score the bands. A bootstrap ensemble
  (``members`` fine-tunings, as in ``ensemble_uncertainty.py``) gives the comparison: its std,
  conformally scaled per step on the same calibration trajectories, at equal coverage.
* ``darcy``: ``fno-darcy`` (one-step map: coefficient a in {3, 12} -> pressure u, at 85x85, its
  training grid) on new samples of its own law: ``darcy_recipe(resolution=85, solve_factor=5)``, the
  law of ``darcy_fno_recipe`` (threshold of a GRF with alpha 2, tau 3 sampled on 421 nodes, f = 1,
  solved on 421 x 421 nodes, every 5th node kept). 100 calibrate (root seed 70), 50 test (seed 71):
  sample seeds (``zoo.data.generate.sample_seed``) disjoint from each other and from the checkpoint's
  training, validation and test sets (root seeds 0, 2, 1; ``DARCY_SEEDS``). No width model.
  (``--quick``: the same law and code at 16x16 from 31-node solves, 5 + 5 functions.)
* ``ns2d-nu1e-3``: the checkpoint itself, w(t = 1..10) -> w(t = 11..50) at 64x64 on generated
  trajectories of its own law that it never saw: seeds 62 (width model, 50), 60 (calibration, 100),
  61 (test, 50).
* ``transfer``: a system of the transfer benchmark (``zoo.data.corpus``, default ``gray_scott``:
  reaction-diffusion, physics the pretraining corpus lacks; fields autocatalyst and substrate),
  ``multiphysics-operator-2d`` fine-tuned on it with ``zoo.train.arrays.finetune_on_arrays`` (what
  ``zoo finetune --from ... --data my.npy`` runs; new field encoders, every weight trained) on
  trajectories 0..15 of the corpus's train split at 32x32, a small budget (at most 10 epochs,
  patience 3, early stopping on the val split's 16 trajectories). The data are the corpus's own
  (same recipe and seeds as ``zoo data corpus``, generated on first use, or read from ``--corpus``). Trajectories 16..149 of the
  train split calibrate (134), the 32 of the test split test: 4 context frames -> the free rollout
  over the remaining 17 (t = 200..1000).

For each: coverage of the 50/80/90/95% bands overall and per rollout step (and the worst step's
deviation from nominal), a calibration curve, UQNO's domain guarantee (level 0.9, delta 0.1: the
fraction of test (function, step, channel) groups with >= 90% of the grid inside; it asks >= 90%), mean
half-width relative to the rms of the truth, the correlation of band width with the actual error,
the seconds each stage took, and (without a width model) the spread of these coverages over random
re-splits of the pooled calibration and test functions: one split's figure is one draw of it.
Results of the full run: BENCHMARKS.md ("Conformal bands for any operator"). Case ``transfer``
measured 2026-12-07 (seed 0, one thread; 134 calibration, 32 test functions, 17 steps): coverage
46.3/78.3/89.5/95.2% at 50/80/90/95% (worst step off by 5.5/3.8/2.2/1.0 points), 50.1/80.4/90.5/95.6%
+- 2.7/1.4/0.9/0.6 over 100 re-splits; domain mode 92.2% of (function, step, field) groups with
>= 90% inside (90.0 +- 3.7% over re-splits); 90% half-width 0.37 of the truth's rms; the fine-tuned
model's rollout error 0.241.

    python examples/conformal_uncertainty.py                      # full run (hours on one core of a loaded machine)
    python examples/conformal_uncertainty.py --cases transfer     # one case (44 min at load 10, 29 of them fine-tuning)
    python examples/conformal_uncertainty.py --quick              # a small version, what the test runs
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import checkpoint_record, finetune, ns2d_data, parse_args, write_results
from torch import nn

import zoo
from zoo.data import FieldData, load_fields
from zoo.data.corpus import ROOT_SEED, SYSTEMS, dataset_seed
from zoo.data.equations import darcy_recipe
from zoo.data.generate import generate
from zoo.eval import plot_curves, plot_fields
from zoo.eval.conformal import (
    ConformalBands,
    Predictions,
    band_metrics,
    conformalize,
    domain_quantile,
    pointwise_quantile,
    predict,
    with_width,
)
from zoo.eval.rollout import rollout_errors
from zoo.eval.uncertainty import ensemble_statistics
from zoo.models import spectral_resample
from zoo.train import TrainConfig
from zoo.train.arrays import finetune_on_arrays
from zoo.train.residual_width import fit_width_model

HISTORY = 10
DELTA = 0.1
# Root seeds of the Darcy case's data sets; fno-darcy's own splits use 0, 2, 1 (DARCY_FNO_SPLITS).
DARCY_SEEDS = {"calibration": 70, "test": 71}


@dataclasses.dataclass(frozen=True)
class Transfer:
    """The transfer-benchmark case: ``zoo.data.corpus`` system ``system`` and its fine-tuning budget.

    Trajectories 0..finetune-1 of the corpus's train split fine-tune, the next ``calibration``
    calibrate; the val split (whole) stops early; the first ``test`` of the test split score.
    """

    finetune: int
    calibration: int
    test: int
    validation: int
    resolution: int  # the grid the model trains and is calibrated on (spectral truncation of the stored 64x64)
    max_epochs: int
    patience: int
    system: str = "gray_scott"
    source: str = "multiphysics-operator-2d"
    recipe_changes: tuple[tuple[str, Any], ...] = ()  # a smaller variant of the same law (quick runs)


@dataclasses.dataclass(frozen=True)
class Setting:
    """Sizes of one run (see the module docstring for the splits)."""

    resolution: int
    nu1e4_steps: int  # recorded time units at nu = 1e-4 (t = 0..steps)
    nu1e3_steps: int
    pool: int  # fine-tuning trajectories
    width: int  # width-model trajectories
    calibration: int
    test: int
    darcy_calibration: int
    darcy_test: int
    darcy_resolution: int  # stored grid of the Darcy case (darcy_recipe's default law, fno-darcy's)
    darcy_solve_factor: int  # solved on darcy_solve_factor * (darcy_resolution - 1) + 1 nodes
    finetune_steps: int
    width_steps: int
    members: int
    levels: tuple[float, ...]
    curve: tuple[float, ...]
    transfer: Transfer
    resplits: int  # random re-splits of the pooled calibration and test functions (the spread of one split)
    batch_size: int = 20
    delta: float = DELTA
    subsample: int = 2
    data_prefix: str = ""


FULL = Setting(64, 30, 50, pool=50, width=50, calibration=100, test=50, darcy_calibration=100, darcy_test=50,
               darcy_resolution=85, darcy_solve_factor=5,
               finetune_steps=300, width_steps=300, members=5, levels=(0.5, 0.8, 0.9, 0.95),
               curve=tuple(round(0.05 * i, 2) for i in range(1, 20)),
               transfer=Transfer(finetune=16, calibration=134, test=32, validation=16, resolution=32, max_epochs=10,
                                 patience=3),
               resplits=100)
QUICK = Setting(32, 12, 12, pool=2, width=2, calibration=5, test=3, darcy_calibration=5, darcy_test=5,
                darcy_resolution=16, darcy_solve_factor=2,
                finetune_steps=3, width_steps=3, members=2, levels=(0.5, 0.8), curve=(0.2, 0.5, 0.8),
                transfer=Transfer(finetune=2, calibration=5, test=3, validation=2, resolution=32, max_epochs=1, patience=1,
                                  recipe_changes=(("solve_resolution", 32), ("store_resolution", 32), ("records", 6))),
                resplits=3, batch_size=2, delta=0.25, subsample=1, data_prefix="quick-")
CASES = ("ns2d-nu1e-3", "darcy", "ns2d-nu1e-4", "transfer")


def frames(data) -> torch.Tensor:
    """``(N, T, C, H, W)`` at t = 1..T: frame t = 0 dropped, as the checkpoints were trained."""
    return data.trajectories[:, 1:]


def timed(function, *args, **kwargs) -> tuple[Any, float]:
    started = time.perf_counter()
    return function(*args, **kwargs), time.perf_counter() - started


def score_bands(bands: ConformalBands, test: Predictions, setting: Setting) -> dict[str, Any]:
    """Pointwise bands at every level and the curve, and domain bands at 0.9 (delta), on one test run."""
    domain_level = max(level for level in setting.levels if level <= 0.9)
    domain = bands.at_level(domain_level, mode="domain", delta=setting.delta)
    return {"pointwise": band_metrics(bands, test, setting.levels),
            "curve": band_metrics(bands, test, setting.curve)["levels"],
            "domain": band_metrics(domain, test, [domain_level])}


def calibrated_case(name: str, model: nn.Module, calibration: Any, test: Any,
                    setting: Setting) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bands without a width model: figures, and the runs behind them (kept for :func:`add_width_model`)."""
    started = time.perf_counter()
    calibration_run = predict(model, calibration, name="calibration")
    bands = conformalize(model, calibration_run, max(setting.levels))
    calibration_s = time.perf_counter() - started
    run, test_s = timed(predict, model, test, name="test")
    result = {"relative_l2": float(rollout_errors(run.mean.flatten(1, 2), run.truth.flatten(1, 2))["trajectory"]),
              "plain": score_bands(bands, run, setting),
              "seconds": {"calibration": calibration_s, "test_predictions": test_s}}
    print_case(name, result, setting)
    return result, {"plain": (bands, run), "calibration": calibration_run}


def add_width_model(name: str, model: nn.Module, width_data: Any, result: dict[str, Any], runs: dict[str, Any],
                    setting: Setting) -> None:
    """Train a width model on ``width_data`` and add its bands (on the stored calibration and test runs)."""
    config = TrainConfig(max_steps=setting.width_steps, batch_size=setting.batch_size, lr=1e-3,
                         warmup_steps=setting.width_steps // 10, seed=0, log_every=max(1, setting.width_steps // 10),
                         progress=False, device="cpu")
    (width, history), width_s = timed(fit_width_model, model, width_data, config, subsample=setting.subsample)
    bands, calibration_s = timed(conformalize, model, runs["calibration"], max(setting.levels), width_model=width)
    run = with_width(runs["plain"][1], width)
    result["width_model"] = score_bands(bands, run, setting)
    result["width_model"]["training_loss"] = [record["loss"] for record in history]
    result["seconds"].update({"width_training": width_s, "calibration_with_width": calibration_s})
    runs["width model"] = (bands, run)
    print_case(name, result, setting)


def ensemble_case(pretrained: nn.Module, pool, calibration: torch.Tensor, test: torch.Tensor, setting: Setting,
                  seed: int) -> dict[str, Any]:
    """Bootstrap members; their std as the width, conformally scaled per step (equal coverage by construction)."""
    started = time.perf_counter()
    members = []
    for m in range(setting.members):
        resample = torch.randint(setting.pool, (setting.pool,), generator=torch.Generator().manual_seed(1000 * seed + m))
        model, _ = finetune(pretrained, pool, resample.tolist(), history=HISTORY, steps=setting.finetune_steps,
                            batch_size=setting.batch_size, lr=5e-4, warmup_steps=setting.finetune_steps // 10,
                            subsample=setting.subsample, seed=1000 * seed + m)
        members.append(model)
    cal = [predict(model, calibration, name="calibration") for model in members]
    runs = [predict(model, test, name="test") for model in members]
    cal_mean, cal_std = ensemble_statistics(torch.stack([r.mean for r in cal]))
    mean, std = ensemble_statistics(torch.stack([r.mean for r in runs]))
    scores = (cal[0].truth - cal_mean).abs() / cal_std
    truth = runs[0].truth
    figures = {}
    for level in setting.levels:
        half = pointwise_quantile(scores, level) * std
        inside = ((truth - mean).abs() <= half).double()
        figures[f"{level:g}"] = {"coverage": float(inside.mean()), "half_width": float(half.mean()),
                                 "relative_half_width": float(half.mean()) / float(truth.square().mean().sqrt())}
    correlation = float(torch.corrcoef(torch.stack([std.flatten(), (truth - mean).abs().flatten()]))[0, 1])
    return {"members": setting.members, "levels": figures, "std_error_correlation": correlation,
            "relative_l2": float(rollout_errors(mean.flatten(1, 2), truth.flatten(1, 2))["trajectory"]),
            "seconds": time.perf_counter() - started}


def darcy_data(root: Path, split: str, samples: int, setting: Setting) -> tuple[torch.Tensor, torch.Tensor]:
    """``(coefficient (N, 1, R, R), pressure (N, 1, R, R))`` of ``fno-darcy``'s law, ``R = setting.darcy_resolution``."""
    recipe = darcy_recipe(resolution=setting.darcy_resolution, solve_factor=setting.darcy_solve_factor)
    generate(root / split, recipe, samples=samples, seed=DARCY_SEEDS[split], shard_size=min(20, samples), progress=False,
             command=f"examples/conformal_uncertainty.py: darcy {split}")
    data = load_fields(root / split, samples=(0, samples))
    return data.static, data.trajectories[:, 0]


def corpus_split(args, transfer: Transfer, split: str, samples: int, prefix: str) -> FieldData:
    """The first ``samples`` trajectories of ``split`` of corpus system ``transfer.system``.

    Read from ``args.corpus`` (a corpus made by ``zoo data corpus``; read only, its seed checked), or
    generated once under ``args.data`` with the same recipe and seeds (``zoo.data.corpus``: sample ``i``
    of a split depends on its index alone), so that both are the corpus's own trajectories.
    """
    system = SYSTEMS[transfer.system]
    seed = dataset_seed(ROOT_SEED, system.name, split)
    if args.corpus is not None:
        directory = args.corpus / system.name / split
        manifest = json.loads((directory / "dataset.json").read_text())
        if manifest["seed"] != seed or manifest["samples"] < samples:
            raise ValueError(f"{directory}: {manifest['samples']} trajectories of seed {manifest['seed']}; this case needs "
                             f"{samples} of seed {seed} (root seed {ROOT_SEED}): regenerate the corpus or drop --corpus")
    else:
        directory = args.data / f"{prefix}corpus" / system.name / split
        recipe = system.recipe_with(**dict(transfer.recipe_changes)) if transfer.recipe_changes else system.recipe
        generate(directory, recipe, samples=samples, seed=seed, shard_size=system.shard_size, progress=False,
                 command=f"examples/conformal_uncertainty.py: {system.name}/{split}")
    data = load_fields(directory, samples=(0, samples))
    if data.spatial_shape[-1] != transfer.resolution:
        data = dataclasses.replace(data, trajectories=spectral_resample(data.trajectories, transfer.resolution))
    return data


def saved_array(path: Path, trajectories: torch.Tensor) -> Path:
    """``trajectories (N, T, C, H, W)`` as ``.npy`` (the file ``zoo finetune --data`` reads), written atomically."""
    if not path.exists():
        partial = path.with_suffix(".partial.npy")
        np.save(partial, trajectories.numpy())
        partial.replace(path)
    return path


def transfer_case(args, setting: Setting) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fine-tune ``transfer.source`` on the system (``finetune_on_arrays``), then calibrate and score its bands."""
    transfer = setting.transfer
    prefix = setting.data_prefix
    train = corpus_split(args, transfer, "train", transfer.finetune + transfer.calibration, prefix)
    validation = corpus_split(args, transfer, "val", transfer.validation, prefix)
    test = corpus_split(args, transfer, "test", transfer.test, prefix)
    arrays = args.data / f"{prefix}corpus-arrays" / transfer.system / str(transfer.resolution)
    arrays.mkdir(parents=True, exist_ok=True)
    files = {name: saved_array(arrays / f"{name}.npy", data) for name, data in (
        (f"train-{transfer.finetune}", train.trajectories[: transfer.finetune]),
        ("val", validation.trajectories), ("test", test.trajectories))}
    run = args.out / f"finetune-{transfer.system}"
    if (run / "finetuned" / "metrics.json").exists():  # a finished fine-tune of an earlier run of this example
        finetuning = json.loads((run / "finetuned" / "metrics.json").read_text())
    else:
        finetuning = finetune_on_arrays(transfer.source, files[f"train-{transfer.finetune}"], validation_data=files["val"],
                                        eval_data=files["test"], fields=train.channels, out=run, seed=args.seed,
                                        max_epochs=transfer.max_epochs, patience=transfer.patience, device="cpu",
                                        resume=(run / "finetuned" / "checkpoints").exists(), progress=False)
    model = zoo.from_pretrained(run / "finetuned" / "model").eval()
    calibration = train.trajectories[transfer.finetune:]
    result, runs = calibrated_case(transfer.system, model, calibration, test.trajectories, setting)
    result["resplits"] = resplit_coverage(runs["calibration"], runs["plain"][1], setting, args.seed)
    result["checkpoint"] = checkpoint_record(transfer.source)
    result["finetuning"] = {key: finetuning[key] for key in ("training", "early_stopping", "validation", "compute")}
    result["finetuning"]["test_step_10_relative_l2"] = finetuning["test"].get("step_10_relative_l2")
    result["finetuning"]["test_one_step_relative_l2"] = finetuning["test"].get("one_step_relative_l2")
    system = SYSTEMS[transfer.system]
    result["data"] = (f"zoo.data.corpus system {transfer.system} ({', '.join(train.channels)}; root seed {ROOT_SEED}), "
                      f"stored 64x64, spectrally truncated to {transfer.resolution}x{transfer.resolution}, "
                      f"{train.trajectories.shape[1]} frames (t = 0, {system.settings['record_every']:g}, ...); "
                      f"train split: fine-tune 0..{transfer.finetune - 1}, calibration {transfer.finetune}.."
                      f"{transfer.finetune + transfer.calibration - 1}; val split ({transfer.validation}): early stopping; "
                      f"test split: {transfer.test} test functions")
    result["finetuned_from"] = (f"{transfer.source}, every weight, zoo.train.arrays.finetune_on_arrays: new field encoders, "
                                f"at most {transfer.max_epochs} epochs, patience {transfer.patience}, seed {args.seed}")
    print_resplits(transfer.system, result["resplits"])
    return result, runs


def resplit_coverage(calibration: Predictions, test: Predictions, setting: Setting, seed: int) -> dict[str, Any]:
    """Coverage over ``setting.resplits`` random re-splits of the pooled calibration and test functions (same sizes).

    One split's figure carries the chance of which functions calibrate and which test; the re-splits
    show its spread (bands without a width model, ``per=("step", "channel")``; scores ``|error|``, so
    a test value lies inside exactly when its score is at most the band's factor). Also the domain
    mode's pass rate: the fraction of test (function, step, channel) groups with a fraction
    ``>= level`` of their grid inside (UQNO's guarantee asks ``>= 1 - delta`` in expectation).
    """
    scores = torch.cat([(run.truth - run.mean).abs() for run in (calibration, test)])
    n, m = calibration.mean.shape[0], test.mean.shape[0]
    domain_level = max(level for level in setting.levels if level <= 0.9)
    generator = torch.Generator().manual_seed(seed)
    coverage = {level: [] for level in setting.levels}
    worst = {level: [] for level in setting.levels}
    passed = []
    for _ in range(setting.resplits):
        order = torch.randperm(n + m, generator=generator)
        held, calibrating = scores[order[n:]], scores[order[:n]]
        for level in setting.levels:
            inside = (held <= pointwise_quantile(calibrating, level)).double()
            coverage[level].append(float(inside.mean()))
            worst[level].append(float((inside.movedim(1, 0).flatten(1).mean(1) - level).abs().max()))
        inside = (held <= domain_quantile(calibrating, domain_level, setting.delta)).double()
        passed.append(float((inside.flatten(3).mean(-1) >= domain_level - 1e-12).double().mean()))
    return {"repeats": setting.resplits, "calibration_functions": n, "test_functions": m, "seed": seed, "levels": {
        f"{level:g}": {"coverage_mean": float(np.mean(coverage[level])), "coverage_sd": float(np.std(coverage[level])),
                       "worst_step_deviation_median": float(np.median(worst[level])),
                       "within_2_points_at_every_step": float(np.mean(np.array(worst[level]) <= 0.02))}
        for level in setting.levels},
        "domain": {"level": domain_level, "delta": setting.delta, "pass_rate_mean": float(np.mean(passed)),
                   "pass_rate_sd": float(np.std(passed)), "splits_at_or_above_1_minus_delta": float(
                       np.mean(np.array(passed) >= 1 - setting.delta - 1e-12))}}


def print_resplits(name: str, resplits: dict[str, Any]) -> None:
    print(f"  {name}: {resplits['repeats']} re-splits ({resplits['calibration_functions']} calibrate, "
          f"{resplits['test_functions']} test): coverage mean +- sd, worst step's |deviation| (median), "
          "splits within 2 points at every step")
    for level, figures in resplits["levels"].items():
        print(f"    {float(level):4.0%}: {figures['coverage_mean']:6.1%} +- {figures['coverage_sd']:.1%}, "
              f"{figures['worst_step_deviation_median']:.1%}, {figures['within_2_points_at_every_step']:.0%}")
    domain = resplits["domain"]
    print(f"    domain mode at {domain['level']:.0%}, delta {domain['delta']:g}: {domain['pass_rate_mean']:.1%} +- "
          f"{domain['pass_rate_sd']:.1%} of test (function, step, channel) groups pass; "
          f"{domain['splits_at_or_above_1_minus_delta']:.0%} of splits at >= {1 - domain['delta']:.0%}")


def print_case(name: str, result: dict[str, Any], setting: Setting) -> None:
    print(f"\n{name}: relative L2 {result['relative_l2']:.4f}; calibration {result['seconds']['calibration']:.1f} s")
    print("  nominal                 " + "  ".join(f"{p:7.0%}" for p in setting.levels))
    for label in ("plain", "width_model"):
        if label in result:
            levels = result[label]["pointwise"]["levels"]
            print(f"  {label:12s} coverage  " + "  ".join(f"{levels[f'{p:g}']['coverage']:7.1%}" for p in setting.levels))
            print(f"  {label:12s} width/rms " + "  ".join(f"{levels[f'{p:g}']['relative_half_width']:7.3f}"
                                                        for p in setting.levels))
            print(f"  {label:12s} worst step" + "  ".join(
                f"{max(abs(c - p) for c in levels[f'{p:g}']['coverage_per_step']):7.1%}"
                for p in setting.levels) + "  (largest |coverage - nominal| over rollout steps)")
            domain = next(iter(result[label]["domain"]["levels"].values()))
            print(f"  {label:12s} domain guarantee: {domain['domain_coverage']:.1%} of test (function, step, channel) groups "
                  f"(needs >= {1 - setting.delta:.0%}); width-error correlation "
                  f"{correlation if (correlation := result[label]['pointwise']['width_error_correlation']) is None else f'{correlation:.3f}'}"
                  + ("" if (ceiling := result[label]["pointwise"]["width_error_correlation_ceiling"]) is None
                     else f" (ceiling for widths of this shape: {ceiling:.3f})")
                  + ("" if (across := result[label]["pointwise"]["function_width_error_correlation"]) is None
                     else f"; across functions {across:.3f}"))


def write_plots(name: str, runs: dict[str, Any], result: dict[str, Any], setting: Setting, out,
                times: list[float] | None = None) -> list[str]:
    """Calibration curve, coverage per rollout step at ``times`` (default: NS's t = 11, 12, ...), a field with its band."""
    curves = {"ideal": (setting.curve, setting.curve)}
    for label, key in (("conformal", "plain"), ("conformal + width model", "width_model")):
        if key in result:
            curves[label] = (setting.curve, [result[key]["curve"][f"{p:g}"]["coverage"] for p in setting.curve])
    paths = [plot_curves(curves, out / f"calibration_{name}.png", xlabel="nominal coverage",
                         ylabel="empirical coverage (test)", title=f"{name}: calibration curve")]
    label = "width model" if "width model" in runs else "plain"
    bands, run = runs[label]
    key = "width_model" if label == "width model" else "plain"
    if run.mean.shape[1] > 1:
        steps = times or list(range(HISTORY + 1, HISTORY + 1 + run.mean.shape[1]))
        per_step = result[key]["pointwise"]["levels"]
        paths.append(plot_curves({f"{p:.0%}": (steps, per_step[f"{p:g}"]["coverage_per_step"]) for p in setting.levels},
                                 out / f"coverage_vs_step_{name}.png", xlabel="t", ylabel="empirical coverage (test)",
                                 title=f"{name}: coverage per step ({label})"))
    level = max(p for p in setting.levels if p <= 0.9)
    lower, upper = bands.at_level(level).bounds(run.mean[:1], None if run.width is None else run.width[:1])
    last = run.mean.shape[1] - 1
    truth, mean = run.truth[0, last, 0], run.mean[0, last, 0]
    paths.append(plot_fields({"truth": truth, "prediction": mean, f"{level:.0%} lower": lower[0, last, 0],
                              f"{level:.0%} upper": upper[0, last, 0]}, out / f"field_band_{name}.png",
                             title=f"{name}: test function 0, last step ({label})"))
    paths.append(plot_fields({"|error|": (truth - mean).abs(), f"{level:.0%} half-width": (upper - lower)[0, last, 0] / 2},
                             out / f"error_band_{name}.png", title=f"{name}: error and band half-width ({label})"))
    row = truth.shape[0] // 2
    x = list(range(truth.shape[1]))
    paths.append(plot_curves({"truth": (x, truth[row].tolist()), "prediction": (x, mean[row].tolist()),
                              f"{level:.0%} lower": (x, lower[0, last, 0, row].tolist()),
                              f"{level:.0%} upper": (x, upper[0, last, 0, row].tolist())},
                             out / f"band_slice_{name}.png", xlabel="grid index", ylabel="field",
                             title=f"{name}: row {row} of test function 0, last step"))
    return [str(p.relative_to(out)) for p in paths]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    def extra(parser):
        parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES), help="which cases to run (default: all)")
        parser.add_argument("--corpus", type=Path, help="a corpus from `zoo data corpus` to read the transfer system from "
                            "(default: generate what the case needs under --data)")

    args = parse_args(__doc__, "conformal_uncertainty", argv, extra=extra)
    setting = QUICK if args.quick else FULL
    started = time.perf_counter()
    results: dict[str, Any] = {"protocol": {
        "bands": "split conformal (zoo.eval.conformal.conformalize), one quantile per rollout step and channel; "
                 "pointwise: marginal coverage; domain: UQNO, fraction >= level of each step's grid, w.p. >= 1 - delta",
        "width_model": f"ResidualWidth from the model's backbone and weights, Laplace scale loss, {setting.width_steps} "
                       f"AdamW steps, batch {setting.batch_size}, lr 1e-3 cosine, on every {setting.subsample}-th grid point",
        "levels": list(setting.levels), "delta": setting.delta, "seed": args.seed,
        "metric": "coverage: fraction of all test values (functions x steps x channels x points) inside; worst step: "
                  "the largest |coverage - nominal| over rollout steps; half-width relative to the rms of the truth; "
                  "relative L2 of each test trajectory, averaged; re-splits: the pooled calibration and test "
                  f"functions split again at random {setting.resplits} times (same sizes)",
    }, "cases": {}}
    plots: dict[str, list[str]] = {}

    def record(name, result, runs, times=None):
        results["cases"][name] = result
        plots[name] = write_plots(name, runs, result, setting, args.out, times)
        results["plots"] = [path for paths in plots.values() for path in paths]
        results["wall_seconds"] = time.perf_counter() - started
        write_results(args.out, results)

    pretrained = zoo.from_pretrained("fno-ns2d-nu1e-3").eval()
    prefix, n = setting.data_prefix, setting.pool + setting.width + setting.calibration
    if "ns2d-nu1e-3" in args.cases:
        # (c) the checkpoint itself at nu = 1e-3 on trajectories of its law that it never saw (its width model
        # last: the bands without one are the figures for its card).
        nu1e3 = {split: frames(ns2d_data(args.data, f"{prefix}ns2d-nu1e-3-conformal/{split}", viscosity=1e-3,
                                         steps=setting.nu1e3_steps, seed=seed, samples=size, resolution=setting.resolution))
                 for split, seed, size in (("calibration", 60, setting.calibration), ("test", 61, setting.test))}
        nu1e3_result, nu1e3_runs = calibrated_case("ns2d-nu1e-3", pretrained, nu1e3["calibration"], nu1e3["test"], setting)
        nu1e3_result["resplits"] = resplit_coverage(nu1e3_runs["calibration"], nu1e3_runs["plain"][1], setting, args.seed)
        print_resplits("ns2d-nu1e-3", nu1e3_result["resplits"])
        nu1e3_result["checkpoint"] = checkpoint_record("fno-ns2d-nu1e-3")
        nu1e3_result["data"] = (f"NS vorticity nu=1e-3, FNO forcing, {setting.resolution}x{setting.resolution}, "
                                f"t=1..{setting.nu1e3_steps}; generator seeds 62 (width model, {setting.width}), "
                                f"60 (calibration, {setting.calibration}), 61 (test, {setting.test})")
        record("ns2d-nu1e-3", nu1e3_result, nu1e3_runs)

    if "darcy" in args.cases:
        # (b) Darcy, a one-step map, on new coefficients of the law the checkpoint was trained on.
        resolution = setting.darcy_resolution
        darcy = {split: darcy_data(args.data / f"{prefix}darcy-fno-{resolution}", split, size, setting) for split, size in
                 (("calibration", setting.darcy_calibration), ("test", setting.darcy_test))}
        result, runs = calibrated_case("darcy", zoo.from_pretrained("fno-darcy").eval(), darcy["calibration"],
                                       darcy["test"], setting)
        result["resplits"] = resplit_coverage(runs["calibration"], runs["plain"][1], setting, args.seed)
        print_resplits("darcy", result["resplits"])
        result["checkpoint"] = checkpoint_record("fno-darcy")
        nodes = setting.darcy_solve_factor * (resolution - 1) + 1
        result["data"] = (f"zoo's Darcy solver, fno-darcy's law (coefficient 12 / 3 from a thresholded GRF, alpha 2, tau 3, "
                          f"f = 1, u = 0 on the boundary), solved on {nodes}x{nodes} nodes and stored at nodes 0, "
                          f"{setting.darcy_solve_factor}, {2 * setting.darcy_solve_factor}, ... ({resolution}x{resolution}); "
                          "coefficient as input: "
                          f"root seeds {DARCY_SEEDS['calibration']} (calibration, {setting.darcy_calibration}), "
                          f"{DARCY_SEEDS['test']} (test, {setting.darcy_test})")
        record("darcy", result, runs)

    if "transfer" in args.cases:
        # (d) a system of the transfer benchmark: the multi-physics checkpoint fine-tuned on it.
        result, runs = transfer_case(args, setting)
        model = runs["plain"][0].model
        every = SYSTEMS[setting.transfer.system].settings["record_every"]
        record("transfer", result, runs, times=[every * (model.history + s) for s in range(runs["plain"][1].mean.shape[1])])

    if "ns2d-nu1e-4" in args.cases:
        # (a) fine-tuned to nu = 1e-4: the ensemble example's model and data.
        train = ns2d_data(args.data, f"{prefix}ns2d-nu1e-4/train", viscosity=1e-4, steps=setting.nu1e4_steps, seed=10,
                          samples=n if args.quick else 200, resolution=setting.resolution)
        test = frames(ns2d_data(args.data, f"{prefix}ns2d-nu1e-4/test", viscosity=1e-4, steps=setting.nu1e4_steps,
                                seed=11, samples=setting.test, resolution=setting.resolution))
        pool = train.select(samples=slice(0, setting.pool))
        width_data = frames(train.select(samples=slice(setting.pool, setting.pool + setting.width)))
        calibration = frames(train.select(samples=slice(setting.pool + setting.width, n)))
        (model, _), finetune_s = timed(finetune, pretrained, pool, list(range(setting.pool)), history=HISTORY,
                                       steps=setting.finetune_steps, batch_size=setting.batch_size, lr=5e-4,
                                       warmup_steps=setting.finetune_steps // 10, subsample=setting.subsample,
                                       seed=1000 * args.seed + setting.members)
        result, runs = calibrated_case("ns2d-nu1e-4", model, calibration, test, setting)
        add_width_model("ns2d-nu1e-4", model, width_data, result, runs, setting)
        result["checkpoint"] = checkpoint_record("fno-ns2d-nu1e-3")
        result["seconds"]["finetune"] = finetune_s
        result["data"] = (f"NS vorticity nu=1e-4, FNO forcing, {setting.resolution}x{setting.resolution}, t=1..{setting.nu1e4_steps}; "
                          f"train seed 10: fine-tune 0..{setting.pool - 1}, width {setting.pool}..{setting.pool + setting.width - 1}, "
                          f"calibration {setting.pool + setting.width}..{n - 1}; test seed 11 ({setting.test})")
        record("ns2d-nu1e-4", result, runs)

    if "ns2d-nu1e-3" in args.cases:
        # (c) with its width model.
        nu1e3_width = frames(ns2d_data(args.data, f"{prefix}ns2d-nu1e-3-conformal/width", viscosity=1e-3,
                                       steps=setting.nu1e3_steps, seed=62, samples=setting.width, resolution=setting.resolution))
        add_width_model("ns2d-nu1e-3", pretrained, nu1e3_width, nu1e3_result, nu1e3_runs, setting)
        record("ns2d-nu1e-3", nu1e3_result, nu1e3_runs)

    if "ns2d-nu1e-4" in args.cases:
        # The comparison: a bootstrap ensemble at nu = 1e-4, conformally scaled on the same calibration split.
        results["ensemble_ns2d-nu1e-4"] = ensemble_case(pretrained, pool, calibration, test, setting, args.seed)
        ensemble = results["ensemble_ns2d-nu1e-4"]
        print(f"\nensemble ({setting.members} members, {ensemble['seconds']:.0f} s): relative L2 {ensemble['relative_l2']:.4f}, "
              f"std-error correlation {ensemble['std_error_correlation']:.3f}")
        print("  coverage  " + "  ".join(f"{ensemble['levels'][f'{p:g}']['coverage']:7.1%}" for p in setting.levels))
        print("  width/rms " + "  ".join(f"{ensemble['levels'][f'{p:g}']['relative_half_width']:7.3f}" for p in setting.levels))
    results["wall_seconds"] = time.perf_counter() - started
    write_results(args.out, results)
    print(f"wall time {results['wall_seconds']:.0f} s; plots and results.json in {args.out}")
    return results


if __name__ == "__main__":
    main()
