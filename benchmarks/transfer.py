"""The transfer benchmark of issue #16 (section 4): what multi-physics pretraining buys on unseen systems.

    OMP_NUM_THREADS=1 python benchmarks/transfer.py --corpus /work/data/corpus --out /work/data/transfer
    python benchmarks/transfer.py --quick --out /tmp/transfer-quick   # synthetic data, tiny models: seconds

Protocol. For each downstream system of :mod:`zoo.data.corpus` whose train/val/test splits are on
disk: the train pool is permuted with ``sample_seed(seed, 0)`` and its first ``N`` trajectories
train (so the subsets of one seed are nested); the whole ``val`` split is the early-stopping
validation set and the whole ``test`` split (>= 32 trajectories, sample seeds disjoint from the
train and val seeds: checked before any run) the test set. Every arm runs through
:func:`zoo.train.arrays.finetune_on_arrays` (the user's path) with early stopping on the validation
error of ``--validation-steps``-step free rollouts (``--patience`` epochs, at most ``--max-epochs``;
a short horizon, because on the chaotic systems every model's long rollout decorrelates and a
saturated metric stops barely trained models), the same lr, batch and schedule:

* ``scratch``: the multi-physics architecture (``--source``), random initialisation;
* ``scratch_fno``: the ``--ns-source`` FNO architecture, random initialisation (new heads when the
  field count differs);
* ``finetuned``: ``--source``, every weight trained (unknown fields added with ``with_fields``);
* ``finetuned_lora``: ``--source`` with its spectral weights frozen and trainable rank-``--lora-rank``
  updates per Fourier mode (``spectral="lora"``); the pointwise layers and field encoders train;
* ``finetuned_ns_fno``: the old single-PDE NS checkpoint ``--ns-source`` as the source;
* ``zero_shot``: ``--source`` as it is, where it knows every field (no training; one run per system).

Metrics (``metrics.json`` of each run, ``zoo.eval.rollout.time_stepper_metrics``): test one-step
relative L2 (mean over every window of a trajectory) and the relative L2 of the free rollout's
frame at step 10, each a mean over test trajectories with its 95% interval; across seeds the mean,
standard deviation and min/max. The sample-efficiency factor: the ``N`` at which the scratch curve
(log-log, piecewise linear) reaches the fine-tuned error at ``N = 16``, divided by 16.

Resumable: a run whose ``metrics.json`` exists is reused, an interrupted one resumes from its last
checkpoint. Results: ``--results`` (JSON and Markdown) and a PNG per metric.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.data.fields import FieldData
from zoo.data.generate import sample_seed
from zoo.files import atomic_write_text

ARMS = ("scratch", "scratch_fno", "finetuned", "finetuned_lora", "finetuned_ns_fno", "zero_shot")
METRICS = ("one_step_relative_l2", "step_10_relative_l2")
REFERENCE_N = 16
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class System:
    """One downstream system: its splits ``(N, T, C, H, W)`` and each split's sample seeds."""

    name: str
    train: FieldData
    val: FieldData
    test: FieldData
    seeds: dict[str, list[int]]


def sample_seeds(dataset_json: Path) -> list[int]:
    """The generator seed of every sample of a ``zoo data generate`` data set (its ``dataset.json``)."""
    manifest = json.loads(dataset_json.read_text())
    return [sample_seed(manifest["seed"], i) for i in range(manifest["samples"])]


def check_disjoint(seeds: dict[str, list[int]], system: str) -> None:
    """Raise ``ValueError`` if two splits share a sample seed (the test set must be unseen in training)."""
    names = sorted(seeds)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = set(seeds[a]) & set(seeds[b])
            if shared:
                raise ValueError(f"{system}: splits {a} and {b} share {len(shared)} sample seed(s), e.g. {min(shared)}")


def load_system(corpus: Path, name: str, resolution: int | None) -> System | None:
    """The splits of ``name`` under ``corpus``, resampled to ``resolution``; ``None`` until all three are complete."""
    from zoo.data import load_fields
    from zoo.models import spectral_resample

    splits = {}
    for split in ("train", "val", "test"):
        directory = corpus / name / split
        stats = directory / "stats.json"  # written when the split is complete
        if not stats.exists():
            return None
        data = load_fields(directory)
        if resolution and tuple(data.trajectories.shape[-2:]) != (resolution, resolution):
            data = dataclasses.replace(data, trajectories=spectral_resample(data.trajectories, resolution),
                                       static=None if data.static is None else spectral_resample(data.static, resolution))
        splits[split] = data
    seeds = {split: sample_seeds(corpus / name / split / "dataset.json") for split in splits}
    return System(name, splits["train"], splits["val"], splits["test"], seeds)


