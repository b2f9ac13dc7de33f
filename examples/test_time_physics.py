"""Test-time physics fine-tuning: improve the pretrained NS rollout of one new flow with the PDE alone.

For each new initial condition (held-out trajectories, ``held_out.py``), ``zoo.train.finetune.finetune_instance``
fine-tunes a copy of ``fno-ns2d-nu1e-3`` on the PINO residual of its own rollout
(``zoo.losses.physics.NavierStokesPhysics``, nu = 1e-3, the FNO forcing, time derivative between
frames one time unit apart): no solver data is used. Reported per case: relative L2 of the rollout
t = 11..50 against the solver before and after, the residual before and after (and the solver's
own, the floor), and the wall time. Then, on the first case, the settings that could matter:
learning rate, number of steps, residual horizon and which weights adapt.

It makes the rollouts worse (BENCHMARKS.md), and the last part of the run shows why, on one
Kolmogorov-flow trajectory (Re = 500, 32x32): the residual of the *solver's own* trajectory, as a
fraction of the residual of the plainly wrong trajectory ``w(t) = w(0)`` (persistence), for frames
``spacing`` apart. With frames one time unit apart (the stored data this example tunes on) the
frame-to-frame residual (``navier_stokes_residual``, second order at the midpoints) of the exact
trajectory is as large as that of persistence: over one time unit the flow changes completely, the
difference quotient is not the time derivative, and minimising that residual pulls a rollout
towards whatever makes the difference quotient match the spatial terms, not towards the solution.
At PINO's spacing (1/128 of a time unit, 65 frames over 0.5) the fourth-order staggered residual
of :mod:`zoo.losses.space_time` puts the solver's trajectory at ~1e-6 of persistence (mean squares;
the spacing does most of it, the fourth order ~6-9x more): only a
space-time operator predicting windows at that resolution has a residual worth minimising. What
it then achieves on Kolmogorov flow (training with the PDE loss, test-time optimisation) is
measured by ``recipes/kolmogorov_pino.py`` and reported in docs/kolmogorov.md.

    python examples/test_time_physics.py            # full run (figures in BENCHMARKS.md)
    python examples/test_time_physics.py --quick    # seconds, what the test runs
"""

from __future__ import annotations

import time
from typing import Any

import torch

import zoo
from common import checkpoint_record, parse_args, write_results
from held_out import FIRST_INDEX, held_out_ns2d
from zoo.eval import plot_curves, radial_power_spectrum
from zoo.eval.rollout import rollout_errors
from zoo.train.finetune import finetune_instance
from zoo.losses.physics import NavierStokesPhysics, navier_stokes_residual
from zoo.losses.space_time import kolmogorov_residual
from zoo.pde.kolmogorov import kolmogorov_flow, unit_square_forcing, unit_square_viscosity
from zoo.pde.random_fields import gaussian_random_field

CHECKPOINT = "fno-ns2d-nu1e-3"
HISTORY = 10
VISCOSITY = 1e-3
FULL = {"resolution": 64, "frames": 50, "cases": 5, "horizon": 40, "steps": 10,
        "sweep": [{"lr": 1e-5}, {"lr": 1e-3}, {"steps": 3}, {"spectral": "freeze"},
                  {"horizon": 10, "steps": 20}, {"horizon": 10, "steps": 20, "lr": 1e-5}]}
QUICK = {"resolution": 32, "frames": 14, "cases": 1, "horizon": 4, "steps": 3, "sweep": [{"lr": 1e-5}]}
# Frame spacings of the residual check, in time units, and the trajectory it runs on (t = 0..4).
SPACINGS = (1.0, 0.25, 1 / 16, 1 / 128)
KOLMOGOROV = {"reynolds": 500.0, "resolution": 32, "spin_up": 5.0, "length": 4.0}


def options(parser) -> None:
    parser.add_argument("--lr", type=float, default=1e-4, help="AdamW rate of the test-time fine-tuning")
    parser.add_argument("--steps", type=int, help="fine-tuning steps per case (default 10, quick 3)")
    parser.add_argument("--horizon", type=int, help="rollout steps in the residual (default 40, quick 4)")


def rollout(model: torch.nn.Module, inputs: torch.Tensor, steps: int) -> torch.Tensor:
    """``(1, steps, H, W)`` from inputs ``(1, HISTORY, H, W)``."""
    with torch.no_grad():
        return model.rollout(inputs, steps)


def evaluate(prediction: torch.Tensor, truth: torch.Tensor, inputs: torch.Tensor, physics) -> dict[str, Any]:
    """Relative L2 of the rollout (whole and per step) and its mean-square residual from the last input frame."""
    errors = rollout_errors(prediction, truth)
    return {"relative_l2": float(errors["trajectory"]), "per_step": [float(e) for e in errors["per_step"]],
            "residual": float(physics(inputs, prediction))}


