"""Calibrated 90% bands for the NS checkpoints' cards: conformal calibration on held-out trajectories.

    python recipes/calibrated_bands.py --data DIR [DIR ...] [--folds 5] [--write-cards]

For each checkpoint named (default: the three ``ns2d-nu1e-3`` time steppers), the free rollout
w(t = 11..50) from w(t = 1..10) gets bands from ``zoo.eval.conformalize`` (pointwise split conformal,
one quantile per rollout step, no width model). The trajectories of every ``--data`` directory are
pooled (they must be exchangeable: one law, disjoint seeds, unseen in training) and cross-fitted:
split at random (``--seed``) into ``--folds`` folds, each fold is scored by the band calibrated on
all the other folds, so every function is a test function once and each band is calibrated on
``(folds - 1) / folds`` of the pool. Reported: coverage at 50/80/90/95% overall and per step (the
calibration curve at those levels), UQNO's domain guarantee at 90% (delta 0.1), the mean half-width and its ratio to
the truth's rms (averaged over the folds' bands), and the CPU seconds of a calibration (the
rollouts, per function, and the quantiles; one torch thread). Why cross-fitting: the error scale
varies several-fold between initial conditions, so one fixed split of a few hundred functions
moves the measured coverage by 1-2 points by chance (BENCHMARKS.md, conformal section); scoring
every function once halves that noise at no extra data.

Data used for the cards (checkpoints trained on seed 0)::

    zoo data generate ns2d --viscosity 1e-3 --steps 50 --resolution 64 --samples 100 --seed 1 DIR  # accuracy test set
    zoo data generate ns2d --viscosity 1e-3 --steps 50 --resolution 64 --samples 50 --seed 60 DIR  # and seeds 61, 62

Rollouts are cached in ``--cache`` (rescoring costs seconds). ``--write-cards`` stores the figures
in each checkpoint's ``evaluation.json`` (key ``uncertainty``), its coverage-per-step plot in
``plots/``, and regenerates the cards; the weights are never rewritten.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from common import ROOT

from zoo.data import load_fields
from zoo.eval import plot_curves
from zoo.eval.conformal import Predictions, band_metrics, conformalize, predict
from zoo.files import atomic_write_text
from zoo.hub import from_pretrained
from zoo.hub.cards import write_pretrained_cards

CHECKPOINTS = ("fno-ns2d-nu1e-3", "afno-ns2d-nu1e-3", "transformer-fno-ns2d-nu1e-3")
LEVELS = (0.5, 0.8, 0.9, 0.95)
DOMAIN_LEVEL, DELTA = 0.9, 0.1
FIRST_PREDICTED = 11  # frames t = 1..10 are the context


def trajectories(directory: Path) -> torch.Tensor:
    """``(N, 50, 1, 64, 64)`` vorticity at t = 1..50 (frame t = 0 dropped, as the checkpoints were trained)."""
    return load_fields(directory).trajectories[:, 1:]


def cache_path(cache: Path, name: str, directory: Path) -> Path:
    return cache / name / f"{directory.parent.name}-{directory.name}.pt"


def cached_run(model, directory: Path, cache: Path) -> tuple[Predictions, float]:
    """The model's rollout on ``directory``'s trajectories (cached in ``cache``) and the CPU seconds it took."""
    if not cache.exists():
        started = time.process_time()
        run = predict(model, trajectories(directory), name=directory.name)
        seconds = time.process_time() - started
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"mean": run.mean, "truth": run.truth, "given": run.given.clone(), "cpu_seconds": seconds}, cache)
    stored = torch.load(cache, weights_only=True)
    return Predictions(stored["mean"], stored["truth"], stored["given"], rollout=True), float(stored["cpu_seconds"])


def seeds(directory: Path) -> str:
    manifest = json.loads((directory / "dataset.json").read_text())
    return f"seed {manifest['seed']}, {manifest['samples']} trajectories"


def concatenate(runs: list[Predictions]) -> Predictions:
    return Predictions(*(torch.cat([getattr(r, key) for r in runs]) for key in ("mean", "truth", "given")), rollout=True)


def fold_average(results: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    """``band_metrics`` figures of several folds, averaged with weights ``sizes`` (test functions per fold)."""
    total = sum(sizes)
    averaged = {}
    for level, first in results[0]["levels"].items():
        averaged[level] = {}
        for key, value in first.items():
            values = [torch.as_tensor(r["levels"][level][key], dtype=torch.float64) for r in results]
            averaged[level][key] = (sum(v * n for v, n in zip(values, sizes)) / total).tolist()
    return {**{k: v for k, v in results[0].items() if k != "levels"}, "test_functions": total, "levels": averaged}


def calibrate(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Cross-fitted figures: each fold's functions scored by the band calibrated on all the others."""
    model = from_pretrained(name).eval()
    runs = [cached_run(model, d, cache_path(args.cache, name, d)) for d in args.data]
    pool, rollout_s = concatenate([run for run, _ in runs]), sum(seconds for _, seconds in runs)
    n = pool.mean.shape[0]
    folds = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed)).chunk(args.folds)
    pointwise, domain, quantile_s = [], [], 0.0
    for fold in folds:
        rest = torch.ones(n, dtype=torch.bool)
        rest[fold] = False
        calibration, test = (Predictions(pool.mean[i], pool.truth[i], pool.given[i], rollout=True) for i in (rest, fold))
        started = time.process_time()
        bands = conformalize(model, calibration, 0.9)
        quantile_s += time.process_time() - started
        pointwise.append(band_metrics(bands, test, LEVELS))
        domain.append(band_metrics(bands.at_level(DOMAIN_LEVEL, mode="domain", delta=DELTA), test, [DOMAIN_LEVEL]))
    sizes = [len(fold) for fold in folds]
    return {"checkpoint": name, "functions": n, "folds": args.folds, "seed": args.seed,
            "calibration_functions": n - max(sizes), "test_functions": n,
            "cpu_seconds": {"rollouts_per_function": rollout_s / n, "quantiles_per_calibration": quantile_s / args.folds},
            "pointwise": fold_average(pointwise, sizes),
            "domain": fold_average(domain, sizes)}