def training_subset(pool: int, n: int, seed: int) -> list[int]:
    """The first ``n`` of a seeded permutation of ``pool`` trajectories: nested in ``n`` for one seed."""
    if n > pool:
        raise ValueError(f"N={n} training trajectories asked, the train pool holds {pool}")
    order = torch.randperm(pool, generator=torch.Generator().manual_seed(sample_seed(seed, 0)))
    return order[:n].tolist()


def sample_efficiency(sizes: list[float], errors: list[float], target: float, reference: float = REFERENCE_N) -> dict[str, Any]:
    """How many times more trajectories than ``reference`` the curve ``errors(sizes)`` needs to reach ``target``.

    The curve is piecewise linear in (log N, log error); the first N where it reaches ``target``
    (scanning N upwards) over ``reference`` is the factor. Outside the measured range the factor is
    ``None`` and ``note`` says which side.
    """
    points = sorted(zip(sizes, errors))
    if points[0][1] <= target:
        return {"factor": None, "note": f"below the measured range (scratch already reaches it at N={points[0][0]:g})"}
    for (n0, e0), (n1, e1) in zip(points, points[1:]):
        if e1 <= target:
            fraction = (math.log(target) - math.log(e0)) / (math.log(e1) - math.log(e0))
            n = math.exp(math.log(n0) + fraction * (math.log(n1) - math.log(n0)))
            return {"factor": n / reference, "n_scratch": n, "note": "interpolated"}
    return {"factor": None, "note": f"beyond the measured range (scratch at N={points[-1][0]:g} is still worse)"}


def run_arm(system: System, arm: str, n: int, seed: int, args: argparse.Namespace) -> dict[str, Any] | None:
    """One (system, N, arm, seed) run through ``finetune_on_arrays``; its ``metrics.json`` is reused if present."""
    from zoo.train.arrays import finetune_on_arrays

    if arm == "zero_shot":
        return None  # evaluated once per system by zero_shot()
    directory = args.out / system.name / f"N{n}" / arm / f"seed{seed}"
    scratch = arm.startswith("scratch")
    run = directory / ("scratch" if scratch else "finetuned")
    if (run / "metrics.json").exists():
        return json.loads((run / "metrics.json").read_text())
    if args.report_only:
        return None
    data = write_arrays(system, n, seed, args.out)
    source = args.ns_source if arm.endswith("fno") else args.source
    return finetune_on_arrays(
        source, data["train"], eval_data=data["test"], validation_data=data["val"], fields=system.train.channels,
        scratch=scratch, out=directory, seed=seed, max_epochs=args.max_epochs, patience=args.patience,
        validation_steps=args.validation_steps, lr=args.lr, spectral="lora" if arm == "finetuned_lora" else "train",
        lora_rank=args.lora_rank,
        batch_size=args.batch_size, device=args.device, resume=(run / "checkpoints").exists(), progress=args.progress,
    )


def zero_shot(system: System, args: argparse.Namespace) -> dict[str, Any] | None:
    """The pretrained multi-physics model on the test set without training, where it knows every field."""
    from zoo.hub import from_pretrained
    from zoo.models.multiphysics_stepper import as_stepper
    from zoo.train.arrays import REPORTED_STEP, trajectory_errors

    model = from_pretrained(args.source)
    if any(name not in model.fields for name in system.test.channels):
        return None
    path = args.out / system.name / "zero_shot" / "metrics.json"
    if path.exists():
        return json.loads(path.read_text())
    if args.report_only:
        return None
    stepper = as_stepper(model, system.test.channels).eval()
    metrics = {"test": {"trajectories": system.test.num_samples, **trajectory_errors(stepper, system.test, stepper.history, stepper.channels)},
               "reported_step": REPORTED_STEP}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(metrics, indent=2) + "\n")
    return metrics