def tune(model, inputs, truth, physics, *, lr: float, steps: int, horizon: int, spectral: str = "train") -> dict[str, Any]:
    """One test-time fine-tuning of ``model`` on ``inputs`` ``(1, HISTORY, H, W)``, evaluated against ``truth``.

    ``after`` holds the errors of the whole rollout; ``horizon_l2`` the relative L2 over the
    ``horizon`` steps the residual saw, before and after.
    """
    started = time.perf_counter()
    tuned, residuals = finetune_instance(model, inputs, physics, steps=steps, lr=lr, rollout_steps=horizon,
                                         spectral=spectral)
    seconds = time.perf_counter() - started
    after = evaluate(rollout(tuned, inputs, truth.shape[1]), truth, inputs, physics)
    horizon_l2 = {label: float(rollout_errors(rollout(m, inputs, horizon), truth[:, :horizon])["trajectory"])
                  for label, m in (("before", model), ("after", tuned))}
    settings = {"lr": lr, "steps": steps, "horizon": horizon, "spectral": spectral}
    return {"settings": settings, "seconds": round(seconds, 1), "loss": residuals, "after": after,
            "horizon_l2": horizon_l2, "model": tuned}


def residual_against_spacing() -> dict[str, Any]:
    """The residual of the solver's trajectory over that of persistence, per frame spacing and scheme.

    Kolmogorov flow without drag (the frame-to-frame residual has no drag term), from a random
    field after a short spin-up, recorded every 1/128 and read every ``spacing``; both residuals
    use the solver's own spatial scheme (its grid, its 2/3 rule), so only the time discretisation differs.
    """
    reynolds, n = KOLMOGOROV["reynolds"], KOLMOGOROV["resolution"]
    w0 = 4 * gaussian_random_field(1, n, seed=0, dtype=torch.float64)
    w0 = kolmogorov_flow(w0, reynolds, KOLMOGOROV["spin_up"], KOLMOGOROV["spin_up"])[:, -1]
    finest = min(SPACINGS)
    frames = torch.cat([w0[:, None], kolmogorov_flow(w0, reynolds, KOLMOGOROV["length"], finest, dt=finest / 2)], dim=1)
    schemes = {
        "frame-to-frame (midpoint, 2nd order)": lambda w, h: navier_stokes_residual(
            w, dt=h, viscosity=unit_square_viscosity(reynolds), forcing=unit_square_forcing),
        "space-time (staggered, 4th order)": lambda w, h: kolmogorov_residual(
            w, window=h * (w.shape[1] - 1), reynolds=reynolds, drag=0.0),
    }
    rows = []
    for spacing in SPACINGS:
        w = frames[:, :: round(spacing / finest)]
        persistence = w[:, :1].expand_as(w).clone()
        row = {"spacing": spacing, "frames": w.shape[1]}
        for name, residual in schemes.items():
            row[name] = float(residual(w, spacing).square().mean() / residual(persistence, spacing).square().mean())
        rows.append(row)
        print(f"frames {spacing:.4g} apart: residual of the solver's trajectory / persistence's: "
              + ", ".join(f"{name} {row[name]:.2e}" for name in schemes))
    return {"rows": rows, "setting": f"Kolmogorov flow Re {reynolds:g}, no drag, {n}x{n}, t = 0..{KOLMOGOROV['length']:g} after a "
                                      f"{KOLMOGOROV['spin_up']:g}-unit spin-up from a random field (seed 0); ratio of mean squares"}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, "test_time_physics", argv, extra=options)
    plan = QUICK if args.quick else FULL
    steps, horizon = args.steps or plan["steps"], args.horizon or plan["horizon"]
    started = time.perf_counter()
    # Flows the checkpoint never saw: samples at fresh generator indices (see held_out.py).
    data = held_out_ns2d(plan["cases"], resolution=plan["resolution"], steps=plan["frames"])
    frames = data.trajectories[:, 1:, 0]  # t = 1..frames
    model = zoo.from_pretrained(CHECKPOINT)
    physics = NavierStokesPhysics(viscosity=VISCOSITY, dt=float(data.times[1] - data.times[0]))
    future = frames.shape[1] - HISTORY
    print(f"{plan['cases']} new flows at {plan['resolution']}x{plan['resolution']}, rollout t = {HISTORY + 1}.."
          f"{frames.shape[1]}; residual over {horizon} steps, {steps} AdamW steps at lr {args.lr}")

    cases = []
    for index, trajectory in enumerate(frames):
        inputs, truth = trajectory[None, :HISTORY], trajectory[None, HISTORY:]
        before = evaluate(rollout(model, inputs, future), truth, inputs, physics)
        solver = float(physics(inputs, truth))
        run = tune(model, inputs, truth, physics, lr=args.lr, steps=steps, horizon=horizon)
        cases.append({"case": index, "before": before, "after": run["after"], "solver_residual": solver,
                      "seconds": run["seconds"], "loss": run["loss"], "model": run.pop("model")})
        print(f"case {index}: relative L2 {before['relative_l2']:.4f} -> {run['after']['relative_l2']:.4f}, "
              f"residual {before['residual']:.2e} -> {run['after']['residual']:.2e} (solver {solver:.2e}), "
              f"{run['seconds']:.0f} s")

    # What could change the outcome, on the first case: one setting changed at a time.
    inputs, truth = frames[:1, :HISTORY], frames[:1, HISTORY:]
    base = {"lr": args.lr, "steps": steps, "horizon": horizon}
    sweep = []
    for change in plan["sweep"]:
        run = tune(model, inputs, truth, physics, **{**base, **change})
        run.pop("model")
        sweep.append(run)
        print(f"case 0, {change}: relative L2 {cases[0]['before']['relative_l2']:.4f} -> "
              f"{run['after']['relative_l2']:.4f} (over the tuned horizon {run['horizon_l2']['before']:.4f} -> "
              f"{run['horizon_l2']['after']:.4f}), residual -> {run['after']['residual']:.2e}, {run['seconds']:.0f} s")

    # Where the error goes: its radial spectrum at the last step, before and after, for case 0.
    last = {"before": rollout(model, inputs, future)[0, -1], "after": rollout(cases[0]["model"], inputs, future)[0, -1]}
    spectra = {}
    for label, field in last.items():
        k, power = radial_power_spectrum((field - truth[0, -1])[None])
        spectra[label] = ([float(v) for v in k[1:]], [float(v) for v in power[0, 1:]])
    k, power = radial_power_spectrum(truth[:1, -1])
    spectra["solution itself"] = ([float(v) for v in k[1:]], [float(v) for v in power[0, 1:]])

    times = list(range(HISTORY + 1, HISTORY + 1 + future))
    mean_step = lambda key: [sum(c[key]["per_step"][s] for c in cases) / len(cases) for s in range(future)]  # noqa: E731
    plots = {
        "error_vs_step": str(plot_curves(
            {"pretrained": (times, mean_step("before")), "after test-time physics": (times, mean_step("after"))},
            args.out / "error_vs_step.png", xlabel="t", ylabel="relative L2 (mean over cases)",
            title="rollout error before and after", logy=True)),
        "residual_during_tuning": str(plot_curves(
            {f"case {c['case']}": (range(1, len(c["loss"]) + 1), c["loss"]) for c in cases},
            args.out / "residual_during_tuning.png", xlabel="AdamW step", ylabel="mean-square PDE residual",
            title="the loss being minimised", logy=True)),
        "error_spectrum": str(plot_curves(
            spectra, args.out / "error_spectrum.png", xlabel="wavenumber", ylabel="power",
            title=f"case 0 at t = {frames.shape[1]}: error spectrum", logx=True, logy=True)),
    }
    spacing = residual_against_spacing()
    plots["residual_against_spacing"] = str(plot_curves(
        {name: ([r["spacing"] for r in spacing["rows"]], [r[name] for r in spacing["rows"]]) for name in spacing["rows"][0] if "order" in name},
        args.out / "residual_against_spacing.png", xlabel="time between frames", ylabel="residual of the solution / of persistence",
        title="can the residual tell the solution from w(t) = w(0)?", logx=True, logy=True))
    for case in cases:
        case.pop("model")
    results = {
        "checkpoint": checkpoint_record(CHECKPOINT),
        "protocol": {
            "data": f"NS nu {VISCOSITY}, FNO forcing, {plan['resolution']}x{plan['resolution']}, {plan['cases']} "
                    f"held-out trajectories (samples {FIRST_INDEX}..{FIRST_INDEX + plan['cases'] - 1}, new initial fields), input t = 1..{HISTORY}, rollout t = "
                    f"{HISTORY + 1}..{frames.shape[1]}",
            "tuning": f"finetune_instance: AdamW lr {args.lr} constant, no weight decay, {steps} steps, residual "
                      f"(NavierStokesPhysics, dt {physics.dt}) over the first {horizon} rollout steps from t = {HISTORY}",
            "metric": "relative L2 of the whole rollout against the solver; residual: mean square over the rollout",
        },
        "cases": cases,
        "sweep_case_0": sweep,
        "error_spectrum_case_0": spectra,
        "residual_against_spacing": spacing,
        "plots": plots,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
