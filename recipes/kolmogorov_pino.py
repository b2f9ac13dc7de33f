"""PINO the way the paper does it, on zoo's Kolmogorov flow (issue #17 section 4): data, training, test-time optimisation.

    python recipes/kolmogorov_pino.py generate           # fine-time windows: train, val, test (~16 min)
    python recipes/kolmogorov_pino.py residual           # the loss on solver windows, perturbed windows and persistence
    python recipes/kolmogorov_pino.py train              # (a): every run of RUNS, in order (~1.5 / ~9 min each without / with PDE)
    python recipes/kolmogorov_pino.py tto --tto-from data-64   # (b): test-time optimisation + the solver (~2 min a window)
    python recipes/kolmogorov_pino.py report             # results.json and figures from what is done

(The numbers in docs/kolmogorov.md: these commands, and ``tto --tto-from`` data+pde-64 and
data+pde-64-from-data; times on one niced thread of a 2-core machine at load 10-13.)

Data (``$ZOO_DATA/pino``, default /work/data): Kolmogorov flow Re = 500, drag 0.1, forcing
-4 cos(4y) (``zoo data generate kolmogorov``), spin-up 50 time units at 64x64 then 5 at 128x128,
then 4 time units recorded every 1/128 at the 128x128 solve (dt = 1/512) and stored at 64x64
(every 2nd point). Each trajectory is cut into 8 windows of 0.5 time units and 65 frames
(PINO's window). Train, val and test trajectories come from root seeds 3, 4, 5: disjoint.
Every run writes ``runs/<name>/result.json`` and its weights; a rerun skips finished runs.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

import torch

from zoo.cli import main as zoo_main
from zoo.data.store import read_directory
from zoo.losses.space_time import KolmogorovPhysics
from zoo.models.multiscale import spectral_resample
from zoo.models.space_time import SpaceTimeFNO
from zoo.pde.kolmogorov import kolmogorov_flow

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ZOO_DATA", "/work/data")) / "pino"
FIGURES = ROOT / "docs" / "images" / "kolmogorov"
REYNOLDS, DRAG = 500.0, 0.1
WINDOW, FRAMES, WINDOWS_PER_TRAJECTORY = 0.5, 65, 8
RECORD_EVERY = WINDOW / (FRAMES - 1)
# Operators train and are judged on the modes |k| < 16 of the data (32x32): on one shared CPU core
# a 64x64 run with the PDE loss costs ~4x more, and the stored 64x64 modes above 21 are aliased.
RESOLUTION = 32
TTO_INITIAL_WEIGHT = 10.0
# name: (root seed, trajectories). Different seeds: no trajectory is shared between splits.
SPLITS = {"train": (3, 8), "val": (4, 2), "test": (5, 4)}
MODEL = dict(frames=FRAMES, window=WINDOW, modes=(12, 12), width=24, n_layers=4, projection_channels=64, scale=4.3)
# (labelled windows, PDE loss on): data-only, data + PDE on the same windows' initial states, PDE-only.
RUNS = {
    **{f"data-{n}": dict(labelled=n, pde=False) for n in (4, 16, 64)},
    **{f"data+pde-{n}": dict(labelled=n, pde=True) for n in (4, 16, 64)},
    "pde-only-64": dict(labelled=0, pde=True, initial_states=64),
    # The PDE term at a tenth of the default weight (the default's runs all end near persistence).
    "data+pde-64-weight0.01": dict(labelled=64, pde=True, pde_weight=0.01),
    # Warm starts from the data-only operator (it already moves), 200 more steps at a constant rate:
    # the PDE added once the data has moved the model off persistence, and its data-only control.
    "data-64-continued": dict(labelled=64, pde=False, init="data-64", steps=200, lr=1e-3),
    "data+pde-64-from-data": dict(labelled=64, pde=True, init="data-64", steps=200, lr=1e-3),
}


def generate() -> None:
    """The three splits through ``zoo data generate kolmogorov`` (rerun to resume)."""
    for name, (seed, samples) in SPLITS.items():
        argv = ["data", "generate", "kolmogorov", f"--reynolds={REYNOLDS}", f"--drag={DRAG}", f"--record-every={RECORD_EVERY}",
                f"--steps={(FRAMES - 1) * WINDOWS_PER_TRAJECTORY}", "--resolution=64", "--solve-resolution=128", "--spin-up=50",
                "--settle=5", f"--samples={samples}", f"--seed={seed}", "--shard-size=2", str(DATA / f"windows-{name}")]
        print("zoo " + " ".join(argv), flush=True)
        if zoo_main(argv):
            raise SystemExit(1)


def windows(split: str) -> torch.Tensor:
    """``(trajectories * 8, 65, n, n)``: consecutive windows of each trajectory, trajectory-major, at ``RESOLUTION``.

    The stored 64x64 fields are point samples of the 128x128 solve, so their modes 22-31 hold the
    solve's modes 33-42 folded back (aliasing), which change fast and make even the true window's
    residual large (``residual``); the modes ``|k| < RESOLUTION / 2`` kept here are clean.
    """
    fields, _ = read_directory(DATA / f"windows-{split}")
    w = spectral_resample(fields["vorticity"].float(), RESOLUTION)
    step = FRAMES - 1
    return torch.stack([w[:, k * step : k * step + FRAMES] for k in range(w.shape[1] // step)], dim=1).flatten(0, 1)


def spread_order(count: int, per_trajectory: int = WINDOWS_PER_TRAJECTORY) -> list[int]:
    """Window indices taking one window from each trajectory in turn, so the first ``n`` of them
    span as many trajectories as they can (a training set of 4 windows sees 4 trajectories)."""
    trajectories = count // per_trajectory
    return [t * per_trajectory + k for k in range(per_trajectory) for t in range(trajectories)]


def relative_l2(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per window ``(B,)``: ``|prediction - truth| / |truth|`` over frames 1.. (frame 0 is the input)."""
    return (prediction[:, 1:] - truth[:, 1:]).flatten(1).norm(dim=1) / truth[:, 1:].flatten(1).norm(dim=1)


