"""Autoregressive rollout evaluation: the FNO paper's protocol for time-dependent fields."""

from __future__ import annotations

import torch
from torch import nn

from zoo.train.losses import relative_l2


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
    if predictions.shape != truth.shape:
        raise ValueError(f"predictions {tuple(predictions.shape)} and truth {tuple(truth.shape)} differ in shape")
    per_step = relative_l2(predictions.flatten(0, 1), truth.flatten(0, 1), reduction="none")
    return {
        "trajectory": relative_l2(predictions.flatten(1), truth.flatten(1)),
        "per_step": per_step.view(predictions.shape[:2]).mean(0),
    }
