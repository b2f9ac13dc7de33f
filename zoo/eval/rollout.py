"""Autoregressive rollout evaluation: the FNO paper's protocol for time-dependent fields.

:func:`rollout_metrics` is the one rollout metric: the trainer's evaluation (through the
``Autoregressive`` objective), ``zoo eval`` (:func:`time_stepper_metrics`) and the figures on the
model cards (:func:`rollout_errors`, its sample mean) all compute it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo.losses import relative_l2
from zoo.models.time_stepper import unroll


def rollout_metrics(predicted: torch.Tensor, truth: torch.Tensor, *, channels: int = 1) -> dict[str, torch.Tensor]:
    """Per-sample relative L2 errors of rollouts ``(B, S * C, *spatial)`` against the truth.

    Returns:
        ``relative_l2``: ``(B,)`` error of each sample's whole rollout (all steps as one field);
        ``rollout_relative_l2``: ``(B, S)`` error of each predicted frame of ``C`` channels.
    """
    if predicted.shape != truth.shape:
        raise ValueError(f"predictions {tuple(predicted.shape)} and truth {tuple(truth.shape)} differ in shape")
    steps = predicted.shape[1] // channels
    frames = lambda u: u.unflatten(1, (steps, channels)).flatten(0, 1)  # noqa: E731
    per_step = relative_l2(frames(predicted), frames(truth), reduction="none").view(-1, steps)
    return {"relative_l2": relative_l2(predicted, truth, reduction="none"), "rollout_relative_l2": per_step}


def time_stepper_metrics(model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
    """:func:`rollout_metrics` of ``model``'s free rollout from a ``(past, future)`` batch of ``TimeWindows``:
    ``(B, history * C, *spatial)`` and ``(B, S * C, *spatial)`` with ``C = model.channels``."""
    past, future = batch[0], batch[1]
    channels = model.channels
    predicted = unroll(model, past, future.shape[1] // channels, channels=channels)
    return rollout_metrics(predicted, future, channels=channels)


@torch.no_grad()
def rollout_predictions(model: nn.Module, trajectories: torch.Tensor, *, history: int, batch_size: int = 20) -> torch.Tensor:
    """Predict every frame after the first ``history`` ones.

    Args:
        model: has ``rollout(u, steps)`` mapping ``(B, history, *spatial)`` to ``(B, steps, *spatial)``.
        trajectories: ``(N, T, *spatial)`` true fields; frames ``0..history-1`` are the input.

    Returns:
        ``(N, T - history, *spatial)`` predictions of frames ``history..T-1``.
    """
    steps = trajectories.shape[1] - history
    if steps < 1:
        raise ValueError(f"trajectories have {trajectories.shape[1]} frames; need more than history={history}")
    parts = [model.rollout(chunk[:, :history], steps) for chunk in trajectories.split(batch_size)]
    return torch.cat(parts)


def rollout_errors(predictions: torch.Tensor, truth: torch.Tensor) -> dict[str, torch.Tensor]:
    """Relative L2 errors of predicted trajectories ``(N, S, *spatial)`` against the truth.

    Returns:
        ``trajectory``: relative L2 of each sample's whole predicted trajectory, averaged over
        samples (the FNO paper's headline metric); ``per_step``: ``(S,)`` relative L2 of each
        predicted frame, averaged over samples.
    """
    errors = rollout_metrics(predictions, truth)
    return {"trajectory": errors["relative_l2"].mean(), "per_step": errors["rollout_relative_l2"].mean(0)}