def physics(initial_weight: float = 1.0, modes: int | None = None) -> KolmogorovPhysics:
    """The equation on the 3/2 grid (48x48 for 32x32 fields: the products are exact); ``modes``: see :func:`kolmogorov_residual`."""
    return KolmogorovPhysics(window=WINDOW, reynolds=REYNOLDS, drag=DRAG, grid_factor=1.5, initial_weight=initial_weight, modes=modes)


def mean_ci(values: list[float]) -> dict:
    """Mean and a 95% normal interval over windows (windows of one trajectory are correlated: read it as indicative)."""
    t = torch.tensor(values, dtype=torch.float64)
    half = 1.96 * float(t.std()) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return {"mean": float(t.mean()), "ci95": [float(t.mean()) - half, float(t.mean()) + half], "n": len(values)}


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: torch.Tensor, batch: int = 8) -> dict:
    errors, residuals = [], []
    loss = physics()
    for chunk in data.split(batch):
        prediction = model(chunk[:, :1])
        errors += relative_l2(prediction, chunk).tolist()
        residuals.append(float(loss.terms(chunk[:, :1], prediction)[0]) * len(chunk))
    return {"relative_l2": mean_ci(errors), "per_window": errors, "pde_residual": sum(residuals) / len(data)}


def train_run(name: str, settings: dict, *, steps: int, batch: int, lr: float, pde_weight: float, seed: int = 0) -> dict:
    out = DATA / "runs" / name
    if (out / "result.json").exists():
        return json.loads((out / "result.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    train, val = windows("train"), windows("val")
    order = spread_order(len(train))
    labelled = train[order[: settings["labelled"]]]
    initial_states = train[order[: settings.get("initial_states", settings["labelled"])], :1]
    model = load_run(settings["init"]).train() if "init" in settings else SpaceTimeFNO(**MODEL)
    steps, lr = settings.get("steps", steps), settings.get("lr", lr)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = (torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0) if "init" in settings
                else torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.1))
    loss_pde = physics()
    history, started = [], time.perf_counter()
    for step in range(steps):
        terms = {}
        if len(labelled):
            pick = torch.randint(len(labelled), (min(batch, len(labelled)),))
            truth = labelled[pick]
            terms["data"] = relative_l2(model(truth[:, :1]), truth).mean()
        if settings["pde"]:
            pick = torch.randint(len(initial_states), (min(batch, len(initial_states)),))
            w0 = initial_states[pick]
            pde, initial = loss_pde.terms(w0, model(w0))
            terms["pde"], terms["initial"] = settings.get("pde_weight", pde_weight) * pde, initial
        total = sum(terms.values())
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        schedule.step()
        if step % 25 == 0 or step == steps - 1:
            history.append({"step": step, **{k: float(v) for k, v in terms.items()}})
            print(f"{name} step {step}: " + ", ".join(f"{k} {float(v):.4g}" for k, v in terms.items()), flush=True)
    seconds = time.perf_counter() - started
    model.eval()
    result = {"name": name, "settings": settings, "steps": steps, "batch": batch, "lr": lr, "pde_weight": pde_weight,
              "seconds": round(seconds, 1), "history": history, "val": evaluate(model, val), "test": evaluate(model, windows("test"))}
    torch.save(model.state_dict(), out / "model.pt")
    (out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"{name}: test relative L2 {result['test']['relative_l2']['mean']:.4f}, val {result['val']['relative_l2']['mean']:.4f}, "
          f"{seconds:.0f} s", flush=True)
    return result


