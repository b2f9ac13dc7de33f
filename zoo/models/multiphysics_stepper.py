"""A :class:`~zoo.models.multiphysics.MultiphysicsOperator` bound to one system's named fields: a time stepper.

Fine-tuning, evaluation and rollouts (:func:`zoo.models.time_stepper.unroll`) step models that map
``(B, history * C, H, W)`` to ``(B, C, H, W)``. The multi-physics operator reads ``(B, context, C,
H, W)`` plus the names of the ``C`` fields, so fine-tuning it on one system fixes those names:
:class:`MultiphysicsStepper` is the operator with its ``data_fields`` stored in its config (so a
fine-tuned checkpoint loads and steps without being told its fields). Its weights are the
operator's, under the same names, so pretrained weights load into it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from zoo.layers.validation import check_model_input, parameter_dtype
from zoo.models.multiphysics import MultiphysicsOperator
from zoo.models.registry import register_model
from zoo.models.time_stepper import TimeStepper, unroll


@register_model
class MultiphysicsStepper(MultiphysicsOperator, TimeStepper):
    """``(B, context * C, H, W)`` (frames oldest first, frame-major) -> ``(B, C, H, W)`` for the fields ``data_fields``.

    Args:
        data_fields: names of the ``C`` channels, in order; each must be in ``fields``.
        operator_args: the arguments of :class:`MultiphysicsOperator` (``fields`` and the sizes),
            by keyword.
    """

    def __init__(self, data_fields: Sequence[str], **operator_args: Any) -> None:
        super().__init__(**operator_args)
        self.data_fields = [str(name) for name in data_fields]
        self.field_ids(self.data_fields)  # unknown or repeated names: a clear error now, not at the first step

    @property
    def history(self) -> int:
        return self.context

    @property
    def channels(self) -> int:
        return len(self.data_fields)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (batch, context * channels, H, W) for the fields data_fields, under zoo's one input policy.
        check_model_input(x, channels=self.context * self.channels, ndim=2, dtype=parameter_dtype(self), name=f"{type(self).__name__} input")
        return super().forward(x.unflatten(1, (self.context, self.channels)), self.data_fields)

    def rollout(self, u: torch.Tensor, steps: int) -> torch.Tensor:
        """``(B, context * C, H, W)`` -> ``(B, steps * C, H, W)``, the next ``steps`` frames."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        return unroll(self, u, steps, channels=self.channels)


def as_stepper(model: MultiphysicsOperator, data_fields: Sequence[str]) -> MultiphysicsStepper:
    """``model`` (weights shared by copy) as a time stepper of the fields ``data_fields``, all in its vocabulary."""
    config = {key: value for key, value in model.config.items() if key != "data_fields"}
    reference = model.encoder_weight
    stepper = MultiphysicsStepper(list(data_fields), **config, device=reference.device, dtype=reference.dtype)
    stepper.load_state_dict(model.state_dict())
    return stepper.train(model.training)
