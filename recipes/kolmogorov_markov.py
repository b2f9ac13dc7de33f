"""Markov neural operators for Kolmogorov flow (Re = 500, drag 0.1): the one-step map w(t) -> w(t + 0.1)
at 64x64, judged by 10,000-step rollouts against the solver's attractor statistics (issue #17, section 3).

    python recipes/kolmogorov_markov.py train NAME [--resume] [--max-steps 1000]
    python recipes/kolmogorov_markov.py rollout NAME [--steps 10000] [--checkpoint-every 10]   # resumes by itself
    python recipes/kolmogorov_markov.py cost NAME [--solver-records 3]   # model vs solver, interleaved
    python recipes/kolmogorov_markov.py report [--solver-floor]          # statistics, goals, plots, report.json/.md
    python recipes/kolmogorov_markov.py --quick --work DIR               # every stage on tiny data (the test)

Models (``MODELS``): an FNO time stepper (``AutoregressiveOperator``, history 1, residual) of two
sizes (``SMALL``: width 24, modes 12; ``LARGE``: width 32, modes 16; names ending ``-m16``), each
trained two ways on the same data:

* ``baseline``: one-step training with teacher forcing (``zoo.train.Autoregressive``);
* ``stabilised``: ``zoo.train.Pushforward``: a random number 0..3 of steps rolled without gradient
  before the step trained, Gaussian input noise of 1% of each sample's std, and MNO's
  dissipativity term (random fields of 2-4 x the data's std must be mapped to half themselves).

Data: ``re500-train`` (root seed 0, 100 trajectories of 51 frames 0.1 apart, read at 64x64), split
90 / 10 into training and validation trajectories by ``split_trajectories(seed=0)``; early stopping
on the validation set's free 10-step rollout error. Test: the first frames of ``re500-test`` (root
seed 2, 20 trajectories) start the long rollouts, their 51 frames give the short-time error; the
targets are the statistics of ``re500-reference`` (seed 1, 10,001 frames). Outputs go to ``--work``
(runs/, rollouts/, report.json); plots to ``--images``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from zoo.data import load_fields
from zoo.data.fields import FieldData, TimeWindows
from zoo.data.generate import generate
from zoo.data.kolmogorov import kolmogorov_recipe
from zoo.data.splits import split_trajectories
from zoo.eval.plots import plot_curves, plot_flow_statistics
from zoo.eval.rollout import rollout_metrics, rollout_predictions
from zoo.eval.spectra import kinetic_energy
from zoo.eval.statistics import autocorrelation, compare_statistics, integral_correlation_time
from zoo.files import atomic_write_bytes
from zoo.hub import from_pretrained
from zoo.models import AutoregressiveOperator
from zoo.pde.kolmogorov import DOMAIN_LENGTH, kolmogorov_flow
from zoo.train import Autoregressive, Pushforward, TrainConfig, Trainer, seed_everything

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ZOO_DATA", "/work/data")) / "kolmogorov"
WORK = Path(os.environ.get("ZOO_DATA", "/work/data")) / "markov"
REYNOLDS, DRAG, RECORD_EVERY = 500.0, 0.1, 0.1
SMALL = {"width": 24, "modes": 12, "layers": 4, "projection": 48}
LARGE = {"width": 32, "modes": 16, "layers": 4, "projection": 64}
# name: (objective, architecture); "one-step" = Autoregressive with teacher forcing, "pushforward" = STABILISED
MODELS = {"baseline": ("one-step", SMALL), "stabilised": ("pushforward", SMALL),
          "baseline-m16": ("one-step", LARGE), "stabilised-m16": ("pushforward", LARGE)}
STABILISED = {"max_unrolled": 3, "noise": 0.01, "dissipativity": 0.1, "contraction": 0.5, "radius": (2.0, 4.0)}
BLOW_UP_ENERGY = 10.0  # x the reference's mean kinetic energy (or non-finite): the rollout has left the attractor
VALIDATION_STEPS = 10  # free rollout length of the early-stopping metric (one time unit)
# Issue #17 section 3's goals.
ROLLOUT_GOAL = 10_000
GOALS = {"spectrum_max_relative_error": 0.10, "pdf_wasserstein_1_over_std": 0.05, "dissipation_relative_error": 0.05, "speed_up": 20.0}


# ---- data

def load_set(data: Path, name: str, resolution: int) -> FieldData:
    """A Kolmogorov data set read at ``resolution`` (every k-th point of the stored grid)."""
    fields = load_fields(data / name)
    factor = fields.spatial_shape[-1] // resolution
    return fields if factor == 1 else fields.subsample(factor)


def splits(train: FieldData) -> tuple[FieldData, FieldData]:
    """90 / 10 training / validation trajectories of ``re500-train`` (disjoint, seeded)."""
    indices = split_trajectories(train.num_samples, {"validation": 0.1}, seed=0, source=train.source)
    return train.select(samples=indices["train"]), train.select(samples=indices["validation"])


# ---- training

def build_model(field_std: float, architecture: dict) -> AutoregressiveOperator:
    backbone = {"architecture": "FNO", "config": {
        "in_channels": 1, "out_channels": 1, "modes": [architecture["modes"]] * 2, "width": architecture["width"],
        "n_layers": architecture["layers"], "projection_channels": architecture["projection"]}}
    return AutoregressiveOperator(backbone, history=1, field_mean=[0.0], field_std=[field_std])


def train(args: argparse.Namespace) -> dict:
    train_set, validation = splits(load_set(args.data, "re500-train", args.resolution))
    field_std = float(train_set.channel_statistics()[1][0])
    seed_everything(0)  # the same initial weights for the models of one size
    kind, architecture = MODELS[args.model]
    model = build_model(field_std, args.tiny or architecture)
    if kind == "one-step":
        objective, horizon = Autoregressive(1, teacher_forcing=True), 1
    else:
        objective, horizon = Pushforward(1, **args.stabilised), args.stabilised["max_unrolled"] + 1
    out = args.work / "runs" / args.model
    config = TrainConfig(
        max_steps=args.max_steps, batch_size=args.batch, lr=args.lr, warmup_steps=args.warmup, schedule="cosine",
        eval_every=args.eval_every, early_stopping_patience=args.patience, checkpoint_every=args.checkpoint_every,
        log_every=args.log_every, eval_batch_size=25, compile="off", progress=False, device="cpu", out_dir=str(out), seed=0,
    )
    eval_windows = TimeWindows(validation, history=1, horizon=args.validation_steps, stride=args.validation_steps)
    metadata = {"task": "Markov time stepper: Kolmogorov flow vorticity w(t) -> w(t + 0.1), Re = 500, drag 0.1, 64x64"}
    trainer = Trainer(model, TimeWindows(train_set, history=1, horizon=horizon), config, objective=objective,
                      eval_data=eval_windows, metadata=metadata)
    began = time.perf_counter()
    trainer.fit(resume=args.resume)
    ledger_path = out / "compute.json"
    ledger = json.loads(ledger_path.read_text()) if args.resume and ledger_path.exists() else {"wall_seconds": 0.0}
    ledger.update(wall_seconds=round(ledger["wall_seconds"] + time.perf_counter() - began, 1), steps=trainer.step,
                  early_stopping=trainer.early_stopping, machine=f"{platform.machine()} CPU, {torch.get_num_threads()} thread, shared",
                  load_average=os.getloadavg(), command=shlex.join(["python", *sys.argv]))
    atomic_write_bytes(ledger_path, json.dumps(ledger, indent=2).encode())
    print(json.dumps(ledger), flush=True)
    return ledger


def trained(work: Path, name: str) -> AutoregressiveOperator:
    return from_pretrained(work / "runs" / name / "model")


# ---- long rollouts

def _save(path: Path, value: object) -> None:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    atomic_write_bytes(path, buffer.getvalue())


@torch.no_grad()
def long_rollout(model: torch.nn.Module, initial: torch.Tensor, steps: int, directory: Path, *, energy_limit: float,
                 save_every: int = 10, checkpoint_every: int = 500, progress: bool = True) -> dict[str, torch.Tensor]:
    """Roll ``model`` ``steps`` steps from ``initial`` ``(N, 1, n, n)`` in float32, resumably, in ``directory``.

    Every step records the kinetic energy ``(N, steps + 1)``; every ``save_every``-th state is kept
    (``frames-*.pt``, written at each checkpoint with ``state.pt``, the state to resume from). A
    trajectory whose state turns non-finite or whose energy exceeds ``energy_limit`` has blown up:
    its step is recorded (``blow_up``, -1 for none), it stops being stepped, and its later energies
    and frames are NaN. Returns ``{"frames": (N, steps // save_every + 1, n, n), "energy", "blow_up"}``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    state_path = directory / "state.pt"
    if state_path.exists():
        saved = torch.load(state_path, weights_only=True)
        if saved["save_every"] != save_every or saved["state"].shape != initial.shape:
            raise ValueError(f"{directory} holds a rollout with other settings; remove it or use its settings")
        step, state, energy, blow_up = saved["step"], saved["state"], saved["energy"], saved["blow_up"]
        if energy.shape[1] < steps + 1:  # a longer rollout continues the same one
            energy = torch.cat([energy, torch.full((len(energy), steps + 1 - energy.shape[1]), math.nan, dtype=energy.dtype)], 1)
    else:
        step, state = 0, initial.float().clone()
        energy = torch.full((len(initial), steps + 1), math.nan, dtype=torch.float64)
        energy[:, 0] = kinetic_energy(state[:, 0], length=DOMAIN_LENGTH).double()
        blow_up = torch.full((len(initial),), -1, dtype=torch.long)
    pending = [state[:, 0].clone()] if step == 0 else []
    chunk_start = step // save_every + (0 if step == 0 else 1)
    began, last = time.perf_counter(), step
    while step < steps:
        step += 1
        alive = blow_up < 0
        if alive.any():
            state[alive] = model(state[alive])
        e = kinetic_energy(state[:, 0], length=DOMAIN_LENGTH).double()
        bad = alive & (~torch.isfinite(state).flatten(1).all(1) | ~(e <= energy_limit))
        blow_up[bad] = step
        energy[:, step] = torch.where(blow_up < 0, e, torch.full_like(e, math.nan))
        if step % save_every == 0:
            frame = state[:, 0].clone()
            frame[blow_up >= 0] = math.nan
            pending.append(frame)
        if step % checkpoint_every == 0 or step == steps:
            if pending:
                _save(directory / f"frames-{chunk_start:06d}.pt", torch.stack(pending, 1))
                chunk_start, pending = chunk_start + len(pending), []
            _save(state_path, {"step": step, "state": state, "energy": energy, "blow_up": blow_up, "save_every": save_every})
            if progress:
                rate = (time.perf_counter() - began) / (step - last)
                print(json.dumps({"step": step, "blown_up": int((blow_up >= 0).sum()), "mean_seconds_per_step": round(rate, 4),
                                  "load": os.getloadavg()[0]}), flush=True)
    return read_rollout(directory, steps)


def read_rollout(directory: Path, steps: int | None = None) -> dict[str, torch.Tensor]:
    """The frames, energies and blow-up steps of a (possibly unfinished) rollout in ``directory``."""
    saved = torch.load(directory / "state.pt", weights_only=True)
    every = saved["save_every"]
    kept = saved["step"] // every + 1
    chunks = sorted(directory.glob("frames-*.pt"))
    frames = torch.cat([torch.load(path, weights_only=True) for path in chunks], 1)[:, :kept]
    done = saved["step"] if steps is None else min(steps, saved["step"])
    return {"frames": frames[:, : done // every + 1], "energy": saved["energy"][:, : done + 1], "blow_up": saved["blow_up"],
            "steps": done, "save_every": every}


def rollout(args: argparse.Namespace) -> dict:
    test = load_set(args.data, "re500-test", args.resolution)
    reference_energy = reference_mean_energy(args)
    model = trained(args.work, args.model)
    initial = test.trajectories[: args.rollouts, 0].float()
    result = long_rollout(model, initial, args.steps, args.work / "rollouts" / args.model, energy_limit=BLOW_UP_ENERGY * reference_energy,
                          save_every=args.save_every, checkpoint_every=args.checkpoint_every)
    return {"blow_up": result["blow_up"].tolist(), "steps": result["steps"]}


# ---- short-time error, cost

@torch.no_grad()
def short_time_errors(model: torch.nn.Module, test: FieldData) -> dict:
    """Relative L2 per step of free rollouts from each test trajectory's first frame against its frames."""
    truth = test.trajectories[:, :, 0].float()
    predicted = rollout_predictions(model, truth, history=1)
    per_step = rollout_metrics(predicted, truth[:, 1:])["rollout_relative_l2"]  # (N, S)
    return _error_summary(per_step)


def _error_summary(per_step: torch.Tensor) -> dict:
    mean = per_step.mean(0)
    half = 1.96 * per_step.std(0) / math.sqrt(len(per_step)) if len(per_step) > 1 else torch.zeros_like(mean)
    past = (mean > 0.5).nonzero()
    return {"mean": mean.tolist(), "ci95_half_width": half.tolist(),
            "time_past_0.5": None if len(past) == 0 else round(float(past[0] + 1) * RECORD_EVERY, 4)}


def solver_short_time_errors(test: FieldData) -> dict:
    """The same errors for the solver run at the model's grid from the same stored frame (what a coarse solve achieves)."""
    truth = test.trajectories[:, :, 0].double()
    steps = truth.shape[1] - 1
    solved = kolmogorov_flow(truth[:, 0], REYNOLDS, steps * RECORD_EVERY, RECORD_EVERY, drag=DRAG).float()
    return _error_summary(rollout_metrics(solved, truth[:, 1:].float())["rollout_relative_l2"])


def cost(args: argparse.Namespace) -> dict:
    """Seconds per 1,000 steps of one trajectory: the model against the solver at 128x128 (the data's grid and
    step), each alone and per trajectory in a batch of 20, same process, interleaved ``--rounds`` times."""
    fine = load_fields(args.data / "re500-test", samples=(0, 1))
    w_fine = fine.trajectories[:, 0, 0].float()
    w = w_fine[..., :: w_fine.shape[-1] // args.resolution, :: w_fine.shape[-1] // args.resolution].contiguous()[:, None]
    model = trained(args.work, args.model)
    batch, batch_fine = w.expand(20, -1, -1, -1).contiguous(), w_fine.expand(20, -1, -1).contiguous()
    timings: dict[str, list[float]] = {"solver_batch_1": [], "solver_batch_20": [], "model_batch_1": [], "model_batch_20": []}
    loads = [os.getloadavg()[0]]
    with torch.no_grad():
        model(w)
        for _ in range(args.rounds):
            for size, initial in ((1, w_fine), (20, batch_fine)):
                began = time.perf_counter()
                kolmogorov_flow(initial, REYNOLDS, args.solver_records * RECORD_EVERY, RECORD_EVERY, drag=DRAG)
                timings[f"solver_batch_{size}"].append((time.perf_counter() - began) / args.solver_records / size * 1000)
            began, state = time.perf_counter(), w
            for _ in range(args.model_steps):
                state = model(state)
            timings["model_batch_1"].append((time.perf_counter() - began) / args.model_steps * 1000)
            began, state = time.perf_counter(), batch
            for _ in range(max(1, args.model_steps // 10)):
                state = model(state)
            timings["model_batch_20"].append((time.perf_counter() - began) / max(1, args.model_steps // 10) / 20 * 1000)
            loads.append(os.getloadavg()[0])
    median = {k: sorted(v)[len(v) // 2] for k, v in timings.items()}
    result = {"seconds_per_1000_steps": timings, "median": median,
              "speed_up_batch_1": median["solver_batch_1"] / median["model_batch_1"],
              "speed_up_batch_20": median["solver_batch_20"] / median["model_batch_20"],
              "load_average_1min": loads, "solver": f"{w_fine.shape[-1]}x{w_fine.shape[-1]}, float32, dt = 0.0025 (40 steps per record)",
              "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} torch thread, shared (nice 10)"}
    atomic_write_bytes(args.work / f"cost-{args.model}.json", json.dumps(result, indent=2).encode())
    print(json.dumps({k: result[k] for k in ("median", "speed_up_batch_1", "speed_up_batch_20", "load_average_1min")}), flush=True)
    return result


# ---- report

def reference_mean_energy(args: argparse.Namespace) -> float:
    return float(reference_energies(args).mean())


def reference_energies(args: argparse.Namespace) -> torch.Tensor:
    """Kinetic energy per record ``(1, T)`` of the reference trajectory, and its frames, cached in ``--work``."""
    return _reference(args)[1]


def _reference(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor]:
    cache = args.work / f"reference-every-{args.save_every}.pt"
    if cache.exists():
        saved = torch.load(cache, weights_only=True)
        return saved["frames"], saved["energy"]
    reference = load_set(args.data, "re500-reference", args.resolution).trajectories[:, :, 0]
    energy = torch.cat([kinetic_energy(chunk, length=DOMAIN_LENGTH).double() for chunk in reference.flatten(0, 1).split(256)]).view(reference.shape[:2])
    frames = reference[:, :: args.save_every].float().contiguous()
    args.work.mkdir(parents=True, exist_ok=True)
    _save(cache, {"frames": frames, "energy": energy})
    return frames, energy


def correlation_time(energy: torch.Tensor, max_lag: int) -> float:
    return integral_correlation_time(autocorrelation(energy, max_lag), RECORD_EVERY)


def attractor_distances(frames: torch.Tensor, energy: torch.Tensor, reference_frames: torch.Tensor, reference_energy: torch.Tensor,
                        save_every: int) -> tuple[dict, object, object]:
    """``compare_statistics`` on frames ``save_every`` records apart (spectrum, PDF, dissipation), with the
    correlation time from the energy at every record (0.1 apart), where ``dt`` resolves it."""
    distances, model_stats, reference_stats = compare_statistics(
        frames, reference_frames, dt=save_every * RECORD_EVERY, viscosity=1 / REYNOLDS, length=DOMAIN_LENGTH)
    max_lag = min(energy.shape[1], reference_energy.shape[1]) // 2
    tau, tau_reference = correlation_time(energy, max_lag), correlation_time(reference_energy, max_lag)
    distances.update(correlation_time=tau, reference_correlation_time=tau_reference,
                     correlation_time_relative_error=abs(tau / tau_reference - 1),
                     dissipation=model_stats.dissipation, reference_dissipation=reference_stats.dissipation,
                     mean_energy=float(energy.mean()), reference_mean_energy=float(reference_energy.mean()))
    return distances, model_stats, reference_stats


def report(args: argparse.Namespace) -> dict:
    reference_frames, reference_energy = _reference(args)
    test = load_set(args.data, "re500-test", args.resolution)
    half = reference_frames.shape[1] // 2
    floor, _, _ = attractor_distances(reference_frames[:, : half + 1], reference_energy[:, : half * args.save_every + 1],
                                      reference_frames[:, half:], reference_energy[:, half * args.save_every:], args.save_every)
    results: dict = {"solver_floor_first_vs_second_half_of_reference": floor, "models": {}}
    statistics = {}
    energies = {"solver (reference)": (RECORD_EVERY * torch.arange(reference_energy.shape[1]), reference_energy[0])}
    errors = {}
    for name in MODELS:
        directory = args.work / "rollouts" / name
        if not (directory / "state.pt").exists():
            continue
        rolled = read_rollout(directory)
        entry = {"rollout_steps": rolled["steps"], "trajectories": len(rolled["blow_up"]),
                 "blow_up_step": rolled["blow_up"].tolist(), "blown_up": int((rolled["blow_up"] >= 0).sum())}
        survivors = rolled["blow_up"] < 0
        if survivors.any() and rolled["frames"].shape[1] > 2:
            distances, stats, reference_stats = attractor_distances(
                rolled["frames"][survivors], rolled["energy"][survivors], reference_frames, reference_energy, rolled["save_every"])
            entry["statistics_of_survivors"] = distances
            statistics.setdefault("solver (reference)", reference_stats)
            statistics[name] = stats
        energies[f"{name}, test IC 0"] = (RECORD_EVERY * torch.arange(rolled["energy"].shape[1]), rolled["energy"][0])
        model = trained(args.work, name)
        entry["short_time_relative_l2"] = short_time_errors(model, test)
        errors[name] = entry["short_time_relative_l2"]["mean"]
        cost_file = args.work / f"cost-{name}.json"
        if cost_file.exists():
            entry["cost"] = json.loads(cost_file.read_text())
        entry["goals"] = goals(entry)
        results["models"][name] = entry
    if args.solver_floor:
        results["solver_64_short_time_relative_l2"] = solver_short_time_errors(test)
        errors["solver at 64x64 from the same frame"] = results["solver_64_short_time_relative_l2"]["mean"]
    images = args.images
    images.mkdir(parents=True, exist_ok=True)
    if statistics:
        plot_flow_statistics(statistics, images, prefix="markov-")
    plot_curves({k: (t.tolist(), e.tolist()) for k, (t, e) in energies.items()}, images / "markov-energy-long.png",
                xlabel="t", ylabel="kinetic energy", logy=True)
    early = 201  # the first 20 time units, where the one-step models blow up
    plot_curves({k: (t[:early].tolist(), e[:early].tolist()) for k, (t, e) in energies.items()}, images / "markov-energy-early.png",
                xlabel="t", ylabel="kinetic energy", logy=True)
    if errors:
        times = [RECORD_EVERY * (i + 1) for i in range(len(next(iter(errors.values()))))]
        plot_curves({k: (times, v) for k, v in errors.items()}, images / "markov-error.png", xlabel="t", ylabel="relative L2 (mean over test ICs)", logy=True)
    results["load_average"] = os.getloadavg()
    atomic_write_bytes(args.work / "report.json", json.dumps(results, indent=2).encode())
    atomic_write_bytes(args.work / "report.md", table(results).encode())
    print(json.dumps({name: {"blown_up": m["blown_up"], "steps": m["rollout_steps"], "goals": m["goals"]} for name, m in results["models"].items()}, indent=1), flush=True)
    return results


def table(results: dict) -> str:
    """The results as a markdown table: one row per model, and the solver's own floor."""
    rows = ["| model | steps done | blown up (steps) | spectrum max error, k <= 16 (shell) | W1 / std | dissipation error "
            "| correlation time error | mean energy | time past 0.5 | speed-up (1 / 20 trajectories) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def statistics_cells(d: dict) -> str:
        shell = 1 + max(range(len(d["spectrum_relative_error_per_shell"])), key=lambda i: d["spectrum_relative_error_per_shell"][i])
        return (f"{d['spectrum_max_relative_error']:.1%} ({shell}) | {d['pdf_wasserstein_1_over_std']:.3f} | {d['dissipation_relative_error']:.1%} "
                f"| {d['correlation_time_relative_error']:.0%} | {d['mean_energy']:.3f}")

    for name, entry in results["models"].items():
        blown = entry["blown_up"]
        steps = [s for s in entry["blow_up_step"] if s >= 0]
        blown_cell = f"{blown} / {entry['trajectories']}" + (f" ({min(steps)}-{max(steps)})" if steps else "")
        stats = statistics_cells(entry["statistics_of_survivors"]) if "statistics_of_survivors" in entry else "- | - | - | - | -"
        cost_entry = entry.get("cost")
        speed = f"{cost_entry['speed_up_batch_1']:.1f}x / {cost_entry['speed_up_batch_20']:.1f}x" if cost_entry else "-"
        past = entry["short_time_relative_l2"]["time_past_0.5"]
        rows.append(f"| {name} | {entry['rollout_steps']} | {blown_cell} | {stats} | {past} | {speed} |")
    floor = results["solver_floor_first_vs_second_half_of_reference"]
    solver = results.get("solver_64_short_time_relative_l2", {}).get("time_past_0.5", "-")
    rows.append(f"| solver: reference's 1st vs 2nd 500 time units (64x64 solve from the stored frame: time past 0.5) | | | "
                f"{statistics_cells(floor)} | {solver} | |")
    return "\n".join(rows) + "\n"


def goals(entry: dict) -> dict:
    """Issue #17 section 3's goals, each ``{"value", "goal", "met"}`` (``met`` None where not measured)."""
    stats = entry.get("statistics_of_survivors", {})
    cost_entry = entry.get("cost", {})
    values = {"no_blow_up": (entry["blown_up"], 0), **{k: (stats.get(k), v) for k, v in GOALS.items() if k != "speed_up"},
              "speed_up": (cost_entry.get("speed_up_batch_1"), GOALS["speed_up"])}
    out = {}
    for key, (value, goal) in values.items():
        if value is None:
            met = None
        elif key == "speed_up":
            met = value >= goal
        elif key == "no_blow_up":  # unknown until the whole rollout is done, unless one already blew up
            met = False if value else (True if entry["rollout_steps"] >= ROLLOUT_GOAL else None)
        else:
            met = value < goal
        out[key] = {"value": value, "goal": goal, "met": met}
    if entry["blown_up"]:  # statistics of the survivors do not meet a goal set for every trajectory
        for key in GOALS:
            if key != "speed_up" and out[key]["met"]:
                out[key]["met"] = False
    return out


# ---- tiny data for --quick

def quick_data(directory: Path) -> None:
    """A few 32x32 trajectories (seconds): the pipeline's shape, not the physics."""
    small = dict(reynolds=REYNOLDS, record_every=RECORD_EVERY, resolution=32, solve_resolution=32, spin_up=1.0, spin_up_resolution=32, settle=0.0)
    for name, seed, samples, steps in (("re500-train", 0, 10, 12), ("re500-test", 2, 2, 12), ("re500-reference", 1, 1, 60)):
        if not (directory / name / "dataset.json").exists():
            generate(directory / name, kolmogorov_recipe(steps=steps, **small), samples=samples, seed=seed, shard_size=samples, progress=False)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", nargs="?", choices=("train", "rollout", "cost", "report", "all"), default="all")
    parser.add_argument("model", nargs="?", choices=list(MODELS), default="stabilised")
    parser.add_argument("--quick", action="store_true", help="tiny data, model and rollouts: every stage in seconds (the test)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--images", type=Path, default=ROOT / "docs" / "images" / "kolmogorov")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--resume", action="store_true", help="train: continue from the run's checkpoints")
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--patience", type=int, default=4, help="early stopping: evaluations without improvement")
    parser.add_argument("--checkpoint-every", type=int, default=50, help="train: steps; rollout: 10x this many steps")
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--steps", type=int, default=10_000, help="rollout length")
    parser.add_argument("--rollouts", type=int, default=20, help="test initial conditions rolled out")
    parser.add_argument("--save-every", type=int, default=10, help="rollout frames kept for the statistics (every k-th step)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--solver-records", type=int, default=5)
    parser.add_argument("--model-steps", type=int, default=50)
    parser.add_argument("--solver-floor", action="store_true", help="report: also the 64x64 solver's short-time error")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.tiny, args.stabilised, args.validation_steps = None, dict(STABILISED), VALIDATION_STEPS
    if args.quick:
        quick_data(args.data)
        args.tiny = {"width": 8, "modes": 4, "layers": 2, "projection": 16}
        args.stabilised["max_unrolled"], args.validation_steps = 2, 4
        args.resolution, args.max_steps, args.batch, args.eval_every, args.log_every = 32, 4, 4, 4, 2
        args.steps, args.save_every, args.rollouts, args.rounds, args.solver_records, args.model_steps = 40, 2, 2, 1, 1, 2
    args.checkpoint_every_rollout = args.checkpoint_every * 10
    if args.stage == "train":
        return train(args)
    if args.stage == "rollout":
        args.checkpoint_every = args.checkpoint_every_rollout
        return rollout(args)
    if args.stage == "cost":
        return cost(args)
    if args.stage == "report":
        return report(args)
    for name in ("baseline", "stabilised"):  # "all": what --quick runs
        args.model = name
        train(args)
        checkpoint_every, args.checkpoint_every = args.checkpoint_every, args.checkpoint_every_rollout
        rollout(args)
        args.checkpoint_every = checkpoint_every
        cost(args)
    return report(args)


if __name__ == "__main__":
    main()