def load_run(name: str) -> SpaceTimeFNO:
    model = SpaceTimeFNO(**MODEL)
    model.load_state_dict(torch.load(DATA / "runs" / name / "model.pt", weights_only=True))
    return model.eval()


def residual_check() -> dict:
    """The loss on the data: solver windows (the floor), perturbed windows, persistence ``w(t) = w0``."""
    test = windows("test")[:: WINDOWS_PER_TRAJECTORY // 2]
    loss = physics()
    rows = {}
    w0 = test[:, :1]
    noise = torch.randn(test.shape, generator=torch.Generator().manual_seed(0))
    smooth = spectral_resample(spectral_resample(noise, 16), RESOLUTION)  # modes |k| < 8
    candidates = {
        "solver windows (32x32 modes)": test,
        "solver + 1% smooth noise": test + 0.01 * test.std() * smooth / smooth.std(),
        "solver + 1% noise, every frame": test + 0.01 * test.std() * noise,
        "persistence w(t) = w0": w0.expand_as(test).clone(),
    }
    for label, window in candidates.items():
        pde, initial = loss.terms(w0, window)
        rows[label] = {"pde": float(pde), "relative_l2": float(relative_l2(window, test).mean())}
        print(f"{label}: pde {float(pde):.3e}, relative L2 {rows[label]['relative_l2']:.4f}", flush=True)
    for factor in (1, 1.5, 2):
        grid_loss = KolmogorovPhysics(window=WINDOW, reynolds=REYNOLDS, drag=DRAG, grid_factor=factor)
        grid = round(factor * RESOLUTION)
        rows[f"solver windows, equation on {grid}x{grid}"] = {"pde": float(grid_loss.terms(w0, test)[0])}
        rows[f"persistence, equation on {grid}x{grid}"] = {"pde": float(grid_loss.terms(w0, w0.expand_as(test).clone())[0])}
    stored = spectral_resample(read_directory(DATA / "windows-test")[0]["vorticity"][:: WINDOWS_PER_TRAJECTORY // 2, :FRAMES].float(), 64)
    for factor in (1, 1.5):
        grid_loss = KolmogorovPhysics(window=WINDOW, reynolds=REYNOLDS, drag=DRAG, grid_factor=factor)
        rows[f"stored 64x64 windows (aliased), equation on {round(64 * factor)}"] = {
            "pde": float(grid_loss.terms(stored[:, :1], stored)[0]),
            "persistence": float(grid_loss.terms(stored[:, :1], stored[:, :1].expand_as(stored).clone())[0])}
    for label, row in rows.items():
        print(label, row, flush=True)
    (DATA / "residual.json").write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def solver_window(w0: torch.Tensor, grid: int, dt: float) -> tuple[torch.Tensor, float]:
    """The solver's window from ``w0`` ``(B, 1, n, n)`` at ``grid``, returned on the modes ``|k| < n / 2``, and the seconds it took."""
    started = time.perf_counter()
    w = spectral_resample(w0[:, 0].double(), grid)
    frames = kolmogorov_flow(w, REYNOLDS, WINDOW, RECORD_EVERY, drag=DRAG, dt=dt)
    seconds = time.perf_counter() - started
    window = torch.cat([w[:, None], frames], dim=1)
    return spectral_resample(window, w0.shape[-1]).float(), seconds


def test_time_optimisation(name: str, *, cases: int, steps: int, lr: float, modes: int | None = None) -> dict:
    """From run ``name``: fine-tune a copy per test window on the PDE + initial loss alone.

    ``modes``: count only the residual's modes ``|k| < modes`` (8: the lower half, where the true
    window's residual is ~1% of persistence's instead of ~28%)."""
    out = DATA / "tto" / (name + (f"-residual-modes{modes}" if modes else ""))
    out.mkdir(parents=True, exist_ok=True)
    test = windows("test")[:: WINDOWS_PER_TRAJECTORY][:cases]  # one window per test trajectory
    trained = load_run(name)
    # Weighted up: with weight 1 the first frame drifted by ~10% rms while the residual fell.
    loss = physics(initial_weight=TTO_INITIAL_WEIGHT, modes=modes)
    results = []
    for index, truth in enumerate(test):
        path = out / f"case{index}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            continue
        truth = truth[None]
        w0 = truth[:, :1]
        model = copy.deepcopy(trained).train()
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        curve, started = [], time.perf_counter()
        for step in range(steps + 1):
            if step % 10 == 0 or step == steps:
                with torch.no_grad():
                    prediction = model(w0)
                    pde, initial = loss.terms(w0, prediction)
                curve.append({"step": step, "seconds": time.perf_counter() - started, "relative_l2": float(relative_l2(prediction, truth)),
                              "pde": float(pde), "initial": float(initial)})
                print(f"{name} case {index} step {step}: relative L2 {curve[-1]['relative_l2']:.4f}, pde {float(pde):.3e}", flush=True)
            if step == steps:
                break
            total = loss(w0, model(w0))
            optimiser.zero_grad()
            total.backward()
            optimiser.step()
        solver = {}
        for grid, dt in ((32, 1 / 128), (32, 1 / 256), (48, 1 / 256), (64, 1 / 256), (64, 1 / 512), (128, 1 / 512)):
            window, seconds = solver_window(w0, grid, dt)
            solver[f"{grid}x{grid}, dt {dt:.5f}"] = {"relative_l2": float(relative_l2(window, truth)), "seconds": seconds}
        result = {"case": index, "curve": curve, "solver": solver}
        path.write_text(json.dumps(result, indent=1) + "\n")
        results.append(result)
    return {"from": name, "steps": steps, "lr": lr, "initial_weight": TTO_INITIAL_WEIGHT, "residual_modes": modes, "cases": results}


def report() -> dict:
    """``results.json`` and the two figures from every finished run."""
    from zoo.eval.plots import plot_curves

    runs = {}
    for name in RUNS:
        path = DATA / "runs" / name / "result.json"
        if path.exists():
            result = json.loads(path.read_text())
            runs[name] = {"test": result["test"]["relative_l2"], "val": result["val"]["relative_l2"]["mean"],
                          "test_pde_residual": result["test"]["pde_residual"], "seconds": result["seconds"], "steps": result["steps"]}
    persistence = test_persistence()
    curves = {}
    for label, prefix in (("data only", "data-"), ("data + PDE", "data+pde-")):
        points = sorted((RUNS[n]["labelled"], r["test"]["mean"]) for n, r in runs.items() if n.startswith(prefix) and RUNS[n].keys() <= {"labelled", "pde"})
        if points:
            curves[label] = ([p[0] for p in points], [p[1] for p in points])
    # Runs at 64 windows only: short horizontal marks around 64, so that a single point shows.
    for name, label in (("data-64-continued", "data only, +200 steps"), ("data+pde-64-from-data", "+200 steps data + PDE"),
                        ("data+pde-64-weight0.01", "data + PDE, weight 0.01")):
        if name in runs:
            curves[label] = ([50, 80], [runs[name]["test"]["mean"]] * 2)
    if "pde-only-64" in runs:
        curves["PDE only (64 initial states)"] = ([4, 64], [runs["pde-only-64"]["test"]["mean"]] * 2)
    curves["persistence w(t) = w0"] = ([4, 64], [persistence] * 2)
    if curves:
        plot_curves(curves, FIGURES / "pino-data-size.png", xlabel="labelled training windows", ylabel="test relative L2 (32 windows)",
                    title="Kolmogorov Re=500, windows of 0.5 (65 frames), 32x32", logx=True)
    tto = {}
    for path in sorted((DATA / "tto").glob("*.json")):
        tto[path.stem] = json.loads(path.read_text())
    for name, result in tto.items():
        cases = result["cases"]
        steps = [point["step"] for point in cases[0]["curve"]]
        mean_curve = [sum(c["curve"][i]["relative_l2"] for c in cases) / len(cases) for i in range(len(steps))]
        seconds = [sum(c["curve"][i]["seconds"] for c in cases) / len(cases) for i in range(len(steps))]
        result["summary"] = {"before": mean_curve[0], "after": mean_curve[-1], "seconds": seconds[-1],
                             "solver": {k: {"relative_l2": sum(c["solver"][k]["relative_l2"] for c in cases) / len(cases),
                                            "seconds": sum(c["solver"][k]["seconds"] for c in cases) / len(cases)} for k in cases[0]["solver"]}}
        solver_points = sorted((v["seconds"], v["relative_l2"]) for v in result["summary"]["solver"].values())
        plot_curves({"test-time optimisation (PDE + initial loss)": (seconds, mean_curve),
                     "solver from the same 32x32 w0 (grids 32-128)": ([p[0] for p in solver_points], [p[1] for p in solver_points])},
                    FIGURES / f"pino-tto-{name.replace('+', '')}.png", xlabel="seconds (one shared CPU core)", ylabel="relative L2 of the window",
                    title=f"from {name}: mean over {len(cases)} test windows", logx=True, logy=True)
    summary = {"protocol": __doc__, "model": MODEL, "persistence_test_relative_l2": persistence, "runs": runs,
               "tto": {k: {"from": v["from"], "steps": v["steps"], "lr": v["lr"], **v["summary"]} for k, v in tto.items()}}
    (DATA / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "protocol"}, indent=1))
    return summary


def test_persistence() -> float:
    test = windows("test")
    return float(relative_l2(test[:, :1].expand_as(test), test).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["generate", "residual", "train", "tto", "report"])
    parser.add_argument("--runs", nargs="*", default=list(RUNS), help="which training runs")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--pde-weight", type=float, default=0.1)
    parser.add_argument("--tto-from", default="data-64")
    parser.add_argument("--tto-steps", type=int, default=200)
    parser.add_argument("--tto-lr", type=float, default=1e-3)
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--residual-modes", type=int, default=None, help="TTO: count only the residual's modes |k| < this")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.action == "generate":
        generate()
    elif args.action == "residual":
        residual_check()
    elif args.action == "train":
        for name in args.runs:
            train_run(name, RUNS[name], steps=args.steps, batch=args.batch, lr=args.lr, pde_weight=args.pde_weight)
    elif args.action == "tto":
        result = test_time_optimisation(args.tto_from, cases=args.cases, steps=args.tto_steps, lr=args.tto_lr, modes=args.residual_modes)
        suffix = f"-residual-modes{args.residual_modes}" if args.residual_modes else ""
        (DATA / "tto" / f"{args.tto_from}{suffix}.json").write_text(json.dumps(result, indent=1) + "\n")
    elif args.action == "report":
        report()


if __name__ == "__main__":
    sys.exit(main())
