"""Darcy flow in the FNO paper's setting: generate the data (resumable), check its grid, write its card.

    python recipes/darcy_fno_data.py generate [validation test train]  # all three by default; rerun to resume
    python recipes/darcy_fno_data.py validate [--samples 5]             # refinement study and solve cost
    python recipes/darcy_fno_data.py card                               # DATACARD.md from what is finished

The law, solver and grids are ``zoo.data.equations.darcy_fno_recipe`` (coefficient 12 / 3 from a
thresholded Neumann Gaussian random field, f = 1, u = 0 on the boundary, 421 x 421 nodes; the 85,
141 and 211 grids are every 5th, 3rd and 2nd node). Each split is a data set of its own root seed
(``DARCY_FNO_SPLITS``: train 1000 / validation 100 / test 200, seeds 0 / 2 / 1), written to
``$ZOO_DATA/darcy/fno-paper/<split>`` (default ``/work/data``) in shards of 20 samples, one sparse
solve each: an interrupted run loses at most the shard in progress. ``validate`` uses seed 3, which
no split uses.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import time
from pathlib import Path

import numpy as np
import scipy.interpolate
import torch

from zoo.data.equations import DARCY_FNO_GRIDS, DARCY_FNO_NODES, DARCY_FNO_SPLITS, darcy_fno_recipe
from zoo.data.generate import generate, sample_generators, shard_samples
from zoo.data.store import read_manifest, read_shard, shard_name, shard_ranges
from zoo.files import atomic_write_text
from zoo.pde.darcy import darcy_2d, threshold_coefficient

DATA = Path(os.environ.get("ZOO_DATA", "/work/data")) / "darcy" / "fno-paper"
SHARD_SIZE = 20
REFINEMENT_SEED = 3  # the refinement study's samples: a seed no split uses


def generate_split(root: Path, split: str, samples: int | None = None) -> None:
    """Generate (or finish) one split; ``samples`` below the split's size makes a prefix of it."""
    spec = DARCY_FNO_SPLITS[split]
    command = shlex.join(["python", "recipes/darcy_fno_data.py", "generate", split])
    generate(root / split, darcy_fno_recipe(), samples=samples or spec["samples"], seed=spec["seed"], shard_size=SHARD_SIZE, command=command)


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _interpolated(u: np.ndarray, nodes: int) -> np.ndarray:
    """Bilinear interpolation of ``u`` on ``n x n`` nodes of [0, 1]^2 to ``nodes x nodes`` nodes."""
    source, target = np.linspace(0, 1, u.shape[0]), np.linspace(0, 1, nodes)
    points = np.stack(np.meshgrid(target, target, indexing="ij"), axis=-1)
    return scipy.interpolate.RegularGridInterpolator((source, source), u)(points)


def refinement_study(samples: int, *, nodes: int = DARCY_FNO_NODES) -> dict:
    """Each sample's coefficient on ``nodes`` nodes, solved there and on its every 2nd and 4th node.

    Differences at the common nodes give the observed order of convergence ``p`` and, by
    Richardson's argument, the error of the ``nodes``-node data itself, ``d(half, full) / (2^p - 1)``;
    the half-grid solve, interpolated bilinearly to the 85 and 141 grids, says what data solved
    on 211 nodes would be worth there. Solve times are one thread, with the load average beside them.
    """
    half, quarter = (nodes - 1) // 2 + 1, (nodes - 1) // 4 + 1
    per_sample = []
    for index, generator in enumerate(sample_generators(REFINEMENT_SEED, 0, samples)):
        a = threshold_coefficient(1, nodes, generator=generator)
        seconds, cpu_seconds, solutions = {}, {}, {}
        for n, stride in ((nodes, 1), (half, 2), (quarter, 4)):
            began, began_cpu = time.perf_counter(), time.process_time()
            solutions[n] = darcy_2d(a[:, ::stride, ::stride], 1.0)[0].numpy()
            seconds[n] = round(time.perf_counter() - began, 3)
            cpu_seconds[n] = round(time.process_time() - began_cpu, 3)
        fine = solutions[nodes]
        record = {
            "sample": index,
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,  # one thread: the cost on a core of its own
            "load_average": round(os.getloadavg()[0], 2),
            f"{half}_vs_{nodes}": _relative(solutions[half], fine[::2, ::2]),
            f"{quarter}_vs_{half}": _relative(solutions[quarter], solutions[half][::2, ::2]),
        }
        for stride in DARCY_FNO_GRIDS.values():
            grid = (nodes - 1) // stride + 1
            if stride > 2 and (nodes - 1) % stride == 0:
                record[f"{half}_interpolated_vs_{nodes}_at_{grid}"] = _relative(_interpolated(solutions[half], grid), fine[::stride, ::stride])
        record["order"] = math.log2(record[f"{quarter}_vs_{half}"] / record[f"{half}_vs_{nodes}"])
        record[f"estimated_error_of_{nodes}"] = record[f"{half}_vs_{nodes}"] / (2 ** record["order"] - 1)
        print(json.dumps(record), flush=True)
        per_sample.append(record)
    keys = [k for k in per_sample[0] if k not in ("sample", "seconds", "cpu_seconds", "load_average")]
    summary = {k: {"mean": float(np.mean([r[k] for r in per_sample])), "max": float(np.max([r[k] for r in per_sample]))} for k in keys}
    for timing in ("seconds", "cpu_seconds"):
        summary[timing] = {str(n): float(np.mean([r[timing][n] for r in per_sample])) for n in per_sample[0][timing]}
    return {"nodes": nodes, "seed": REFINEMENT_SEED, "samples": samples, "threads": torch.get_num_threads(),
            "summary": summary, "per_sample": per_sample}


