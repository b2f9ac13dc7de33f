"""The one rollout loop: a time stepper ``(B, history * C, *spatial) -> (B, C, *spatial)`` run forward.

A time stepper has ``history`` (past frames read) and ``channels`` (per frame). ``rollout`` of
:class:`TimeStepper` models, the training objectives and the evaluation all step through :func:`unroll`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class TimeStepper:
    """Mixin of a model mapping ``history`` frames of ``channels`` channels each, flattened oldest
    first into ``(B, history * channels, *spatial)``, to the next frame ``(B, channels, *spatial)``."""

    @property
    def in_channels(self) -> int:
        return self.history * self.channels

    @property
    def out_channels(self) -> int:
        return self.channels

    def rollout(self, u: torch.Tensor, steps: int) -> torch.Tensor:
        """Predict ``steps`` future frames from ``history`` known ones: ``(B, history * C, *spatial)``
        (e.g. vorticity at t = 1..10 for NS) to ``(B, steps * C, *spatial)``, the prediction at
        t = history + 1, ..., history + steps."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        return unroll(self, u, steps, channels=self.channels)


def is_time_stepper(model: Any) -> bool:
    """Whether ``model`` reads ``history`` frames of ``channels`` channels and predicts the next one."""
    return hasattr(model, "history") and hasattr(model, "channels")


def unroll(
    model: nn.Module,
    initial: torch.Tensor,
    steps: int,
    *,
    channels: int = 1,
    truth: torch.Tensor | None = None,
) -> torch.Tensor:
    """Roll a time stepper ``(B, history * C, *spatial) -> (B, C, *spatial)`` forward ``steps`` times.

    Without ``truth`` each prediction is fed back (free rollout, gradients flow through every
    step). With ``truth`` ``(B, steps * C, *spatial)`` every step starts from true frames (teacher
    forcing), so all steps run as one batch. Returns ``(B, steps * C, *spatial)``.
    """
    width = initial.shape[1]
    if truth is not None:
        frames = torch.cat([initial, truth[:, : (steps - 1) * channels]], dim=1)
        windows = torch.cat([frames[:, s * channels : s * channels + width] for s in range(steps)])
        predictions = model(windows).split(initial.shape[0])
        return torch.cat(predictions, dim=1)
    predictions, window = [], initial
    for _ in range(steps):
        step = model(window)
        predictions.append(step)
        window = torch.cat([window[:, channels:], step], dim=1)
    return torch.cat(predictions, dim=1)