def card_entry(result: dict[str, Any], description: str) -> dict[str, Any]:
    """``evaluation.json``'s ``uncertainty``: pointwise rows give the fraction of test values inside; the domain
    row the fraction of test (trajectory, step) pairs with >= level of the grid inside (its guarantee)."""
    rows = []
    for mode, coverage, per_step in (("pointwise", "coverage", "coverage_per_step"),
                                     ("domain", "domain_coverage", "domain_coverage_per_step")):
        for level, figures in result[mode]["levels"].items():
            rows.append({"level": float(level), "mode": mode, "half_width": round(figures["half_width"], 5),
                         "relative_half_width": round(figures["relative_half_width"], 5),
                         "coverage": round(figures[coverage], 4),
                         "coverage_per_step": [round(min(figures[per_step]), 4), round(max(figures[per_step]), 4)],
                         "calibration_functions": result["calibration_functions"],
                         "test_functions": result["test_functions"]})
    return {"description": description, "results": rows}


def coverage_plot(result: dict[str, Any], path: Path) -> Path:
    levels = result["pointwise"]["levels"]
    steps = len(next(iter(levels.values()))["coverage_per_step"])
    times = list(range(FIRST_PREDICTED, FIRST_PREDICTED + steps))
    curves = {f"{float(level):.0%} band": (times, figures["coverage_per_step"]) for level, figures in levels.items()}
    curves |= {f"{float(level):.0%} nominal": (times, [float(level)] * steps) for level in levels}
    return plot_curves(curves, path, xlabel="t", ylabel="coverage of held-out trajectories",
                       title=f"{result['checkpoint']}: conformal bands per rollout step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", required=True,
                        help="held-out trajectories of the training law (zoo data generate), pooled")
    parser.add_argument("--folds", type=int, default=5, help="cross-fitting folds (calibrate on the others, score one)")
    parser.add_argument("--seed", type=int, default=0, help="the random assignment of functions to folds")
    parser.add_argument("--checkpoints", nargs="+", default=list(CHECKPOINTS))
    parser.add_argument("--cache", type=Path, default=ROOT / "outputs" / "calibrated_bands")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "calibrated_bands" / "results.json")
    parser.add_argument("--write-cards", action="store_true", help="store the figures in evaluation.json, regenerate cards")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.checkpoints:
        results[name] = result = calibrate(name, args)
        levels = result["pointwise"]["levels"]
        print(f"{name}: {result['calibration_functions']} calibration / {result['test_functions']} test functions; "
              + ", ".join(f"{float(level):.0%}: coverage {f['coverage']:.1%} (steps {min(f['coverage_per_step']):.1%}-"
                          f"{max(f['coverage_per_step']):.1%}), +-{f['half_width']:.4g}" for level, f in levels.items())
              + f"; domain {result['domain']['levels'][f'{DOMAIN_LEVEL:g}']['domain_coverage']:.1%}", flush=True)
        atomic_write_text(args.out, json.dumps(results, indent=1) + "\n")
    if not args.write_cards:
        return
    for name, result in results.items():
        store_figures(name, result, args.data)
    for name in write_pretrained_cards({name: ROOT / "pretrained" / name for name in results}):
        print(f"card regenerated: {name}")