def write_arrays(system: System, n: int, seed: int, out: Path) -> dict[str, Path]:
    """``.npy`` files of the run's training subset and of the system's validation and test sets."""
    folder = out / system.name / "arrays"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"train": folder / f"train-N{n}-seed{seed}.npy", "val": folder / "val.npy", "test": folder / "test.npy"}
    parts = {"train": system.train.trajectories[training_subset(system.train.num_samples, n, seed)],
             "val": system.val.trajectories, "test": system.test.trajectories}
    for name, path in paths.items():
        if not path.exists():
            partial = path.with_suffix(".partial.npy")
            np.save(partial, parts[name].numpy())
            partial.replace(path)
    return paths


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Across seeds: mean, std, min, max of each metric's test mean, and each seed's 95% interval."""
    summary = {"seeds": len(runs)}
    for metric in METRICS:
        values = [r["test"][metric]["mean"] for r in runs if metric in r["test"]]
        if values:
            v = np.array(values)
            summary[metric] = {"mean": float(v.mean()), "std_over_seeds": float(v.std(ddof=1)) if len(v) > 1 else None,
                               "min": float(v.min()), "max": float(v.max()),
                               "per_seed": [{"mean": r["test"][metric]["mean"], "ci95": r["test"][metric]["ci95"]} for r in runs]}
    summary["epochs_run"] = [r["early_stopping"]["epochs_run"] for r in runs]
    summary["best_epoch"] = [r["early_stopping"]["best_epoch"] for r in runs]
    summary["stopped_early"] = [r["early_stopping"]["stopped_early"] for r in runs]
    summary["wall_seconds"] = [r["compute"]["wall_seconds"] for r in runs]
    return summary


def efficiency(table: dict[str, dict[str, Any]], metric: str, reference: int = REFERENCE_N) -> dict[str, Any] | None:
    """The sample-efficiency factor of ``finetuned`` over ``scratch`` at N = ``reference`` for ``metric``."""
    scratch, finetuned = table.get("scratch", {}), table.get("finetuned", {})
    if str(reference) not in finetuned or metric not in finetuned[str(reference)]:
        return None
    sizes = [int(n) for n in scratch if metric in scratch[n]]
    if not sizes:
        return None
    target = finetuned[str(reference)][metric]["mean"]
    return {"reference_n": reference, "target": target,
            **sample_efficiency(sizes, [scratch[str(n)][metric]["mean"] for n in sizes], target, reference)}


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(results["systems"])
    fig, axes = plt.subplots(len(METRICS), max(1, len(systems)), figsize=(4.5 * max(1, len(systems)), 7), squeeze=False)
    for j, name in enumerate(systems):
        entry = results["systems"][name]
        for i, metric in enumerate(METRICS):
            ax = axes[i][j]
            for arm, table in entry["arms"].items():
                sizes = sorted(int(n) for n in table if metric in table[n])
                if not sizes:
                    continue
                mean = [table[str(n)][metric]["mean"] for n in sizes]
                low = [table[str(n)][metric]["min"] for n in sizes]
                high = [table[str(n)][metric]["max"] for n in sizes]
                ax.errorbar(sizes, mean, yerr=[np.subtract(mean, low), np.subtract(high, mean)], marker="o", capsize=3, label=arm)
            shot = entry.get("zero_shot")
            if shot and metric in shot["test"]:
                ax.axhline(shot["test"][metric]["mean"], color="k", linestyle=":", label="zero_shot")
            factor = entry.get("sample_efficiency", {}).get(metric)
            note = "" if not factor else (f"factor {factor['factor']:.1f}" if factor["factor"] else factor["note"].split(" (")[0])
            ax.set(xscale="log", yscale="log", xlabel="training trajectories N", ylabel=metric.replace("_", " "),
                   title=f"{name}\n{note}")
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from zoo.data.corpus import corpus_systems

    if args.quick:
        systems = [quick_system(args.out)]
        args.source, args.ns_source = quick_sources(args.out, systems[0])
    else:
        names = args.systems or [s.name for s in corpus_systems(downstream=True)]
        systems = [s for s in (load_system(args.corpus, name, args.resolution) for name in names) if s is not None]
        missing = sorted(set(names) - {s.name for s in systems})
        if missing:
            print(f"transfer: not (yet) complete on disk, skipped: {missing}", file=sys.stderr)
    results = {"protocol": protocol(args), "systems": {}}
    for system in systems:
        check_disjoint(system.seeds, system.name)
        if system.test.num_samples < args.min_test:
            raise ValueError(f"{system.name}: {system.test.num_samples} test trajectories, the protocol needs >= {args.min_test}")
        entry = {"test_trajectories": system.test.num_samples, "validation_trajectories": system.val.num_samples,
                 "train_pool": system.train.num_samples, "grid": list(system.test.trajectories.shape[-2:]),
                 "frames": system.test.trajectories.shape[1], "fields": system.test.channels, "arms": {}}
        results["systems"][system.name] = entry
        if "zero_shot" in args.arms:
            entry["zero_shot"] = zero_shot(system, args)
        # Seed-major: a run cut short still holds complete comparisons (every arm and N) for its first seeds.
        grid = [(n, arm, seed) for seed in args.seeds for n in args.sizes for arm in args.arms if arm != "zero_shot"]
        done: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for n, arm, seed in tqdm(grid, desc=system.name, disable=not args.progress):
            metrics = run_arm(system, arm, n, seed, args)
            if metrics is None:  # --report-only: not run yet
                continue
            done.setdefault((arm, n), []).append(metrics)
            tabulate(entry, done, args)
            write_results(results, args.results)
        tabulate(entry, done, args)
        write_results(results, args.results)
    return results


def tabulate(entry: dict[str, Any], done: dict[tuple[str, int], list[dict[str, Any]]], args: argparse.Namespace) -> None:
    """``entry``'s per-arm summaries over seeds and its sample-efficiency factors, from the finished runs ``done``."""
    entry["arms"] = {a: {str(k): summarise(v) for (a2, k), v in done.items() if a2 == a} for a in args.arms if a != "zero_shot"}
    entry["sample_efficiency"] = {metric: efficiency(entry["arms"], metric, args.reference) for metric in METRICS}


