"""The logic of ``zoo eval``: a model's relative L2 error on test data at each grid resolution,
and with ``--calibration`` the coverage of conformal bands (:func:`evaluate_bands`).

Each data file is evaluated on its own grid and on grids subsampled by 1, 2, 4, ... while they
still hold the model's Fourier modes (zero-shot super- or sub-resolution). A time stepper is rolled
out over each whole test trajectory after its ``history`` frames and scored with the rollout
metric of :mod:`zoo.eval.rollout`, the one its model card's figures come from; any other model is
scored per input-output pair (:func:`zoo.eval.evaluate.pair_metrics`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from zoo.data.specs import build_datasets, data_defaults_for, load_sources
from zoo.eval.conformal import band_metrics, conformalize
from zoo.eval.evaluate import evaluate, pair_metrics
from zoo.eval.rollout import time_stepper_metrics
from zoo.models.adapt import check_data_fits, minimum_grid, spectral_layers
from zoo.models.time_stepper import is_time_stepper


def evaluate_resolutions(
    model: nn.Module,
    paths: Sequence[str],
    *,
    subsample: Sequence[int] | None = None,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
) -> list[dict[str, Any]]:
    """One row ``{data, grid, subsample, samples, metrics}`` per data path and subsampling factor.

    ``subsample``: the factors to evaluate (default :func:`subsampling_factors`). Metrics are
    sample means: ``relative_l2`` and, for a time stepper, ``rollout_relative_l2`` per step.
    """
    stepper = is_time_stepper(model)
    data_spec = data_defaults_for(model, {})
    metrics = time_stepper_metrics if stepper else pair_metrics
    layers = spectral_layers(model)
    rows = []
    for path in paths:
        (full,) = load_sources(path, where="--data")
        needed = minimum_grid(layers[0].modes) if layers else None
        for factor in subsample or subsampling_factors(full.spatial_shape, needed):
            fields = full.subsample(factor) if factor != 1 else full
            (dataset,) = build_datasets([fields], data_spec, windows_key="eval_windows")
            x, y = (t[None] for t in dataset[0])
            check_data_fits(model, x, None if stepper else y)
            (result,) = evaluate(model, metrics, dataset, batch_size=batch_size, device=device)
            rows.append({"data": str(path), "grid": list(fields.spatial_shape), "subsample": factor, "samples": result.samples, "metrics": result.metrics})
    return rows


def subsampling_factors(spatial: tuple[int, ...], needed: list[int] | None) -> list[int]:
    """1, 2, 4, ... while every axis of the subsampled grid still holds the model's modes."""
    factors, factor = [], 1
    while True:
        grid = [-(-n // factor) for n in spatial]
        if factor > 1 and (needed is None or any(g < k for g, k in zip(grid, needed))):
            return factors
        factors.append(factor)
        factor *= 2
        if min(grid) < 2:
            return factors


def conformal_data(model: nn.Module, path: Any, *, where: str, device: torch.device | str = "cpu") -> Any:
    """The data at ``path`` (read as ``zoo eval --data`` reads it) in :func:`zoo.eval.conformalize`'s layout.

    Returns trajectories ``(N, T, C, *spatial)`` for a time stepper, or ``(inputs (N, C_in, *spatial),
    targets (N, C_out, *spatial))`` pairs (the model's default pairs) for a one-step map.
    """
    (fields,) = load_sources(path, where=where)
    if is_time_stepper(model):
        return fields.trajectories.to(device)
    (dataset,) = build_datasets([fields], data_defaults_for(model, {}))
    inputs, targets = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(inputs).to(device), torch.stack(targets).to(device)


def evaluate_bands(
    model: nn.Module,
    test: Any,
    calibration: Any,
    *,
    level: float = 0.9,
    mode: str = "pointwise",
    delta: float = 0.1,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Conformal bands calibrated on the data at ``calibration`` and scored on ``test`` (paths).

    Returns :func:`zoo.eval.band_metrics` at ``level`` (its ``levels`` entry holds the one level).
    """
    device = next(model.parameters()).device
    calibration_data = conformal_data(model, calibration, where="--calibration", device=device)
    test_data = conformal_data(model, test, where="--data", device=device)
    with torch.no_grad():
        bands = conformalize(model, calibration_data, level, mode=mode, delta=delta, batch_size=batch_size)
        return band_metrics(bands, test_data, levels=(level,))
