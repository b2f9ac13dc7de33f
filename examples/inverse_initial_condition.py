"""Recover an earlier vorticity field from a noisy later one: through the pretrained operator, with a
learned inverse operator, and through the numerical solver itself.

    python examples/inverse_initial_condition.py            # the full run (9 minutes on the shared 2-core machine)
    python examples/inverse_initial_condition.py --quick    # a small version of the same code (seconds)

Task. Navier-Stokes, nu = 1e-3, FNO forcing, 64x64: recover w(t = 10) from one observation of
w(t = 15) with Gaussian white noise of 1% or 5% of the observed field's RMS per grid point. The lag
is 5 time units rather than 10: at nu = 1e-3 viscosity alone damps a |k| = 3 mode by e^-3.6 over
10 time units, so from 10 units away most of w(10) beyond the forced mode is below a 1% noise and
no method recovers it.

Methods (the same observations, the same prior, the same optimiser where one is iterated):

* (a) operator: minimise ``||F(h) - y||^2 + smoothness |h|_H1^2`` (``zoo.train.inverse``, L-BFGS)
  where ``F`` is the pretrained operator's 5-step rollout and ``h`` its input, the 10-frame history
  w(t = 1..10). One later field cannot determine 10 earlier ones, so the history is a cubic
  polynomial in time with 4 unknown coefficient fields (temporal smoothness by construction; fed
  the least-squares cubic fit of the true history the operator's 5-step error is about 1.2x that of
  the true history); w(10) is its last frame. Initial guess: the observation, constant in time.
* (b) learned inverse: ``zoo.train.finetune.with_channels`` makes a 1 -> 1 FNO of the pretrained
  backbone (Fourier layers kept, new lifting and projection), trained on (noisy w(t + 5) -> w(t))
  pairs, t = 1..10, from the training trajectories, noise 1% and 5%; against the same network from
  scratch with the same data, steps and seed.
* (c) solver adjoint: the same minimisation with ``F`` = ``zoo.pde.navier_stokes_2d`` over 5 time
  units, gradients by autograd through every solver step, at dt = 0.05 (the data were made at
  dt = 0.01; the coarse step's own error at t = 15 is printed, and the cost of one evaluation at
  dt = 0.01 is measured to extrapolate).
* (b) + (c): the solver adjoint started from the learned inverse's estimate.

Data: 100 training trajectories, t = 0..15 (``ns2d_data``, seed 50), and 10 test trajectories of
sample indices no data set here uses (``held_out.held_out_ns2d``), all solved at dt = 0.01. Metric:
relative L2 of the recovered w(10) per sample, averaged over the test samples. Times are CPU
seconds of the one torch thread (``time.process_time``), which other jobs on the shared machine do
not inflate; the run's wall time is printed too. The smoothness weights were set by hand on two
training trajectories, never on the test samples.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from common import checkpoint_record, ns2d_data, parse_args, write_results
from held_out import held_out_ns2d
from torch.utils.data import TensorDataset

import zoo
from zoo.eval import plot_curves, plot_fields
from zoo.models import FieldOperator
from zoo.pde.navier_stokes import navier_stokes_2d
from zoo.train import TrainConfig, Trainer
from zoo.models.adapt import with_channels
from zoo.train.inverse import recover_field
from zoo.losses import relative_l2

EXAMPLE = "inverse_initial_condition"
CHECKPOINT = "fno-ns2d-nu1e-3"
VISCOSITY = 1e-3
TARGET = 10  # recover w(t = TARGET)
LAG = 5  # from w(t = TARGET + LAG)
NOISE = (0.01, 0.05)
SMOOTHNESS = {0.01: 1e-4, 0.05: 5e-4}  # prior weight per noise level (set on training samples)
HISTORY_DEGREE = 3  # the operator's input history is a polynomial of this degree in time
SOLVER_DT = 0.05
REFERENCE_DT = 0.01


def add_noise(fields: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """``fields (N, H, W)`` plus white noise of ``level`` times each field's RMS."""
    rms = fields.square().mean((-2, -1), keepdim=True).sqrt()
    return fields + level * rms * torch.randn(fields.shape, generator=generator)


def legendre_basis(frames: int, degree: int) -> torch.Tensor:
    """``(degree + 1, frames)`` Legendre polynomials at ``frames`` equispaced times in [-1, 1]; each is 1 at the last frame."""
    tau = torch.linspace(-1, 1, frames, dtype=torch.float64)
    return torch.stack([torch.special.legendre_polynomial_p(tau, k) for k in range(degree + 1)]).float()


