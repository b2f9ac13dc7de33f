"""Evaluate a model on one or several data sets (one per grid resolution): sample-weighted means of
per-sample metrics ``metrics(model, batch) -> {name: (B,) or (B, K)}`` (:func:`pair_metrics`,
:func:`zoo.eval.rollout.time_stepper_metrics`, or a training objective's ``evaluate``, which call them)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset, default_collate

from zoo.devices import move_to
from zoo.losses import relative_l2

MetricsFn = Callable[[nn.Module, Any], dict[str, torch.Tensor]]


@dataclass
class GroupMetrics:
    """Metrics over one group of samples (one resolution): ``label`` is its grid, e.g. ``"64x64"``."""

    label: str
    samples: int
    metrics: dict[str, float | list[float]]


def pair_metrics(model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
    """``relative_l2`` ``(B,)`` of ``model(inputs)`` against ``targets`` for an ``(inputs, targets)`` batch."""
    inputs, targets = batch[0], batch[1]
    return {"relative_l2": relative_l2(model(inputs), targets, reduction="none")}


def as_datasets(data: Any) -> list[Dataset] | None:
    """``[data]`` for a map-style dataset, the list for a sequence of them, ``None`` otherwise."""
    if isinstance(data, Dataset):
        return [data]
    if isinstance(data, Sequence) and data and all(isinstance(d, Dataset) for d in data):
        return list(data)
    return None


def _grid_label(batch: Any) -> str:
    """``"HxW"`` of a batch's first tensor ``(B, C, *spatial)``."""
    first = batch
    while not isinstance(first, torch.Tensor):
        first = first[0]
    return "x".join(str(n) for n in first.shape[2:])


@torch.no_grad()
def evaluate(
    model: nn.Module,
    metrics: MetricsFn,
    data: Any,
    *,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    autocast: contextlib.AbstractContextManager | None = None,
) -> list[GroupMetrics]:
    """Average the per-sample ``metrics(model, batch)`` over every sample of ``data``, per resolution group.

    ``data`` is a dataset, a list of datasets (one group each) or an iterable of batches (one
    group). Per-sample metrics ``(B,)`` average to numbers, ``(B, K)`` ones (error per rollout
    step) to lists of ``K`` numbers.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    datasets = as_datasets(data)
    if datasets is not None:
        concatenated = ConcatDataset(datasets)
        batches: Iterable[tuple[int, Any]] = (
            (group, default_collate([concatenated[i] for i in indices]))
            for group, indices in evaluation_batches([len(d) for d in datasets], batch_size)
        )
    else:
        batches = ((0, batch) for batch in data)
    sums: dict[int, dict[str, torch.Tensor]] = {}
    counts: dict[int, dict[str, int]] = {}
    labels: dict[int, str] = {}
    for group, batch in batches:
        batch = move_to(batch, device)
        labels.setdefault(group, _grid_label(batch))
        with autocast or contextlib.nullcontext():
            values = metrics(model, batch)
        group_sums, group_counts = sums.setdefault(group, {}), counts.setdefault(group, {})
        for key, value in values.items():
            value = value.detach().double()
            group_sums[key] = group_sums.get(key, 0) + value.sum(0)
            group_counts[key] = group_counts.get(key, 0) + value.shape[0]
    model.train(was_training)
    results = []
    for group in sorted(sums):
        means = {key: (total / counts[group][key]).tolist() for key, total in sums[group].items()}
        samples = max(counts[group].values(), default=0)
        results.append(GroupMetrics(labels[group], samples, means))
    return results


def evaluation_batches(group_sizes: Sequence[int], batch_size: int) -> Iterator[tuple[int, list[int]]]:
    """``(group, indices)`` covering every sample once, in order, never mixing groups in a batch."""
    if batch_size < 1:
        raise ValueError(f"the batch size must be at least 1, got {batch_size}")
    offset = 0
    for group, size in enumerate(group_sizes):
        for start in range(0, size, batch_size):
            yield group, list(range(offset + start, offset + min(start + batch_size, size)))
        offset += size


def flatten_metrics(results: Sequence[GroupMetrics]) -> dict[str, float | list[float]]:
    """One dict: plain keys for a single group, ``key@label`` keys for several."""
    if len(results) == 1:
        return dict(results[0].metrics)
    return {f"{key}@{r.label}": value for r in results for key, value in r.metrics.items()}
