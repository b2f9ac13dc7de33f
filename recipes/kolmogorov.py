"""Markov neural operator for Kolmogorov flow (Re = 500, drag 0.1): learn the one-step map of 0.1 time units.

    python recipes/kolmogorov.py [--steps N] [--pushforward K] [--noise S] [--dissipativity W]
    python recipes/kolmogorov.py --quick --out DIR     # seconds: a tiny data set and model (the test)

A skeleton for issue #17 section 3, not a tuned recipe: no long training has been run with it.
The data are ``recipes/kolmogorov_data.py``'s (128x128 stored, read every 2nd point: 64x64). The
model is the FNO as a one-frame time stepper (``AutoregressiveOperator``, history 1, residual). Each
step's loss adds, with equal weights unless told otherwise:

* one-step relative L2 from a true state with Gaussian noise of ``noise`` x the field's std added
  to the input (noise injection: the model learns to map states slightly off the data back);
* pushforward (Brandstetter et al. 2022): roll ``K`` steps from a true state without gradient, then
  one step with gradient against the true state ``K + 1`` steps on; the model trains on its own
  errors at the cost of one extra forward per rolled step;
* dissipativity (Li et al. 2022, Markov neural operators): random fields ``u`` far outside the
  attractor (rms 2-4 x the field's std) must be mapped to ``lambda u`` with ``lambda = 0.5``, so a
  rollout that leaves the attractor is pulled back instead of blowing up.

At the end it rolls out from test states and measures the attractor statistics against the solver's
reference with ``zoo.eval.statistics.compare_statistics`` (and reports blow-ups).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from zoo.data import load_fields
from zoo.data.generate import generate
from zoo.data.kolmogorov import kolmogorov_recipe
from zoo.eval.statistics import compare_statistics
from zoo.hub import save_pretrained
from zoo.models import AutoregressiveOperator
from zoo.pde.kolmogorov import DOMAIN_LENGTH
from zoo.pde.random_fields import gaussian_random_field
from zoo.losses import relative_l2

DATA = Path(os.environ.get("ZOO_DATA", "/work/data")) / "kolmogorov"
ROOT = Path(__file__).resolve().parents[1]
REYNOLDS, RECORD_EVERY = 500.0, 0.1
DISSIPATION_FACTOR = 0.5  # MNO's lambda: outside the attractor the map contracts by this factor


def fno(width: int, modes: int, layers: int) -> dict:
    return {"architecture": "FNO", "config": {"in_channels": 1, "out_channels": 1, "modes": [modes, modes], "width": width, "n_layers": layers}}


def one_step_loss(model, trajectories: torch.Tensor, batch: int, noise: float, generator: torch.Generator) -> torch.Tensor:
    """Relative L2 of one step from true states ``(N, T, 1, n, n)`` with input noise."""
    n, t = _random_starts(trajectories, batch, 1, generator)
    inputs = trajectories[n, t]
    inputs = inputs + noise * model.field_std.view(1, -1, 1, 1) * torch.randn(inputs.shape, generator=generator)
    return relative_l2(model(inputs), trajectories[n, t + 1])


def pushforward_loss(model, trajectories: torch.Tensor, batch: int, unrolled: int, generator: torch.Generator) -> torch.Tensor:
    """One step with gradient after ``unrolled`` steps without, against the truth ``unrolled + 1`` steps on."""
    n, t = _random_starts(trajectories, batch, unrolled + 1, generator)
    state = trajectories[n, t]
    with torch.no_grad():
        for _ in range(unrolled):
            state = model(state)
    return relative_l2(model(state), trajectories[n, t + unrolled + 1])


def dissipativity_loss(model, batch: int, resolution: int, generator: torch.Generator) -> torch.Tensor:
    """``|S(u) - lambda u| / |lambda u|`` for random fields ``u`` with rms 2-4 x the field's std."""
    u = gaussian_random_field(batch, resolution, generator=generator)[:, None]
    scale = model.field_std.view(1, -1, 1, 1) * (2 + 2 * torch.rand(batch, 1, 1, 1, generator=generator))
    u = u / u.square().mean((-2, -1), keepdim=True).sqrt() * scale
    return relative_l2(model(u), DISSIPATION_FACTOR * u)