def write_results(results: dict[str, Any], prefix: Path) -> None:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(prefix.with_suffix(".json"), json.dumps(results, indent=1) + "\n")
    atomic_write_text(prefix.with_suffix(".md"), markdown(results))
    plot(results, prefix.with_suffix(".png"))


def markdown(results: dict[str, Any]) -> str:
    """One table per system: each arm's test errors per N (mean over seeds, +- std when several; seeds in brackets)."""
    def cell(summary: dict[str, Any] | None, metric: str) -> str:
        if not summary or metric not in summary:
            return "-"
        value = summary[metric]
        spread = f" +- {value['std_over_seeds']:.3f}" if value.get("std_over_seeds") is not None else ""
        return f"{value['mean']:.3f}{spread} ({summary['seeds']})"

    lines = []
    for name, entry in results["systems"].items():
        sizes = sorted({int(n) for table in entry["arms"].values() for n in table})
        if not sizes:
            continue
        lines += [f"### {name}", "", f"{entry['test_trajectories']} test trajectories; grid {entry['grid']}; fields {entry['fields']}", ""]
        for metric in METRICS:
            lines += [f"{metric.replace('_', ' ')} (mean over seeds +- std; number of seeds):", "",
                      "| arm | " + " | ".join(f"N = {n}" for n in sizes) + " |", "| --- |" + " --- |" * len(sizes)]
            lines += [f"| {arm} | " + " | ".join(cell(table.get(str(n)), metric) for n in sizes) + " |" for arm, table in entry["arms"].items()]
            zero = (entry.get("zero_shot") or {}).get("test", {}).get(metric)
            if zero:
                lines.append("| zero_shot | " + " | ".join(f"{zero['mean']:.3f}" for _ in sizes) + " |")
            factor = (entry.get("sample_efficiency") or {}).get(metric)
            if factor:
                lines += ["", f"sample-efficiency factor at N = {factor['reference_n']}: "
                              + (f"{factor['factor']:.1f}" if factor.get("factor") else factor["note"])]
            lines.append("")
    return "\n".join(lines) + "\n"


def protocol(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "source": str(args.source), "ns_source": str(args.ns_source), "sizes": args.sizes, "seeds": args.seeds, "arms": args.arms,
        "resolution": args.resolution, "max_epochs": args.max_epochs, "patience_epochs": args.patience, "lr": args.lr,
        "batch_size": args.batch_size, "device": args.device, "torch_threads": torch.get_num_threads(),
        "training_subsets": "first N of a permutation of the train pool drawn from sample_seed(seed, 0): nested in N",
        "validation": f"the whole val split; early stopping on the relative L2 of {args.validation_steps}-step free rollouts "
                      f"from windows {args.validation_steps} frames apart",
        "test": "the whole test split; sample seeds disjoint from train and val (checked)",
        "metrics": "relative L2: one-step (mean over every window of a trajectory) and the free rollout's frame at step 10; "
                   "per seed a mean over test trajectories with its 95% interval; across seeds mean, std, min, max",
        "sample_efficiency": f"N where scratch (log-log piecewise linear) reaches finetuned at N={args.reference}, over {args.reference}",
        "lora": f"finetuned_lora: spectral weights frozen plus rank-{args.lora_rank} updates per mode; every other weight trains",
    }