def store_figures(name: str, result: dict[str, Any], data: list[Path]) -> None:
    """``result`` as the checkpoint's ``evaluation.json`` ``uncertainty`` entry, and its coverage-per-step plot."""
    directory = ROOT / "pretrained" / name
    seconds = result["cpu_seconds"]
    description = (
        f"Split conformal bands around the free rollout t = 11..50 (`zoo.eval.conformalize(model, calibration, level)`, "
        f"one quantile per rollout step, no width model). Data: {result['functions']} held-out trajectories of zoo's "
        f"generator ({'; '.join(seeds(d) for d in data)}), all of the training law (nu = 1e-3, FNO forcing, 64x64) "
        f"and unseen in training, split at random (seed {result['seed']}) into {result['folds']} folds; each fold is "
        f"scored by the band calibrated on the other {result['calibration_functions']} trajectories (cross-fitting: "
        f"every trajectory is a test function once). Coverage: fraction of all test values (trajectories x steps x "
        f"grid points) inside the band; 'pointwise' guarantees it on average (>= level, and at most level / n above "
        f"for n calibration trajectories), 'domain' (UQNO, delta = {DELTA}) guarantees that w.p. >= {1 - DELTA:.0%} a "
        f"new trajectory has >= {DOMAIN_LEVEL:.0%} of each step's grid inside (its 'coverage' column here is the "
        f"fraction of test (trajectory, step) pairs that do). Cross-fitting measures these expected coverages; the "
        f"band of one calibration set of n trajectories covers new ones within about s / sqrt(n) (sd) of them, s being "
        f"the spread of single trajectories' coverage: 10 points for fno-ns2d-nu1e-3 (0.7 with n = 200, 1.5 with "
        f"n = 50), as the error's size varies several-fold between initial conditions (BENCHMARKS.md, conformal "
        f"section). Half-width: mean over the "
        f"rollout (it grows with t: see the plot). Valid only for data exchangeable with the calibration set: "
        f"recalibrate for another viscosity, forcing or grid with "
        f"`zoo eval {name} --data TEST --calibration CALIB --level 0.9` (>= 100 calibration trajectories). "
        f"Calibration cost on {result['calibration_functions']} trajectories: "
        f"{seconds['rollouts_per_function'] * result['calibration_functions']:.0f} CPU seconds of rollouts and "
        f"{seconds['quantiles_per_calibration']:.1f} s of quantiles, one thread on a loaded 2-core machine "
        f"(recipes/calibrated_bands.py)."
    )
    evaluation_path = directory / "evaluation.json"
    evaluation = json.loads(evaluation_path.read_text())
    evaluation["uncertainty"] = card_entry(result, description)
    atomic_write_text(evaluation_path, json.dumps(evaluation, indent=2) + "\n")
    coverage_plot(result, directory / "plots" / "conformal_coverage_per_step.png")


if __name__ == "__main__":
    main()