def _random_starts(trajectories: torch.Tensor, batch: int, ahead: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    samples, frames = trajectories.shape[:2]
    if frames <= ahead:
        raise ValueError(f"trajectories of {frames} frames are too short for {ahead} steps ahead")
    return torch.randint(samples, (batch,), generator=generator), torch.randint(frames - ahead, (batch,), generator=generator)


@torch.no_grad()
def rollout(model, initial: torch.Tensor, steps: int) -> tuple[torch.Tensor, int | None]:
    """``(B, steps + 1, n, n)`` from ``initial`` ``(B, n, n)``; the first step that went non-finite, if any."""
    frames, state = [initial], initial[:, None]
    for step in range(steps):
        state = model(state)
        if not torch.isfinite(state).all():
            return torch.stack(frames, 1), step + 1
        frames.append(state[:, 0])
    return torch.stack(frames, 1), None


def train(args: argparse.Namespace) -> dict:
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    data = load_fields(args.data / "re500-train")
    if data.spatial_shape[-1] > args.resolution:
        data = data.subsample(data.spatial_shape[-1] // args.resolution)
    trajectories = data.trajectories.float()
    std = float(trajectories.std())
    model = AutoregressiveOperator(fno(args.width, args.modes, args.layers), history=1, field_mean=[0.0], field_std=[std])
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, args.steps)
    began, log = time.perf_counter(), []
    for step in range(1, args.steps + 1):
        terms = {"one_step": one_step_loss(model, trajectories, args.batch, args.noise, generator)}
        if args.pushforward:
            terms["pushforward"] = pushforward_loss(model, trajectories, args.batch, args.pushforward, generator)
        if args.dissipativity:
            terms["dissipativity"] = args.dissipativity * dissipativity_loss(model, args.batch, trajectories.shape[-1], generator)
        loss = sum(terms.values())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % args.log_every == 0 or step == args.steps:
            log.append({"step": step, **{k: round(float(v.detach()), 5) for k, v in terms.items()}, "seconds": round(time.perf_counter() - began, 1)})
            print(json.dumps(log[-1]), flush=True)

    test = load_fields(args.data / "re500-test")
    if test.spatial_shape[-1] > args.resolution:
        test = test.subsample(test.spatial_shape[-1] // args.resolution)
    initial = test.trajectories[: args.rollouts, 0, 0].float()
    model.eval()
    predicted, blew_up = rollout(model, initial, args.rollout_steps)
    results = {"training": log, "rollout_steps": args.rollout_steps, "blew_up_at_step": blew_up}
    reference = args.data / "re500-reference"
    if blew_up is None and (reference / "dataset.json").exists() and not args.quick:
        reference_vorticity = load_fields(reference).trajectories[:, :, 0]
        distances, _, _ = compare_statistics(predicted, reference_vorticity, dt=RECORD_EVERY, viscosity=1 / REYNOLDS, length=DOMAIN_LENGTH)
        results["statistics_vs_solver"] = distances
    elif blew_up is None:
        distances, _, _ = compare_statistics(predicted, test.trajectories[: args.rollouts, :, 0], dt=RECORD_EVERY, viscosity=1 / REYNOLDS, length=DOMAIN_LENGTH)
        results["statistics_vs_test_trajectories"] = distances
    save_pretrained(model, args.out)  # the rollout statistics go to training.json: cards come later (#17 section 5)
    (args.out / "training.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def quick_data(directory: Path) -> None:
    """A few 32x32 trajectories (seconds): the pipeline's shape, not the physics."""
    small = dict(reynolds=REYNOLDS, steps=12, record_every=RECORD_EVERY, resolution=32, solve_resolution=32, spin_up=1.0, spin_up_resolution=32, settle=0.0)
    for name, seed in (("re500-train", 0), ("re500-test", 2)):
        generate(directory / name, kolmogorov_recipe(**small), samples=4, seed=seed, shard_size=4, progress=False)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny data and model, a few steps (for the tests)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "fno-kolmogorov-re500")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--modes", type=int, default=16)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--noise", type=float, default=0.01, help="input noise in units of the field's std")
    parser.add_argument("--pushforward", type=int, default=2, help="steps rolled without gradient (0: off)")
    parser.add_argument("--dissipativity", type=float, default=0.1, help="weight of MNO's dissipativity term (0: off)")
    parser.add_argument("--rollouts", type=int, default=4)
    parser.add_argument("--rollout-steps", type=int, default=10_000)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        quick_data(args.data)
        args.steps, args.batch, args.width, args.modes, args.layers = 3, 2, 8, 4, 2
        args.resolution, args.rollouts, args.rollout_steps, args.log_every = 32, 2, 8, 1
    return train(args)


if __name__ == "__main__":
    main()
