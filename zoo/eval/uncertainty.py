"""Predictive uncertainty from an ensemble of operators: Gaussian intervals and their calibration.

An ensemble of ``M`` models (e.g. fine-tuned from one checkpoint on bootstrap resamples of the
data, Lakshminarayanan et al. 2017) predicts ``M`` fields per input. Their mean is the prediction
and their spread, read as a Gaussian standard deviation, gives a central interval
``mean +- z_p * std`` of nominal probability ``p`` at every grid point, with
``z_p = sqrt(2) erfinv(p)``. The interval is calibrated when the truth falls inside it a fraction
``p`` of the time on held-out data (:func:`interval_coverage`). Ensembles of networks are often
overconfident (spread below the error); one variance scale factor fitted by maximum likelihood on a
held-out calibration split (:func:`variance_scale`) is the simplest well-founded correction
(Kuleshov et al. 2018 recalibrate more flexibly).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from zoo.eval.rollout import rollout_predictions


def ensemble_rollouts(
    models: Sequence[nn.Module], trajectories: torch.Tensor, *, history: int, batch_size: int = 20
) -> torch.Tensor:
    """Every member's rollout of the frames after the first ``history`` ones.

    Args:
        models: ``M`` time steppers with ``rollout(u, steps)`` (:func:`~zoo.eval.rollout.rollout_predictions`).
        trajectories: ``(N, T, *spatial)`` true fields; frames ``0..history-1`` are the input.

    Returns:
        ``(M, N, T - history, *spatial)`` predictions.
    """
    if len(models) == 0:
        raise ValueError("an ensemble needs at least one model")
    return torch.stack([rollout_predictions(m, trajectories, history=history, batch_size=batch_size) for m in models])


def ensemble_statistics(predictions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over the members' axis 0: ``(M, *shape) -> (*shape), (*shape)``.

    The standard deviation is the sample one (divisor ``M - 1``), so ``M >= 2`` members are needed.
    """
    if predictions.ndim < 1 or predictions.shape[0] < 2:
        raise ValueError(f"need predictions (M, ...) from M >= 2 members, got shape {tuple(predictions.shape)}")
    return predictions.mean(0), predictions.std(0, correction=1)


def gaussian_quantile(levels: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """``z_p`` with ``P(|Z| <= z_p) = p`` for a standard normal ``Z``: ``(L,)`` float64 for ``L`` levels in (0, 1)."""
    levels = torch.as_tensor(levels, dtype=torch.float64).flatten()
    if levels.numel() == 0 or not bool(((levels > 0) & (levels < 1)).all()):
        raise ValueError(f"nominal levels must lie strictly between 0 and 1, got {levels.tolist()}")
    return math.sqrt(2.0) * torch.special.erfinv(levels)


def _standardised_error(mean: torch.Tensor, std: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    if not mean.shape == std.shape == truth.shape:
        raise ValueError(
            f"mean {tuple(mean.shape)}, std {tuple(std.shape)} and truth {tuple(truth.shape)} must have one shape"
        )
    if bool((std < 0).any()) or not bool(torch.isfinite(std).all()):
        raise ValueError("std must be finite and non-negative")
    return (truth.double() - mean.double()) / std.double()


def interval_coverage(
    mean: torch.Tensor,
    std: torch.Tensor,
    truth: torch.Tensor,
    levels: Sequence[float] | torch.Tensor,
    *,
    keep: int | None = None,
    scale: float = 1.0,
) -> torch.Tensor:
    """Fraction of points whose truth lies in the central Gaussian interval ``mean +- z_p * scale * std``.

    Args:
        mean, std, truth: one shape, e.g. ``(N, S, *spatial)`` (samples, rollout steps, grid).
        levels: ``L`` nominal probabilities ``p`` in (0, 1).
        keep: an axis not averaged over (e.g. ``1`` for coverage at each rollout step).
        scale: multiplies ``std`` (a calibrated :func:`variance_scale`).

    Returns:
        ``(L,)`` empirical coverages, or ``(L, mean.shape[keep])`` with ``keep``. A point with zero
        spread is covered only where the truth equals the mean.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    z = gaussian_quantile(levels)
    error = _standardised_error(mean, std, truth).abs() / scale
    error = torch.where(truth == mean, torch.zeros_like(error), error)  # 0/0 at zero spread: covered
    if keep is not None:
        if not -error.ndim <= keep < error.ndim:
            raise ValueError(f"keep={keep} is not an axis of fields with shape {tuple(error.shape)}")
        error = error.movedim(keep, 0).flatten(1).T  # (points, kept)
    else:
        error = error.flatten()
    inside = error.unsqueeze(0) <= z.view(-1, *([1] * error.ndim))
    return inside.double().mean(1)


def variance_scale(mean: torch.Tensor, std: torch.Tensor, truth: torch.Tensor) -> float:
    """Maximum-likelihood factor ``s`` for the Gaussian ``N(mean, (s * std)^2)`` of ``truth``.

    ``s^2 = mean((truth - mean)^2 / std^2)`` over all points: the mean squared standardised error.
    ``s > 1`` says the ensemble is overconfident. Fit it on a calibration split, never the test set.
    Every ``std`` must be positive. Shapes: ``mean``, ``std``, ``truth`` alike.
    """
    if not bool((std > 0).all()):
        raise ValueError("variance_scale needs a positive std at every point (a zero spread cannot be scaled)")
    return float(_standardised_error(mean, std, truth).square().mean().sqrt())


def std_error_correlation(
    std: torch.Tensor, mean: torch.Tensor, truth: torch.Tensor, *, dim: int | None = None
) -> float:
    """Pearson correlation between the predicted spread and the actual error ``|mean - truth|``.

    With ``dim=None`` over all points; with ``dim`` (e.g. ``0`` for samples) between per-slice
    root-mean-square spread and root-mean-square error, slices taken along ``dim``. Shapes alike.
    """
    _standardised_error(mean, std, truth)  # shape and sign checks
    error = (mean.double() - truth.double()).abs()
    spread = std.double()
    if dim is not None:
        spread = spread.movedim(dim, 0).flatten(1).square().mean(1).sqrt()
        error = error.movedim(dim, 0).flatten(1).square().mean(1).sqrt()
    pair = torch.stack([spread.flatten(), error.flatten()])
    if pair.shape[1] < 2:
        raise ValueError("a correlation needs at least two points")
    return float(torch.corrcoef(pair)[0, 1])


def gaussian_correlation_ceiling(std: torch.Tensor) -> float | None:
    """The largest Pearson correlation between ``std`` and the absolute error that widths shaped like ``std`` can reach.

    If every error were exactly Gaussian with standard deviation ``std`` (a perfect width model),
    ``|error| = std |z|`` with ``z ~ N(0, 1)`` independent of ``std``, and Pearson's correlation is
    ``sqrt(2/pi) sd(std) / sqrt(E[std^2] - (2/pi) E[std]^2)``: it depends only on how much ``std``
    varies (``0`` for constant widths) and stays below ``sqrt(2/pi) ~ 0.80`` however much it does,
    because the error of a point with a known scale still scatters by ``|z|``. A coefficient of
    variation of ``std`` of at least 1.1 is needed for 0.7. Read a measured width-error correlation
    against this ceiling. Returns ``None`` for fewer than two values.
    """
    values = std.double().flatten()
    if values.numel() < 2:
        return None
    mean_abs_normal = math.sqrt(2 / math.pi)
    spread = values.std(correction=0)
    scale = (values.square().mean() - mean_abs_normal**2 * values.mean().square()).sqrt()
    return float(mean_abs_normal * spread / scale) if float(scale) > 0 else None
