"""Confidence intervals of a test-set mean, by the bootstrap over test samples (trajectories).

A card's error is the mean of per-trajectory errors over a finite test set; the interval says how
much that mean would move with another draw of test trajectories from the same generator. The
percentile bootstrap (Efron & Tibshirani 1993, ch. 13) needs no assumption on the errors' law,
which matters here: rollout errors are positive and right-skewed, so a normal-theory interval
would be symmetric where the truth is not.
"""

from __future__ import annotations

import torch

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0


def bootstrap_interval(
    values: torch.Tensor,
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` of the mean of ``values`` ``(N,)``.

    Draws ``resamples`` sets of ``N`` values with replacement (a fixed ``seed``, so the interval is
    reproducible), takes each set's mean, and returns the ``(1 - level) / 2`` and ``(1 + level) / 2``
    quantiles of those means. Computed in float64.
    """
    if values.ndim != 1 or values.numel() < 2:
        raise ValueError(f"values must be a 1D tensor of at least 2 per-sample figures, got shape {tuple(values.shape)}")
    if not bool(torch.isfinite(values).all()):
        raise ValueError("values contain NaN or infinity; evaluate the failing samples before bootstrapping")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95, got {level}")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100 (the interval's ends are quantiles of them), got {resamples}")
    values = values.detach().to(device="cpu", dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(values.numel(), (resamples, values.numel()), generator=generator)
    means = values[picks].mean(dim=1)
    low, high = torch.quantile(means, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return float(low), float(high)