def learned_inverse(model: torch.nn.Module, pretrained: bool, field_std: float) -> FieldOperator:
    """A 1 -> 1 FNO of the checkpoint's architecture in physical units; with ``pretrained`` its Fourier layers."""
    backbone = with_channels(model.backbone, in_channels=1)
    inverse = FieldOperator({"architecture": "FNO", "config": backbone.config}, input_std=[field_std], output_std=[field_std])
    if pretrained:
        inverse.backbone.load_state_dict(backbone.state_dict())
    return inverse


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, EXAMPLE, argv)
    started = time.perf_counter()
    quick = args.quick
    resolution = 32 if quick else 64
    train_steps = 4 if quick else 150
    iterations = 2 if quick else 16
    generator = torch.Generator().manual_seed(args.seed)

    train = ns2d_data(args.data, f"ns2d-inverse/train{'-quick' if quick else ''}", samples=2 if quick else 100,
                      seed=50, steps=TARGET + LAG, resolution=resolution).trajectories[:, :, 0]
    test = held_out_ns2d(1 if quick else 10, steps=TARGET + LAG, resolution=resolution).trajectories[:, :, 0]
    truth, later = test[:, TARGET], test[:, TARGET + LAG]
    observations = {level: add_noise(later, level, generator) for level in NOISE}
    field_std = float(train[:, 1:].std())

    model = zoo.from_pretrained(CHECKPOINT)
    model.requires_grad_(False)
    basis = legendre_basis(model.history, HISTORY_DEGREE)

    def operator_forward(coefficients: torch.Tensor) -> torch.Tensor:
        history = torch.einsum("bkxy,kt->btxy", coefficients, basis)
        return model.rollout(history, LAG)[:, -1]

    def solver_forward(w: torch.Tensor, dt: float = SOLVER_DT) -> torch.Tensor:
        return navier_stokes_2d(w, VISCOSITY, float(LAG), dt=dt)[:, -1]

    with torch.no_grad():
        fit = torch.einsum("btxy,tk->bkxy", test[:, TARGET - model.history + 1 : TARGET + 1], torch.linalg.pinv(basis))
        forward_errors = {
            "operator, true history": relative_l2(model.rollout(test[:, TARGET - model.history + 1 : TARGET + 1], LAG)[:, -1], later).item(),
            "operator, cubic fit of the true history": relative_l2(operator_forward(fit), later).item(),
            f"solver, dt = {SOLVER_DT}": relative_l2(solver_forward(truth), later).item(),
        }
    print(f"forward maps, w(t={TARGET}) -> w(t={TARGET + LAG}), relative L2 against the data (solved at dt = {REFERENCE_DT}):")
    for name, error in forward_errors.items():
        print(f"  {name:45s} {error:.2e}")

    # (b) learned inverse operators, one network for both noise levels.
    pairs_in, pairs_out = [], []
    for t in range(1, train.shape[1] - LAG):
        for level in NOISE:
            pairs_in.append(add_noise(train[:, t + LAG], level, generator))
            pairs_out.append(train[:, t])
    dataset = TensorDataset(torch.cat(pairs_in)[:, None], torch.cat(pairs_out)[:, None])
    learned: dict[str, dict[str, Any]] = {}
    for init in ("pretrained", "scratch"):
        torch.manual_seed(args.seed)
        inverse = learned_inverse(model, init == "pretrained", field_std)
        config = TrainConfig(max_steps=train_steps, batch_size=20, lr=1e-3, warmup_steps=train_steps // 10,
                             log_every=max(train_steps // 10, 1), progress=False, device="cpu", seed=args.seed)
        cpu = time.process_time()
        history = Trainer(inverse, dataset, config).fit()
        train_cpu = time.process_time() - cpu
        inverse.eval()
        estimates, seconds = {}, {}
        with torch.no_grad():
            for level, y in observations.items():
                cpu = time.process_time()
                estimates[level] = inverse(y[:, None])[:, 0]
                seconds[level] = time.process_time() - cpu
        learned[init] = {"estimates": estimates, "train_cpu_s": train_cpu, "inference_cpu_s": seconds,
                         "loss": ([r["step"] for r in history], [r["loss"] for r in history])}
        print(f"learned inverse ({init}): {train_steps} steps in {train_cpu:.0f} CPU s, final training loss "
              f"{history[-1]['loss']:.4f}")

    # (a), (c) and (b) + (c): the same minimisation through different forward maps or starts.
    runs: dict[str, dict[float, Any]] = {"operator": {}, "solver": {}, "learned + solver": {}}
    for level, y in observations.items():
        common = {"ndim": 2, "smoothness": SMOOTHNESS[level], "method": "lbfgs", "steps": iterations,
                  "monitor_every": 2 if not quick else 1, "clock": time.process_time}
        start = torch.zeros(y.shape[0], HISTORY_DEGREE + 1, *y.shape[1:])
        start[:, 0] = y
        runs["operator"][level] = recover_field(operator_forward, y, start, **common,
                                                monitor=lambda c: relative_l2(c.sum(1), truth).item())
        runs["solver"][level] = recover_field(solver_forward, y, y, **common, monitor=lambda w: relative_l2(w, truth).item())
        runs["learned + solver"][level] = recover_field(solver_forward, y, learned["pretrained"]["estimates"][level], **common,
                                                        monitor=lambda w: relative_l2(w, truth).item())

    # One evaluation (objective and gradient) of the solver at the data's own step, for the extrapolation.
    cost = {}
    for dt in (SOLVER_DT, REFERENCE_DT):
        w = observations[NOISE[0]].clone().requires_grad_(True)
        cpu = time.process_time()
        solver_forward(w, dt).square().sum().backward()
        cost[dt] = time.process_time() - cpu
    dt_ratio = cost[REFERENCE_DT] / cost[SOLVER_DT]

    table: dict[str, dict[str, Any]] = {}
    for level in NOISE:
        row: dict[str, Any] = {"observation (w(t=15) as the estimate)": {"error": relative_l2(observations[level], truth).item(), "cpu_s": 0.0}}
        for init in ("pretrained", "scratch"):
            row[f"(b) learned inverse, {init}"] = {"error": relative_l2(learned[init]["estimates"][level], truth).item(),
                                                  "cpu_s": learned[init]["inference_cpu_s"][level],
                                                  "training_cpu_s": learned[init]["train_cpu_s"]}
        names = {"operator": "(a) operator GD", "solver": f"(c) solver adjoint GD, dt={SOLVER_DT}",
                 "learned + solver": "(b) + (c) solver adjoint from the learned inverse"}
        for key, name in names.items():
            run = runs[key][level]
            row[name] = {"error": run.monitored[-1], "cpu_s": run.seconds[-1], "evaluations": run.evaluations[-1],
                         "curve": {"iteration": run.monitored_steps, "cpu_s": run.seconds, "error": run.monitored}}
        target = row["(a) operator GD"]["error"]
        solver = runs["solver"][level]
        reached = next((s for s, e in zip(solver.seconds, solver.monitored) if e <= target), None)
        row["(c) CPU s to reach the error of (a)"] = reached
        table[f"noise {level:.0%}"] = row

    print(f"\nrecovering w(t={TARGET}) from w(t={TARGET + LAG}) + noise, {test.shape[0]} test samples, "
          f"{resolution}x{resolution}; relative L2 (mean over samples) and CPU seconds for all samples:")
    for noise, row in table.items():
        print(f"  {noise}:")
        for name, entry in row.items():
            if isinstance(entry, dict):
                extra = f", training {entry['training_cpu_s']:.0f} s" if "training_cpu_s" in entry else ""
                extra += f", {entry['evaluations']} evaluations" if "evaluations" in entry else ""
                print(f"    {name:52s} {entry['error']:.4f}  ({entry['cpu_s']:.1f} CPU s{extra})")
            else:
                print(f"    {name:52s} {'not reached' if entry is None else f'{entry:.1f}'}")
    print(f"one solver evaluation with gradient costs {dt_ratio:.1f}x as much at dt = {REFERENCE_DT} as at dt = {SOLVER_DT}")

    out = args.out
    for level in NOISE:
        tag = f"{round(level * 100)}pct"
        plot_fields({"truth w(10)": truth[0], f"observed w(15), {level:.0%}": observations[level][0],
                     "(a) operator": runs["operator"][level].field[0].sum(0),
                     "(b) learned": learned["pretrained"]["estimates"][level][0],
                     "(c) solver": runs["solver"][level].field[0]},
                    out / f"recovered_{tag}.png", title=f"test sample 0, noise {level:.0%}")
        curves = {name: (runs[key][level].seconds, runs[key][level].monitored)
                  for key, name in (("operator", "(a) operator"), ("solver", "(c) solver adjoint"),
                                    ("learned + solver", "(b) + (c)"))}
        plot_curves(curves, out / f"error_vs_cpu_time_{tag}.png", xlabel="CPU seconds (all test samples)",
                    ylabel="relative L2 of w(10)", title=f"noise {level:.0%}", logy=True)
        plot_curves({name: (runs[key][level].monitored_steps, runs[key][level].monitored)
                     for key, name in (("operator", "(a) operator"), ("solver", "(c) solver adjoint"),
                                       ("learned + solver", "(b) + (c)"))},
                    out / f"error_vs_iteration_{tag}.png", xlabel="L-BFGS iteration", ylabel="relative L2 of w(10)",
                    title=f"noise {level:.0%}", logy=True)
    plot_curves({f"learned inverse, {init}": learned[init]["loss"] for init in learned}, out / "learned_inverse_training.png",
                xlabel="step", ylabel="training relative L2", logy=True)

    results = {
        "example": EXAMPLE,
        "checkpoint": checkpoint_record(CHECKPOINT),
        "task": f"w(t={TARGET}) from w(t={TARGET + LAG}) + white noise, NS nu={VISCOSITY}, {resolution}x{resolution}",
        "protocol": {"train_trajectories": train.shape[0], "test_samples": test.shape[0], "noise": list(NOISE),
                     "smoothness": {str(k): v for k, v in SMOOTHNESS.items()}, "prior": "H1 seminorm",
                     "optimiser": f"L-BFGS, {iterations} iterations, strong Wolfe", "history_degree": HISTORY_DEGREE,
                     "solver_dt": SOLVER_DT, "learned_inverse_steps": train_steps, "seed": args.seed,
                     "times": "CPU seconds of one torch thread (time.process_time)"},
        "forward_errors": forward_errors,
        "solver_cost_ratio_dt_0.01_vs_0.05": dt_ratio,
        "results": table,
        "wall_s": time.perf_counter() - started,
    }
    print(f"\nwall time {results['wall_s']:.0f} s; results in {write_results(out, results)}")
    return results


if __name__ == "__main__":
    main()
