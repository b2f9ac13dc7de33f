"""New equation: fine-tune the Navier-Stokes checkpoint into a model of NS carrying a passive scalar.

The other fluid system (``zoo.pde.passive_scalar_2d``) has two fields per time step, vorticity and a
scalar ``c`` advected by the flow (``c_t + u . grad c = kappa lap c``, kappa = 1e-3). The checkpoint
``fno-ns2d-nu1e-3`` reads 10 vorticity frames and predicts the next; here
``zoo.models.adapt.with_channels`` gives it new lifting and projection heads for 10 x 2 channels
in and 2 out and keeps its Fourier blocks. Three starts are trained the same way (same data,
optimiser, number of steps, seed):

* ``new heads``: ``with_channels`` as it is (fresh heads);
* ``warm heads``: ``zoo.models.adapt.carry_channel`` also copies the checkpoint's heads into the
  vorticity slots, so training starts from the checkpoint's vorticity prediction;
* ``scratch``: the same architecture, randomly initialised.

    python examples/finetune_new_equation.py            # full run (figures in BENCHMARKS.md)
    python examples/finetune_new_equation.py --quick    # seconds, what the test runs

Protocol: trajectories t = 0..20 at 64x64 (train: samples 0..49; test: 10 held-out samples from
``held_out.py``, whose initial fields no data set here contains); input t = 1..10,
one-step (teacher-forced) training, evaluation by free rollout over t = 11..20, relative L2 per
channel per test trajectory (as the FNO paper), averaged over the test trajectories.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from einops import rearrange

import zoo
from common import checkpoint_record, ns2d_data, parse_args, seed_everything, write_results
from held_out import FIRST_INDEX, held_out_ns2d
from zoo.data import FieldData, TimeWindows
from zoo.eval import plot_curves, plot_fields
from zoo.eval.rollout import rollout_errors
from zoo.losses import relative_l2
from zoo.models.adapt import carry_channel, with_channels
from zoo.models.normalisation import normalised_to
from zoo.train import TrainConfig, Trainer
from zoo.train.objectives import Autoregressive

CHECKPOINT = "fno-ns2d-nu1e-3"
HISTORY = 10
DIFFUSIVITY = 1e-3
FULL = {"resolution": 64, "steps": 20, "train_samples": 50, "test_samples": 10, "sizes": [10, 50], "train_steps": 150}
QUICK = {"resolution": 32, "steps": 12, "train_samples": 2, "test_samples": 2, "sizes": [2], "train_steps": 4}


def options(parser) -> None:
    parser.add_argument("--train-steps", type=int, help="optimisation steps per model (default: 150, quick: 4)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)


def channel_balanced_l2(channels: int):
    """Loss on frames ``(B, steps * channels, H, W)``: relative L2 of each channel, averaged over channels.

    One relative L2 over both fields would let the vorticity (std ~0.7) drown the scalar (~0.15).
    """

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        by_channel = lambda u: rearrange(u, "b (s c) h w -> (c b) s h w", c=channels)  # noqa: E731
        return relative_l2(by_channel(prediction), by_channel(target), reduction="none").view(channels, -1).mean()

    return loss


def train(model: torch.nn.Module, data: FieldData, args, steps: int) -> tuple[torch.nn.Module, list[float], float]:
    """Train ``model`` on one-step windows of ``data`` (t = 1..T); returns it, its loss per step and the wall time."""
    windows = TimeWindows(data, history=HISTORY, horizon=1)
    channels = len(data.channels)
    objective = Autoregressive(HISTORY, channels=channels, teacher_forcing=True, loss=channel_balanced_l2(channels))
    config = TrainConfig(max_steps=steps, batch_size=min(args.batch_size, len(windows)), lr=args.lr, schedule="cosine",
                         log_every=1, progress=False, device="cpu", seed=args.seed)
    started = time.perf_counter()
    history = Trainer(model, windows, config, objective=objective).fit()
    return model.eval(), [record["loss"] for record in history], time.perf_counter() - started


@torch.no_grad()
def rollout(model: torch.nn.Module, data: FieldData, batch_size: int = 10) -> torch.Tensor:
    """Free rollout from frames ``0..HISTORY-1`` of ``data`` (t = 1..T): ``(N, T - HISTORY, C, H, W)``."""
    channels = model.channels
    frames = data.trajectories[:, :HISTORY].flatten(1, 2)
    steps = data.trajectories.shape[1] - HISTORY
    parts = [model.rollout(chunk, steps) for chunk in frames.split(batch_size)]
    return torch.cat(parts).unflatten(1, (steps, channels))


def channel_errors(prediction: torch.Tensor, truth: torch.Tensor, names: list[str]) -> dict[str, Any]:
    """Per channel: relative L2 of the whole rollout (mean over samples) and per step, as plain numbers."""
    errors = {}
    for c, name in enumerate(names):
        e = rollout_errors(prediction[:, :, c], truth[:, :, c])
        errors[name] = {"trajectory": float(e["trajectory"]), "per_step": [float(v) for v in e["per_step"]]}
    return errors


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, "finetune_new_equation", argv, extra=options)
    plan = QUICK if args.quick else FULL
    steps = args.train_steps or plan["train_steps"]
    name = "ns2d-scalar-quick" if args.quick else "ns2d-scalar"
    started = time.perf_counter()
    common = {"resolution": plan["resolution"], "steps": plan["steps"], "diffusivity": DIFFUSIVITY}
    # t = 0 is dropped, as in the checkpoint's protocol: frames t = 1..10 are the input.
    train_data = ns2d_data(args.data, f"{name}/train", samples=plan["train_samples"], seed=30, **common).select(times=slice(1, None))
    # Fresh generator indices: initial fields that neither this training set nor the checkpoint's contains.
    test_data = held_out_ns2d(plan["test_samples"], **common).select(times=slice(1, None))
    data_seconds = time.perf_counter() - started
    names = train_data.channels
    truth = test_data.trajectories[:, HISTORY:]
    print(f"data: {tuple(train_data.trajectories.shape)} train, {tuple(test_data.trajectories.shape)} test, "
          f"channels {names}, {data_seconds:.0f} s")

    pretrained = zoo.from_pretrained(CHECKPOINT)
    vorticity = names.index("vorticity")
    vorticity_only = FieldData(test_data.trajectories[:, :, vorticity : vorticity + 1], ["vorticity"], test_data.times)
    zero_shot = rollout(pretrained, vorticity_only)
    reference = channel_errors(zero_shot, truth[:, :, vorticity : vorticity + 1], ["vorticity"])["vorticity"]
    print(f"{CHECKPOINT} as it is, vorticity only: rollout relative L2 {reference['trajectory']:.4f}")

    runs, curves, losses, last = [], {}, {}, {}
    for size in plan["sizes"]:
        subset = train_data.select(samples=slice(0, size))
        windows = TimeWindows(subset, history=HISTORY, horizon=1)
        seed_everything(args.seed)
        new_heads = normalised_to(with_channels(pretrained, out_channels=len(names)), windows)
        warm_heads = carry_channel(pretrained, new_heads, vorticity)
        seed_everything(args.seed)
        scratch = zoo.create_model(type(new_heads).__name__, **new_heads.config)
        for init, model in (("new heads", new_heads), ("warm heads", warm_heads), ("scratch", scratch)):
            model, loss, seconds = train(model, subset, args, steps)
            prediction = rollout(model, test_data)
            errors = channel_errors(prediction, truth, names)
            runs.append({"init": init, "train_trajectories": size, "steps": steps, "wall_seconds": round(seconds, 1),
                         "loss_first": loss[0], "loss_last": loss[-1], "errors": errors})
            losses[f"{init}, {size} traj."] = (range(1, len(loss) + 1), loss)
            for channel in names:
                curves.setdefault(channel, {})[f"{init}, {size} traj."] = (
                    range(HISTORY + 1, HISTORY + 1 + truth.shape[1]), errors[channel]["per_step"])
            print(f"{init:10s} {size:3d} trajectories, {steps} steps, {seconds:5.0f} s: rollout relative L2 "
                  + ", ".join(f"{c} {errors[c]['trajectory']:.4f}" for c in names))
            last[init] = prediction[0, -1, names.index("scalar")]

    plots = {}
    curves["vorticity"][f"{CHECKPOINT}, no fine-tuning"] = (range(HISTORY + 1, HISTORY + 1 + truth.shape[1]),
                                                              reference["per_step"])
    for channel, channel_curves in curves.items():
        plots[f"error_vs_step_{channel}"] = str(plot_curves(
            channel_curves, args.out / f"error_vs_step_{channel}.png",
            xlabel="t", ylabel=f"relative L2 ({channel})", title=f"rollout error, {channel}", logy=True))
    plots["training_loss"] = str(plot_curves(losses, args.out / "training_loss.png", xlabel="step",
                                             ylabel="one-step relative L2", title="training loss", logy=True))
    sample = {"true scalar": truth[0, -1, names.index("scalar")], **{init: last[init] for init in last}}
    plots["scalar_fields"] = str(plot_fields(sample, args.out / "scalar_fields.png",
                                             title=f"scalar at t = {int(test_data.times[-1])}, test trajectory 0"))
    results = {
        "checkpoint": checkpoint_record(CHECKPOINT),
        "protocol": {
            "data": f"NS + passive scalar (nu 1e-3, kappa {DIFFUSIVITY}, FNO forcing), {plan['resolution']}x"
                    f"{plan['resolution']}, t = 0..{plan['steps']} (t = 0 dropped); train: samples 0..{plan['train_samples'] - 1} (seed 30), "
                    f"test: samples {FIRST_INDEX}..{FIRST_INDEX + plan['test_samples'] - 1}, solved apart",
            "channels": names, "history": HISTORY, "rollout": f"t = {HISTORY + 1}..{plan['steps']}",
            "training": f"one-step teacher-forced relative L2 per channel (mean of the two), AdamW lr {args.lr} cosine, batch {args.batch_size}, "
                        f"{steps} steps, seed {args.seed}; normalisation: per-channel mean/std of the training targets",
            "metric": "relative L2 per test trajectory over the whole rollout, per channel, mean over test trajectories",
            "test_trajectories": plan["test_samples"],
        },
        "zero_shot_vorticity": reference,
        "runs": runs,
        "plots": plots,
        "data_seconds": round(data_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
