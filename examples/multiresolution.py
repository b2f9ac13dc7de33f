"""Multi-resolution training: one FNO trained on 32, 64 and 128 grids together vs one grid each.

The question (issue #8): is a model trained on a mix of grid sizes as accurate at each size as a
model trained at that size alone, for the same compute?

Protocol. 2D Navier-Stokes vorticity at nu = 1e-3 with the FNO paper's forcing. Trajectories are
solved once at 128x128 (zoo's pseudo-spectral solver, recorded at t = 0, 1, ..., 20); the 64 and 32
grids are every 2nd and 4th point of the same solutions (the FNO paper's convention), so every grid
shows the same flows. Training: 32 trajectories (seed 40), one-step windows
``w(t-9..t) -> w(t+1)`` over t = 1..20. Test: 8 other trajectories (seed 41), ``w(t = 1..10)`` in,
free rollout of t = 11..20, relative L2 of each whole predicted trajectory averaged over samples
(the FNO paper's metric), at each of the three grids.

Models: one ``AutoregressiveOperator`` (FNO backbone, modes 12, width 20, 4 layers, as the FNO
paper's FNO-2D; it predicts the increment; the vorticity is scaled by the training set's mean and
std) from the same random initialisation, trained from scratch by zoo's ``Trainer`` (AdamW, lr 1e-3,
cosine schedule, batch 10, one-step relative L2) on the 32 grid only, 64 only, 128 only, or a mix
in which each batch holds one grid and the grids take equal shares (zoo's ``BatchPlan``).

Compute, two ways. Equal wall-clock (the main comparison, since a 128x128 step costs about ten
32x32 steps): the time of one training step at each grid is measured first (the fastest of a few,
which the other jobs of a shared machine disturb least); the 128-only regime trains 25 steps and
every other regime as many steps as take the same time, ``25 * t(128) / t(regime)``, where a mixed
step costs the mean of its grids' steps. Step counts thus depend on the ratios of step times, not
on how busy the machine is. Equal steps: every regime trains 25 steps (the 128-only model is the
same run). The checkpoint ``fno-ns2d-nu1e-3`` is
evaluated on the same test set as a reference only: it had 500 trajectories and about 35 minutes
of training, mostly at 32x32, so starting from it would bias the comparison toward its grids and
dwarf the budget; all four regimes here start from scratch.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass

import torch
from torch.utils.data import default_collate

from common import checkpoint_record, ns2d_data, parse_args, seed_everything, write_results
from zoo import from_pretrained
from zoo.data import FieldData, TimeWindows
from zoo.eval import plot_curves, plot_fields
from zoo.eval.rollout import rollout_errors, rollout_predictions
from zoo.models.field_operators import AutoregressiveOperator
from zoo.train import Supervised, TrainConfig, Trainer

CHECKPOINT = "fno-ns2d-nu1e-3"


@dataclass(frozen=True)
class Sizes:
    """The experiment's sizes: data (``base`` grid solved, grids ``base/4, base/2, base``), model, compute."""

    base: int
    train_samples: int
    test_samples: int
    time_steps: int
    history: int
    modes: int
    width: int
    layers: int
    batch_size: int
    base_steps: int
    timed_steps: int

    @property
    def grids(self) -> tuple[int, int, int]:
        return self.base // 4, self.base // 2, self.base


FULL = Sizes(base=128, train_samples=32, test_samples=8, time_steps=20, history=10, modes=12, width=20,
             layers=4, batch_size=10, base_steps=25, timed_steps=3)
QUICK = Sizes(base=32, train_samples=4, test_samples=2, time_steps=12, history=10, modes=4, width=8,
              layers=2, batch_size=4, base_steps=4, timed_steps=2)


class GridCountingLoss(Supervised):
    """One-step relative L2 (:class:`Supervised`) that also counts the training batches of each grid."""

    def __init__(self) -> None:
        super().__init__("relative_l2")
        self.batches: Counter[int] = Counter()

    def __call__(self, model, batch):
        self.batches[int(batch[0].shape[-1])] += 1
        return super().__call__(model, batch)


def load_data(args, sizes: Sizes) -> tuple[FieldData, FieldData]:
    """Train and test vorticity at t >= 1, solved at ``sizes.base``: ``(N, T, 1, base, base)`` each."""
    common = {"resolution": sizes.base, "steps": sizes.time_steps}
    train = ns2d_data(args.data, f"ns2d-{sizes.base}/train", seed=40, samples=sizes.train_samples, **common)
    test = ns2d_data(args.data, f"ns2d-{sizes.base}/test", seed=41, samples=sizes.test_samples, **common)
    later = slice(1, None)
    return train.select(times=later), test.select(times=later)


