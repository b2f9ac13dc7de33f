"""PNG plots people would rather look at than numbers: fields, spectra and error curves.

Figures are drawn on matplotlib's Agg canvas directly, so plotting needs no display and never
changes the global backend of a user's session; files are written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zoo.files import atomic_path

if TYPE_CHECKING:
    from zoo.eval.statistics import FlowStatistics


def save_figure(figure: Figure, path: str | os.PathLike) -> Path:
    """Render ``figure`` as PNG to ``path`` (parents created) through a temporary file."""
    path = Path(path)
    FigureCanvasAgg(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")
    return path


def plot_fields(fields: Mapping[str, torch.Tensor], path: str | os.PathLike, *, title: str = "") -> Path:
    """Side-by-side images of 2D fields ``(H, W)`` sharing one colour scale (e.g. truth, prediction, error)."""
    arrays = {name: f.detach().float().cpu().numpy() for name, f in fields.items()}
    limit = max(float(abs(a).max()) for a in arrays.values())
    figure = Figure(figsize=(3.2 * len(arrays), 3.0))
    axes = figure.subplots(1, len(arrays), squeeze=False)[0]
    for ax, (name, array) in zip(axes, arrays.items()):
        image = ax.imshow(array.T, origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.colorbar(image, ax=list(axes), shrink=0.8)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | os.PathLike,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logx: bool = False,
    logy: bool = False,
) -> Path:
    """Line plot of named ``(x, y)`` curves: error vs rollout step, energy spectra, loss curves."""
    figure = Figure(figsize=(5.5, 4.0))
    ax = figure.add_subplot()
    for name, (x, y) in curves.items():
        ax.plot(list(x), list(y), label=name)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save_figure(figure, path)


def plot_rollout_error(errors: Sequence[float], path: str | os.PathLike, *, title: str = "") -> Path:
    """Relative L2 error at each autoregressive rollout step (1-based)."""
    curve = {"relative L2": (range(1, len(errors) + 1), errors)}
    return plot_curves(curve, path, xlabel="rollout step", ylabel="relative L2 error", title=title)


def plot_loss_curves(records: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Training loss and every scalar evaluation metric of a run's log records against step, log scale."""
    curves = {}
    for split, exclude in (("train", ("lr", "grad_norm")), ("eval", ())):
        chosen = [r for r in records if r["split"] == split]
        for key in _scalar_keys(chosen, exclude=("step", "split", "time_s", "epoch", *exclude)):
            points = [(r["step"], r[key]) for r in chosen if key in r]
            curves[f"{split} {key}"] = tuple(zip(*points))
    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    for name, (steps, values) in curves.items():
        axes.plot(steps, values, marker="o" if name.startswith("eval") else None, label=name)
    axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("loss / error")
    axes.grid(True, which="both", alpha=0.3)
    if curves:
        axes.legend(fontsize=8)
    return save_figure(figure, path)


def _scalar_keys(records: Sequence[dict[str, Any]], *, exclude: tuple[str, ...]) -> list[str]:
    keys: list[str] = []
    for record in records:
        keys += [k for k, v in record.items() if k not in keys and k not in exclude and isinstance(v, (int, float))]
    return keys


def plot_flow_statistics(
    statistics: Mapping[str, FlowStatistics], directory: str | os.PathLike, *, prefix: str = ""
) -> dict[str, Path]:
    """The attractor statistics of several flows (e.g. solver and model), one PNG each, in ``directory``.

    Writes ``{prefix}spectrum.png`` (``E(k)``, log-log), ``{prefix}pdf.png`` (vorticity density in units
    of the first flow's standard deviation, log density), ``{prefix}energy.png`` (kinetic energy of
    each flow's first trajectory against time) and ``{prefix}autocorrelation.png``.
    """
    directory = Path(directory)
    scale = next(iter(statistics.values())).vorticity_std
    spectra = {name: (s.k[1:].tolist(), s.energy_spectrum[1:].tolist()) for name, s in statistics.items()}
    pdfs = {name: ((0.5 * (s.bins[1:] + s.bins[:-1]) / scale).tolist(), (s.pdf * scale).tolist()) for name, s in statistics.items()}
    energies = {name: (s.times.tolist(), s.energy[0].tolist()) for name, s in statistics.items()}
    correlations = {f"{name} (tau = {s.correlation_time:.3g})": (s.lags.tolist(), s.autocorrelation.tolist()) for name, s in statistics.items()}
    return {
        "spectrum": plot_curves(spectra, directory / f"{prefix}spectrum.png", xlabel="k", ylabel="E(k)", logx=True, logy=True),
        "pdf": plot_curves(pdfs, directory / f"{prefix}pdf.png", xlabel="w / std", ylabel="density", logy=True),
        "energy": plot_curves(energies, directory / f"{prefix}energy.png", xlabel="t", ylabel="kinetic energy"),
        "autocorrelation": plot_curves(correlations, directory / f"{prefix}autocorrelation.png", xlabel="lag", ylabel="C(lag)"),
    }
