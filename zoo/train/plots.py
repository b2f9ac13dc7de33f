"""PNG plots of a run's metrics: loss curves and error against rollout step.

Figures are drawn on matplotlib's Agg canvas directly, so plotting never needs a display and never
changes the global backend of a user's session.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from zoo.eval.plots import save_figure


def plot_loss_curves(records: Sequence[dict[str, Any]], path: Path) -> None:
    """Training loss and every scalar evaluation metric against step, log scale."""
    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    train = [r for r in records if r["split"] == "train"]
    for key in _scalar_keys(train, exclude=("step", "split", "lr", "grad_norm", "time_s", "epoch")):
        points = [(r["step"], r[key]) for r in train if key in r]
        axes.plot(*zip(*points), label=f"train {key}")
    evals = [r for r in records if r["split"] == "eval"]
    for key in _scalar_keys(evals, exclude=("step", "split", "time_s", "epoch")):
        points = [(r["step"], r[key]) for r in evals if key in r]
        axes.plot(*zip(*points), marker="o", label=f"eval {key}")
    axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("loss / error")
    axes.grid(True, which="both", alpha=0.3)
    if axes.lines:
        axes.legend(fontsize=8)
    save_figure(figure, path)


def plot_rollout_error(errors: Sequence[float], path: Path, *, title: str = "") -> None:
    """Relative L2 error at each autoregressive rollout step (1-based)."""
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    axes.plot(range(1, len(errors) + 1), errors, marker=".")
    axes.set_xlabel("rollout step")
    axes.set_ylabel("relative L2 error")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    save_figure(figure, path)


def _scalar_keys(records: Sequence[dict[str, Any]], *, exclude: tuple[str, ...]) -> list[str]:
    keys: list[str] = []
    for record in records:
        keys += [k for k, v in record.items() if k not in keys and k not in exclude and isinstance(v, (int, float))]
    return keys