def split_statistics(directory: Path) -> dict:
    """Status of a split: samples asked and done, solve seconds, and field statistics of the finished shards."""
    manifest = read_manifest(directory)
    ranges = shard_ranges(manifest["samples"], manifest["shard_size"])
    done = [i for i, r in enumerate(ranges) if shard_samples(directory / shard_name(i)) == r]
    seconds, high, count, total, squares, largest, peaks = 0.0, 0.0, 0, 0.0, 0.0, -math.inf, []
    for index in done:  # running sums: a split at 421 nodes is 1.4 GB of float64 at once
        fields, metadata = read_shard(directory / shard_name(index))
        seconds += metadata["shard"]["seconds"]
        u = fields["pressure"].double().flatten(1)
        high += float((fields["coefficient"] == 12).double().mean((1, 2)).sum())
        count, total, squares = count + u.numel(), total + float(u.sum()), squares + float((u * u).sum())
        largest = max(largest, float(u.max()))
        peaks += u.max(1).values.tolist()
    stats = {"samples": manifest["samples"], "generated": sum(ranges[i][1] - ranges[i][0] for i in done),
             "seed": manifest["seed"], "solve_seconds": round(seconds, 1)}
    if done:
        mean = total / count
        stats |= {"fraction_of_12": high / len(peaks), "pressure_mean": mean, "pressure_std": math.sqrt(max(squares / count - mean**2, 0.0)),
                  "pressure_max": largest, "pressure_max_per_sample_range": [min(peaks), max(peaks)]}
    return stats


