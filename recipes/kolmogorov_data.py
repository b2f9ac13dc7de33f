"""Kolmogorov-flow data (Re = 500, drag 0.1) for the long-rollout operators: generate, validate, measure.

    python recipes/kolmogorov_data.py generate reference [--samples N]  # long trajectories, 64x64
    python recipes/kolmogorov_data.py generate train [--samples N]      # short trajectories, 128x128
    python recipes/kolmogorov_data.py generate test [--samples N]       # rollout initial states, 128x128
    python recipes/kolmogorov_data.py spin-up     # energy from a random field with and without drag (figure)
    python recipes/kolmogorov_data.py validate    # 128 vs 256 from one attractor state (figures, JSON)
    python recipes/kolmogorov_data.py statistics  # the solver's statistics of the reference (targets)

Every data set goes to ``$ZOO_DATA/kolmogorov/<name>`` (default ``/work/data``), is resumable (rerun
the same command; ``--samples`` grows it) and has its own root seed, so the streams are disjoint.
The record spacing 0.1 is the Markov operator's step (see docs/kolmogorov.md for why); every
stored frame of a trajectory is one step apart. Figures go to docs/images/kolmogorov/ (small PNGs).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from zoo.cli import main as zoo_main
from zoo.data.generate import shard_samples
from zoo.data.store import read_directory, shard_name, shard_ranges
from zoo.eval.plots import plot_curves, plot_fields, plot_flow_statistics
from zoo.eval.statistics import compare_statistics, flow_statistics
from zoo.models.multiscale import spectral_resample
from zoo.pde.kolmogorov import DOMAIN_LENGTH, kolmogorov_flow
from zoo.pde.random_fields import gaussian_random_field

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ZOO_DATA", "/work/data")) / "kolmogorov"
FIGURES = ROOT / "docs" / "images" / "kolmogorov"
REYNOLDS, DRAG, RECORD_EVERY = 500.0, 0.1, 0.1

# name: (seed, shard size, recipe settings). Seeds differ, so no sample is shared between sets.
DATA_SETS = {
    "reference": (1, 1, dict(steps=10_000, resolution=64, spin_up=100.0, settle=20.0)),
    "train": (0, 10, dict(steps=50, resolution=128, spin_up=50.0, settle=5.0)),
    "test": (2, 10, dict(steps=50, resolution=128, spin_up=50.0, settle=5.0)),
}
DEFAULT_SAMPLES = {"reference": 1, "train": 100, "test": 20}


def generate_set(name: str, samples: int | None) -> None:
    """The data set through the command line, ``zoo data generate kolmogorov`` (the one way to make it)."""
    seed, shard_size, settings = DATA_SETS[name]
    options = {"reynolds": REYNOLDS, "drag": DRAG, "record-every": RECORD_EVERY, "solve-resolution": 128,
               **{key.replace("_", "-"): value for key, value in settings.items()},
               "samples": samples or DEFAULT_SAMPLES[name], "seed": seed, "shard-size": shard_size}
    argv = ["data", "generate", "kolmogorov", *(f"--{key}={value}" for key, value in options.items()), str(DATA / f"re500-{name}")]
    print("zoo " + " ".join(argv))
    if zoo_main(argv):
        raise SystemExit(1)


def attractor_state(reynolds: float, seed: int) -> torch.Tensor:
    """A 128x128 state on the attractor: 50 time units at 64x64, then 10 at 128x128 (as the recipe)."""
    w = gaussian_random_field(1, 64, seed=seed)
    w = kolmogorov_flow(w, reynolds, 50.0, 50.0, drag=DRAG)[:, -1]
    return kolmogorov_flow(spectral_resample(w, 128), reynolds, 10.0, 10.0, drag=DRAG)[:, -1]


def spin_up_with_and_without_drag(drag_free_time: float = 100.0, drag_time: float = 400.0) -> None:
    """Energy, and its part in k = 1, from one random field at 64x64, with drag 0.1 and without.

    Without drag the run stops at the first blow-up (the growing k = 1 condensate speeds the flow up).
    """
    from zoo.eval.spectra import kinetic_energy, kinetic_energy_spectrum

    curves = {}
    for drag, t_end in ((0.0, drag_free_time), (DRAG, drag_time)):
        w, times, energy, energy_k1 = gaussian_random_field(1, 64, seed=0), [], [], []
        for t in range(1, round(t_end) + 1):
            try:
                w = kolmogorov_flow(w, REYNOLDS, 1.0, 0.5, drag=drag)[:, -1]
            except FloatingPointError:
                print(f"drag {drag}: blew up before t = {t}", flush=True)
                break
            times.append(t)
            energy.append(float(kinetic_energy(w.double(), length=DOMAIN_LENGTH)))
            energy_k1.append(float(kinetic_energy_spectrum(w.double(), length=DOMAIN_LENGTH)[1][0, 1]))
        curves[f"drag {drag:g}: energy"] = (times, energy)
        curves[f"drag {drag:g}: energy in k=1"] = (times, energy_k1)
    plot_curves(curves, FIGURES / "spin-up-drag.png", xlabel="t", ylabel="kinetic energy", title="Re=500, 64x64, from one random field")


def relative_l2(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """``|a - b| / |b|`` per frame of ``(T, n, n)``."""
    return ((a - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)).tolist()


def validate(reynolds_numbers: tuple[float, ...] = (500.0, 1000.0)) -> dict:
    """Resolution check: one attractor state solved at 128x128 and 256x256 over 5 time units.

    Pointwise agreement holds until chaos separates the two solves; the spectrum and the
    dissipation, averaged over the window, are what must agree.
    """
    results = {}
    window, every = 5.0, 0.5
    for reynolds in reynolds_numbers:
        began = time.perf_counter()
        w0 = attractor_state(reynolds, seed=11)
        coarse = kolmogorov_flow(w0, reynolds, window, every, drag=DRAG)[0]
        fine = kolmogorov_flow(spectral_resample(w0, 256), reynolds, window, every, drag=DRAG)[0]
        fine_on_coarse = fine[:, ::2, ::2]
        # Point samples fold the fine solve's modes |k| > 64 into the coarse grid; compared on the
        # modes |k_x|, |k_y| <= K (``spectral_resample`` to 2K + 1 points) there is no such folding,
        # and K = 42 is all the 128 solve keeps (2/3 rule), K = 16 what a 64x64 card compares.
        resolved = {cutoff: (lambda w, c=cutoff: spectral_resample(w, 2 * c + 1)) for cutoff in (16, 32, 42)}
        stats = {n: flow_statistics(w, dt=every, viscosity=1 / reynolds, length=DOMAIN_LENGTH, max_lag=1) for n, w in (("128", coarse), ("256", fine))}
        k = stats["128"].k
        shells = slice(1, 43)  # up to the 2/3-rule cutoff of the 128 grid
        ratio = stats["128"].energy_spectrum[shells] / stats["256"].energy_spectrum[shells]
        pointwise = relative_l2(coarse, fine_on_coarse)
        tag = f"re{int(reynolds)}"
        results[tag] = {
            "window": window,
            "relative_l2_128_vs_256_per_record": [round(v, 6) for v in pointwise],
            **{f"relative_l2_on_modes_up_to_{c}_per_record": [round(v, 6) for v in relative_l2(r(coarse), r(fine))] for c, r in resolved.items()},
            "dissipation_128": stats["128"].dissipation,
            "dissipation_256": stats["256"].dissipation,
            "spectrum_ratio_128_over_256_max_deviation_k1_to_32": float((ratio[:32] - 1).abs().max()),
            "spectrum_ratio_128_over_256_max_deviation_k1_to_42": float((ratio - 1).abs().max()),
            "energy_spectrum_256_at_k42_over_peak": float(stats["256"].energy_spectrum[42] / stats["256"].energy_spectrum.max()),
            "seconds": round(time.perf_counter() - began, 1),
        }
        print(tag, json.dumps(results[tag]), flush=True)
        plot_curves(
            {"128x128": (k[1:].tolist(), stats["128"].energy_spectrum[1:].tolist()),
             "256x256": (stats["256"].k[1:].tolist(), stats["256"].energy_spectrum[1:].tolist())},
            FIGURES / f"convergence-spectrum-{tag}.png", xlabel="k", ylabel="E(k)", logx=True, logy=True,
            title=f"Re={int(reynolds)}, drag {DRAG}: mean over {window:g} time units from one state",
        )
        plot_fields({"128x128": coarse[-1], "256x256 (every 2nd point)": fine_on_coarse[-1]}, FIGURES / f"convergence-field-{tag}.png",
                    title=f"t = {window:g} after the common state")
    path = DATA / "validation.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(previous | results, indent=2) + "\n")
    return results


def reference_statistics() -> dict:
    """The solver's statistics of the reference trajectories, block means for stationarity, and plots."""
    fields, manifest = read_directory(DATA / "re500-reference")
    w = fields["vorticity"].double()
    stats = flow_statistics(w, dt=RECORD_EVERY, viscosity=1 / REYNOLDS, length=DOMAIN_LENGTH, max_lag=min(2000, w.shape[1] // 2))
    block = round(100 / RECORD_EVERY)
    blocks = []
    for start in range(0, w.shape[1] - block + 1, block):
        piece = w[:, start : start + block]
        blocks.append({
            "t": [start * RECORD_EVERY, (start + block) * RECORD_EVERY],
            "energy": float(stats.energy[:, start : start + block].mean()),
            "dissipation": (1 / REYNOLDS) * float(piece.square().mean()),
            "vorticity_std": float(piece.std()),
        })
    summary = {"samples": w.shape[0], "frames": w.shape[1], "record_every": RECORD_EVERY, **stats.summary(),
               "energy_spectrum": stats.energy_spectrum.tolist(), "blocks_of_100_time_units": blocks}
    finished = _finished_samples(DATA / "re500-train")
    if finished:
        # Two independent solver data sets: the distances' floor from sampling alone (and a check that
        # the short trajectories' spin-up reached the same attractor as the long one's).
        train = read_directory(DATA / "re500-train", (0, finished))[0]["vorticity"][..., ::2, ::2]
        distances, train_stats, _ = compare_statistics(train, w, dt=RECORD_EVERY, viscosity=1 / REYNOLDS, length=DOMAIN_LENGTH)
        distances.pop("correlation_time_relative_error")  # 5-unit trajectories cannot measure it
        summary["train_set_vs_reference"] = {"train_samples": finished, **distances, "train_summary": train_stats.summary()}
        plot_curves(
            {"reference (long)": (stats.k[1:33].tolist(), stats.energy_spectrum[1:33].tolist()),
             f"train set ({finished} x 5 time units, every 2nd point)": (train_stats.k[1:33].tolist(), train_stats.energy_spectrum[1:33].tolist())},
            FIGURES / "train-vs-reference-spectrum.png", xlabel="k", ylabel="E(k)", logx=True, logy=True,
        )
    (DATA / "reference_statistics.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_flow_statistics({"solver 128x128 (stored 64x64)": stats}, FIGURES, prefix="reference-")
    print(json.dumps({k: v for k, v in summary.items() if k != "energy_spectrum"}, indent=1))
    return summary


def _finished_samples(directory: Path) -> int:
    """How many leading samples of a (possibly still generating) data set are in finished shards."""
    if not (directory / "dataset.json").exists():
        return 0
    manifest = json.loads((directory / "dataset.json").read_text())
    count = 0
    for index, (start, stop) in enumerate(shard_ranges(manifest["samples"], manifest["shard_size"])):
        if shard_samples(directory / shard_name(index)) != (start, stop):
            break
        count = stop
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["generate", "validate", "statistics", "spin-up"])
    parser.add_argument("name", nargs="?", choices=sorted(DATA_SETS), help="data set to generate")
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--reynolds", type=float, nargs="+", default=[500.0, 1000.0], help="validate these")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.action == "generate":
        if args.name is None:
            parser.error("generate needs a data set name")
        generate_set(args.name, args.samples)
    elif args.action == "spin-up":
        spin_up_with_and_without_drag()
    elif args.action == "validate":
        validate(tuple(args.reynolds))
    else:
        reference_statistics()


if __name__ == "__main__":
    main()
