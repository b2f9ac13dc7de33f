"""The catalogue of pretrained checkpoints: what each one does, at what grid, how well."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

from zoo.hub.cards import stored_parameters
from zoo.hub.schema import grid_label, headline_metrics, read_config, read_evaluation
from zoo.hub.sources import pretrained_directories


@dataclass(frozen=True)
class PretrainedCheckpoint:
    """One checkpoint as ``zoo list`` shows it; ``metrics`` are at the training grid."""

    name: str
    architecture: str
    task: str
    resolution: tuple[int, ...] | None
    parameters: int
    metrics: dict[str, float] = field(default_factory=dict)
    path: Path | None = None


@overload
def list_pretrained(details: Literal[False] = False) -> list[str]: ...


@overload
def list_pretrained(details: Literal[True]) -> list[PretrainedCheckpoint]: ...


def list_pretrained(details: bool = False) -> list[str] | list[PretrainedCheckpoint]:
    """The names of every checkpoint found under :func:`zoo.hub.pretrained_roots`, sorted.

    Each name loads with :func:`zoo.from_pretrained`, as ``timm.list_pretrained()`` names load with
    ``timm.create_model``. ``details=True`` returns a :class:`PretrainedCheckpoint` record per name
    instead (architecture, task, grid, parameter count, headline metrics, directory); it reads only
    JSON files and the weights' headers, so listing is fast whatever the sizes.
    """
    directories = pretrained_directories()
    if not details:
        return sorted(directories)
    checkpoints = []
    for name, directory in sorted(directories.items()):
        config = read_config(directory)
        metadata = config.get("metadata", {})
        checkpoints.append(
            PretrainedCheckpoint(
                name=name,
                architecture=config["architecture"],
                task=metadata.get("task", ""),
                resolution=tuple(metadata["resolution"]) if "resolution" in metadata else None,
                parameters=stored_parameters(directory),
                metrics=headline_metrics(read_evaluation(directory)),
                path=directory,
            )
        )
    return checkpoints


def format_table(checkpoints: list[PretrainedCheckpoint]) -> str:
    """A plain-text table of checkpoints, one per line, columns aligned."""
    header = ("NAME", "ARCHITECTURE", "TASK", "GRID", "PARAMS", "METRICS")
    rows = [
        (
            c.name,
            c.architecture,
            c.task or "-",
            grid_label(list(c.resolution)) if c.resolution else "-",
            f"{c.parameters:,}",
            ", ".join(f"{metric}={value:.4g}" for metric, value in c.metrics.items()) or "not evaluated",
        )
        for c in checkpoints
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows])