def write_card(root: Path) -> Path:
    """``root/DATACARD.md``: the data set's definition, progress, statistics and the refinement check."""
    recipe = darcy_fno_recipe()
    d = recipe.description
    splits = {name: split_statistics(root / name) if (root / name / "dataset.json").is_file() else {"samples": spec["samples"], "seed": spec["seed"], "generated": 0}
              for name, spec in DARCY_FNO_SPLITS.items()}
    lines = [
        "# Darcy flow in the FNO paper's setting (zoo)",
        "",
        "- Equation: -div(a grad u) = f on the unit square, f = 1, u = 0 on the boundary (Li et al. 2021, sec. 5.2).",
        "- Coefficient: a = 12 where a Neumann Gaussian random field N(0, (-lap + 9 I)^-2) is >= 0, else 3 "
        "(`zoo.pde.darcy.threshold_coefficient`, alpha 2, tau 3: the paper's MATLAB `GRF` cosine series), drawn on the 421 x 421 nodes.",
        f"- Solver: `{d['solver']['function']}`, {d['solver']['scheme']}, float64, {DARCY_FNO_NODES} x {DARCY_FNO_NODES} nodes "
        "x_i = i / 420 including the boundary; stored as float32.",
        "- Fields: `coefficient` (N, 421, 421) and `pressure` (N, 1, 421, 421) (one time step: the problem is steady).",
        "- Grids: " + "; ".join(f"{g} x {g} = {text}" for g, text in d["grids"].items())
        + " (`load_fields(path, subsample=k)`), as the paper's 85, 141, 211 grids are of its 421 solves.",
        "- Seeds: split s has root seed seed_s; sample i is drawn from `torch.Generator().manual_seed(zoo.data.generate.sample_seed(seed_s, i))`; "
        "the splits' seed intervals are disjoint (tested in tests/test_data_recipes.py).",
        "",
        "| split | samples | generated | root seed | generation wall time (s, one thread, shared machine) | fraction of a = 12 | pressure mean | std | max |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in splits.items():
        numbers = [f"{s[k]:.4g}" if k in s else "" for k in ("fraction_of_12", "pressure_mean", "pressure_std", "pressure_max")]
        lines.append(f"| {name} | {s['samples']} | {s['generated']} | {s['seed']} | {s.get('solve_seconds', '')} | {' | '.join(numbers)} |")
    refinement = root / "refinement.json"
    if refinement.is_file():
        r = json.loads(refinement.read_text())
        m = r["summary"]
        lines += [
            "",
            f"Refinement check ({r['samples']} coefficients of seed {r['seed']}, each drawn on 421 nodes and solved on its every 1st, 2nd and 4th "
            "node; relative L2 at the common nodes, mean [max]; `python recipes/darcy_fno_data.py validate`):",
            "",
            f"- 211-node solve vs 421: {m['211_vs_421']['mean']:.2e} [{m['211_vs_421']['max']:.2e}]; 106 vs 211: {m['106_vs_211']['mean']:.2e} "
            f"[{m['106_vs_211']['max']:.2e}]; observed order {m['order']['mean']:.2f}.",
            f"- Estimated error of the 421-node data itself (Richardson, d(211, 421) / (2^p - 1)): {m['estimated_error_of_421']['mean']:.2e} "
            f"[{m['estimated_error_of_421']['max']:.2e}], against the paper's FNO error of 1.08e-2 at 85 x 85.",
            f"- A 211-node solve interpolated bilinearly to the 85 and 141 grids: {m['211_interpolated_vs_421_at_85']['mean']:.2e} and "
            f"{m['211_interpolated_vs_421_at_141']['mean']:.2e} from the 421 data there.",
            "- Solve cost per sample, one thread, CPU seconds (wall seconds on this shared machine, load average "
            f"{np.mean([p['load_average'] for p in r['per_sample']]):.1f} on 2 cores): "
            + ", ".join(f"{n} nodes {m['cpu_seconds'][n]:.2f} ({s:.2f})" for n, s in m["seconds"].items()) + ".",
        ]
    lines += [
        "",
        "Differences from the paper's files (`piececonst_r421_N1024_smooth1/2.mat`): other random draws (zoo's seeds); the coefficient is "
        "thresholded at the nodes and the face coefficients are means of two nodes, where the paper's `solve_gwf` spline-interpolates "
        "the thresholded cell-centre field to the nodes first; 200 test samples (the paper used 100) and a separate validation split.",
        "",
        "Generate or resume: `python recipes/darcy_fno_data.py generate` (each split's `dataset.json` records its command).",
    ]
    root.mkdir(parents=True, exist_ok=True)
    path = root / "DATACARD.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("generate", "validate", "card"))
    parser.add_argument("splits", nargs="*", help="generate: which splits (default all, in this order: validation test train)")
    parser.add_argument("--samples", type=int, help="generate: only the first N samples of each split; validate: coefficients to check (default 5)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.splits) - set(DARCY_FNO_SPLITS))
    if unknown:
        parser.error(f"unknown splits {unknown}; choose from {sorted(DARCY_FNO_SPLITS)}")
    torch.set_num_threads(args.threads)
    if args.command == "generate":
        for split in args.splits or ("validation", "test", "train"):
            generate_split(args.data, split, args.samples)
            write_card(args.data)
    elif args.command == "validate":
        results = refinement_study(args.samples or 5)
        args.data.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.data / "refinement.json", json.dumps(results, indent=2) + "\n")
        write_card(args.data)
    print(write_card(args.data).read_text())


if __name__ == "__main__":
    main()
