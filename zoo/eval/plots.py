"""PNG plots people would rather look at than numbers: fields, spectra and error curves."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import torch  # noqa: E402


def _save(fig: plt.Figure, path: str | os.PathLike) -> Path:
    """Write the figure atomically (temp file then rename) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".png", delete=False) as tmp:
        fig.savefig(tmp.name, dpi=120, bbox_inches="tight")
    os.replace(tmp.name, path)
    plt.close(fig)
    return path


def plot_fields(fields: Mapping[str, torch.Tensor], path: str | os.PathLike, *, title: str = "") -> Path:
    """Side-by-side images of 2D fields ``(H, W)`` sharing one colour scale (e.g. truth, prediction, error)."""
    arrays = {name: f.detach().float().cpu().numpy() for name, f in fields.items()}
    limit = max(float(abs(a).max()) for a in arrays.values())
    fig, axes = plt.subplots(1, len(arrays), figsize=(3.2 * len(arrays), 3.0), squeeze=False)
    for ax, (name, array) in zip(axes[0], arrays.items()):
        image = ax.imshow(array.T, origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


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
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
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
    return _save(fig, path)