def quick_system(out: Path) -> System:
    """A synthetic two-field system (a field advected one cell per frame, a second its square): seconds to train."""
    def split(seed: int, count: int) -> tuple[FieldData, list[int]]:
        seeds = [sample_seed(seed, i) for i in range(count)]
        x = torch.arange(12) * 2 * math.pi / 12
        u = torch.empty(count, 14, 2, 12, 12)
        for i, s in enumerate(seeds):
            a, b, phase = torch.randn(3, generator=torch.Generator().manual_seed(s))
            for t in range(14):
                field = a * torch.sin(x[:, None] + 2 * math.pi * t / 12 + phase) + b * torch.cos(x[None, :])
                u[i, t] = torch.stack([field, field.square()])
        return FieldData(trajectories=u, channels=["vorticity", "density"], times=torch.arange(14.0, dtype=torch.float64), source=f"quick seed {seed}"), seeds

    parts = {name: split(seed, count) for name, seed, count in (("train", 1, 8), ("val", 2, 2), ("test", 3, 4))}
    return System("quick", *(parts[n][0] for n in ("train", "val", "test")), {n: parts[n][1] for n in parts})


def quick_sources(out: Path, system: System) -> tuple[Path, Path]:
    """A tiny multi-physics operator knowing ``vorticity`` (not ``density``) and a tiny one-field FNO stepper."""
    from zoo.hub import save_pretrained
    from zoo.models import AutoregressiveOperator, MultiphysicsOperator

    torch.manual_seed(0)
    operator = MultiphysicsOperator(["vorticity", "scalar"], context=2, width=8, depth=1, modes=4, groups=1)
    fno = {"architecture": "FNO", "config": {"in_channels": 3, "out_channels": 1, "modes": [4, 4], "width": 8, "n_layers": 1, "projection_channels": 8}}
    stepper = AutoregressiveOperator(fno, history=3, channels=1)
    return save_pretrained(operator, out / "sources" / "multiphysics"), save_pretrained(stepper, out / "sources" / "fno")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/data/corpus"))
    parser.add_argument("--out", type=Path, default=Path("/work/data/transfer"), help="run folders (resumable)")
    parser.add_argument("--results", type=Path, default=None, help="JSON/PNG prefix (default benchmarks/results/transfer)")
    parser.add_argument("--systems", nargs="+", default=None, help="default: every downstream system complete on disk")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 64, 256])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--source", default="multiphysics-operator-2d")
    parser.add_argument("--ns-source", default="fno-ns2d-nu1e-3")
    parser.add_argument("--resolution", type=int, default=32, help="grid the data are resampled to (spectral); 0: as stored")
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--validation-steps", type=int, default=4, help="rollout length of the early-stopping metric")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lora-rank", type=int, default=4, help="rank of the finetuned_lora arm's spectral updates")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--reference", type=int, default=REFERENCE_N, help="the N of the sample-efficiency factor")
    parser.add_argument("--min-test", type=int, default=32)
    parser.add_argument("--device", default="cpu", help="device of every training run (cuda on a GPU lease)")
    parser.add_argument("--quiet", dest="progress", action="store_false")
    parser.add_argument("--report-only", action="store_true", help="tabulate the finished runs under --out; train nothing")
    parser.add_argument("--quick", action="store_true", help="synthetic data, tiny models, 2 epochs: a smoke run in seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.seeds, args.max_epochs, args.patience, args.min_test, args.resolution = [2, 4], [0], 2, 2, 4, None
        args.reference = 2
    args.results = args.results or (args.out / "transfer-quick" if args.quick else RESULTS / "transfer")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(1)
    results = benchmark(args)
    for name, entry in results["systems"].items():
        print(name, json.dumps(entry.get("sample_efficiency"), indent=None))
    print(f"wrote {args.results.with_suffix('.json')} and {args.results.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