def make_model(sizes: Sizes, train: FieldData, seed: int) -> AutoregressiveOperator:
    """The same FNO time stepper, from the same initialisation (``seed``), for every regime."""
    mean, std = train.channel_statistics()
    seed_everything(seed)
    backbone = {"in_channels": sizes.history, "out_channels": 1, "modes": [sizes.modes] * 2,
                "width": sizes.width, "n_layers": sizes.layers}
    return AutoregressiveOperator({"architecture": "FNO", "config": backbone}, history=sizes.history,
                                  field_mean=mean.tolist(), field_std=std.tolist())


def train_config(sizes: Sizes, steps: int, seed: int) -> TrainConfig:
    return TrainConfig(max_steps=steps, batch_size=sizes.batch_size, lr=1e-3, schedule="cosine", seed=seed,
                       log_every=max(1, steps // 25), progress=False, device="cpu")


def step_seconds(sizes: Sizes, train: FieldData, windows: dict[int, TimeWindows], seed: int) -> dict[int, float]:
    """Seconds of one training step at each grid (the fastest of ``timed_steps`` after a warm-up step),
    measured with the Trainer on a throwaway model."""
    seconds = {}
    for grid, dataset in windows.items():
        trainer = Trainer(make_model(sizes, train, seed), dataset, train_config(sizes, 1, seed))
        batch = default_collate([dataset[i] for i in range(sizes.batch_size)])
        trainer.train_step(batch)
        times = []
        for _ in range(sizes.timed_steps):
            started = time.perf_counter()
            trainer.train_step(batch)
            times.append(time.perf_counter() - started)
        seconds[grid] = min(times)
    return seconds


def train_regime(sizes: Sizes, train: FieldData, windows: dict[int, TimeWindows], grids: tuple[int, ...],
                 steps: int, seed: int) -> tuple[AutoregressiveOperator, dict]:
    """Train from scratch for ``steps`` steps on the windows of ``grids``; the model and its record."""
    model = make_model(sizes, train, seed)
    objective = GridCountingLoss()
    trainer = Trainer(model, [windows[g] for g in grids], train_config(sizes, steps, seed), objective=objective)
    started = time.perf_counter()
    history = trainer.fit()
    record = {
        "grids": list(grids),
        "steps": steps,
        "wall_s": round(time.perf_counter() - started, 1),
        "batches_per_grid": {str(g): objective.batches[g] for g in grids},
        "loss_first": history[0]["loss"],
        "loss_last": history[-1]["loss"],
        "loss_curve": [(r["time_s"], r["loss"]) for r in history],
    }
    return model.eval(), record


def rollout_error(model, test: FieldData, grid: int, history: int) -> tuple[float, torch.Tensor]:
    """Relative L2 of the rollout over the test horizon at ``grid``, and the predictions ``(N, S, grid, grid)``."""
    truth = test.subsample(test.spatial_shape[0] // grid).trajectories[:, :, 0]
    predictions = rollout_predictions(model, truth, history=history)
    return rollout_errors(predictions, truth[:, history:])["trajectory"].item(), predictions


def print_table(title: str, rows: dict[str, dict], grids: tuple[int, ...]) -> None:
    print(f"\n{title}")
    print(f"{'regime':<24}" + "".join(f"{f'{g}x{g}':>10}" for g in grids) + f"{'steps':>8}{'wall s':>8}")
    for name, row in rows.items():
        errors = "".join(f"{row['relative_l2'][str(g)]:>10.4f}" for g in grids)
        print(f"{name:<24}{errors}{row.get('steps', ''):>8}{row.get('wall_s', ''):>8}")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(__doc__, "multiresolution", argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    train, test = load_data(args, sizes)
    grids = sizes.grids
    windows = {g: TimeWindows(train.subsample(sizes.base // g), history=sizes.history) for g in grids}
    seconds = step_seconds(sizes, train, windows, args.seed)
    regimes = {f"{g} only": (g,) for g in grids} | {"mix " + "/".join(map(str, grids)): grids}

    def errors_at_each_grid(model) -> dict[str, float]:
        return {str(g): rollout_error(model, test, g, sizes.history)[0] for g in grids}

    trained: dict[tuple[tuple[int, ...], int], tuple] = {}  # (grids, steps) -> (model, record)

    def run(grids_of_regime: tuple[int, ...], steps: int) -> dict:
        key = (grids_of_regime, steps)
        if key not in trained:
            model, record = train_regime(sizes, train, windows, grids_of_regime, steps, args.seed)
            trained[key] = model, {**record, "relative_l2": errors_at_each_grid(model)}
        return trained[key][1]

    budget_s = sizes.base_steps * seconds[sizes.base]
    equal_time = {}
    for name, regime_grids in regimes.items():
        cost = sum(seconds[g] for g in regime_grids) / len(regime_grids)
        equal_time[name] = run(regime_grids, round(budget_s / cost))
    equal_steps = {name: run(regime_grids, sizes.base_steps) for name, regime_grids in regimes.items()}

    reference = {"relative_l2": errors_at_each_grid(from_pretrained(CHECKPOINT))}
    print_table(f"Equal wall-clock (the time of {sizes.base_steps} steps at {sizes.base}x{sizes.base}, "
                f"{budget_s:.0f} s measured): rollout relative L2 at each grid", equal_time, grids)
    print_table(f"Equal steps ({sizes.base_steps} steps each)", equal_steps, grids)
    print_table(f"Reference, not trained here: {CHECKPOINT}", {CHECKPOINT: reference}, grids)

    def by_grid(rows: dict[str, dict]) -> dict[str, tuple[list[int], list[float]]]:
        return {name: (list(grids), [row["relative_l2"][str(g)] for g in grids]) for name, row in rows.items()}

    axes = {"xlabel": "evaluation grid (n x n)", "ylabel": "rollout relative L2", "logx": True}
    base_grid = f"{sizes.base}x{sizes.base}"
    plots = [
        plot_curves(by_grid(equal_time | {f"{CHECKPOINT} (reference)": reference}),
                    args.out / "error_vs_resolution.png",
                    title=f"equal wall-clock ({sizes.base_steps} steps at {base_grid})", **axes),
        plot_curves(by_grid(equal_steps), args.out / "error_vs_resolution_equal_steps.png",
                    title=f"equal steps ({sizes.base_steps} each)", **axes),
        plot_curves({name: tuple(zip(*row["loss_curve"])) for name, row in equal_time.items()},
                    args.out / "loss_vs_time.png", xlabel="wall-clock (s)",
                    ylabel="training loss (one-step relative L2)", title="equal wall-clock", logy=True),
    ]
    final = {"truth": test.trajectories[0, -1, 0]}
    for name, regime_grids in regimes.items():
        model, _ = trained[(regime_grids, equal_time[name]["steps"])]
        final[name] = rollout_error(model, test.select(samples=[0]), sizes.base, sizes.history)[1][0, -1]
    plots.append(plot_fields(final, args.out / "final_fields.png",
                             title=f"test sample 0 at t = {sizes.time_steps}, {base_grid}, equal wall-clock"))

    results = {
        "example": "multiresolution",
        "quick": args.quick,
        "sizes": asdict(sizes),
        "protocol": {
            "data": f"NS nu=1e-3, FNO forcing, solved at {sizes.base}x{sizes.base}, t=0..{sizes.time_steps}; "
                    f"grids {list(grids)} take every {[sizes.base // g for g in grids]} point of it; "
                    f"train {sizes.train_samples} trajectories (seed 40), test {sizes.test_samples} (seed 41); "
                    "t>=1 used",
            "task": f"w(t-{sizes.history - 1}..t) -> w(t+1); test: w(t=1..{sizes.history}) -> rollout "
                    f"t={sizes.history + 1}..{sizes.time_steps}",
            "metric": "relative L2 of each whole predicted trajectory, mean over test samples",
            "training": "from scratch, same init (seed), AdamW lr 1e-3 cosine, one-step relative L2, "
                        "each batch one grid",
            "seed": args.seed,
        },
        "step_seconds": {str(g): s for g, s in seconds.items()},
        "equal_time_budget_s": budget_s,
        "equal_time": equal_time,
        "equal_steps": equal_steps,
        "reference": {"checkpoint": checkpoint_record(CHECKPOINT), **reference},
        "plots": [str(p) for p in plots],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    write_results(args.out, results)
    print(f"\nwall time {results['wall_s']} s; plots and results.json in {args.out}")
    return results


if __name__ == "__main__":
    main()
