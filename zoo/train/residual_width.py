"""Training UQNO's residual operator: a copy of an operator, from its weights, taught the size of its error.

Ma, Pitt, Azizzadenesheli & Anandkumar (2024) calibrate operator predictions with a second operator
that predicts the pointwise size of the first one's error; a conformal step
(:func:`zoo.eval.conformal.conformalize` with ``width_model=``) then scales it into a band with a
guarantee. Here that second operator has the first one's architecture and starts from its weights
(the features that predict the field also locate where it is hard to predict) and is trained on
the first operator's errors on data that neither trained it nor will calibrate the band.

The loss is the negative log-likelihood of a Laplace law of scale ``w``, in ``s = log w``:
``|r| exp(-s) + s``, minimised by ``w = E[|r| | input]``. It is a proper scoring rule for the
scale, needs no floor for ``|r| = 0`` (unlike a squared error of ``log |r|``), and is invariant to
the error's magnitude (multiplying ``r`` by ``c`` shifts the optimal ``s`` by ``log c`` and the loss
by a constant): late rollout steps with large errors do not drown early ones, and the band's
conformal factor absorbs any overall scale. A pinball loss would tie the width model to one level;
this one serves every level.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

from zoo.eval.conformal import predict
from zoo.models.residual_width import ResidualWidth
from zoo.models.time_stepper import is_time_stepper
from zoo.train.config import TrainConfig
from zoo.train.trainer import Trainer


class LaplaceScaleLoss:
    """Objective for a :class:`ResidualWidth` on batches ``(inputs, |error|)``: mean ``|error| exp(-s) + s``."""

    def __call__(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        inputs, error = batch
        log_width = model.log_width(inputs)
        return {"loss": (error * torch.exp(-log_width) + log_width).mean()}


def _input_statistics(model: nn.Module) -> tuple[list[float], list[float]]:
    if is_time_stepper(model):  # a window's channels are ``history`` copies of the field's, oldest first
        return model.field_mean.repeat(model.history).tolist(), model.field_std.repeat(model.history).tolist()
    return model.input_mean.tolist(), model.input_std.tolist()


def fit_width_model(
    model: nn.Module, train_data: Any, config: TrainConfig, *, subsample: int = 1,
    backbone: dict[str, Any] | None = None,
) -> tuple[ResidualWidth, list[dict[str, Any]]]:
    """A :class:`ResidualWidth` trained to predict ``model``'s ``|error|``: ``model``'s backbone from its
    weights (UQNO's choice), or another backbone from scratch.

    Args:
        model: a ``FieldOperator`` or ``AutoregressiveOperator`` (a backbone with its normalisation).
        train_data: data in :func:`~zoo.eval.conformal.conformalize`'s calibration layout, seen
            neither by ``model``'s training (its errors there are too small) nor by the calibration.
            A time stepper is rolled out freely; each step's window becomes one training input.
        config: the trainer's settings.
        subsample: train on every ``subsample``-th grid point (the operator is resolution-invariant;
            the errors are those of the full-resolution rollout).
        backbone: ``{"architecture": ..., "config": ...}`` mapping the model's inputs to one channel per
            output channel, trained from scratch (e.g. a ``UNet2d``, whose local convolutions see
            the sharp fronts where a rollout's error sits); ``None``: the model's own, from its weights.

    Returns:
        The width model (in eval mode) and the trainer's logged records.
    """
    if not (hasattr(model, "backbone") and hasattr(model, "config") and "backbone" in model.config):
        raise ValueError(f"fit_width_model needs a FieldOperator or AutoregressiveOperator, got {type(model).__name__}")
    if subsample < 1:
        raise ValueError(f"subsample must be >= 1, got {subsample}")
    model = model.eval()
    run = predict(model, train_data, name="train_data")
    grid = (slice(None), slice(None), *[slice(None, None, subsample)] * (run.mean.ndim - 3))
    inputs = run.inputs.flatten(0, 1)[grid]
    error = (run.truth - run.mean).abs().flatten(0, 1)[grid]
    channels = [d for d in range(error.ndim) if d != 1]
    # log|error| statistics normalise the output, as data statistics do for a field operator; the
    # floor only keeps exact zeros out of the log.
    floor = 1e-6 * error.square().mean(channels, keepdim=True).sqrt().clamp_min(1e-30)
    log_error = torch.maximum(error, floor).log()
    input_mean, input_std = _input_statistics(model)
    width = ResidualWidth(
        backbone=model.config["backbone"] if backbone is None else backbone, input_mean=input_mean, input_std=input_std,
        output_mean=log_error.mean(channels).tolist(), output_std=log_error.std(channels).tolist(),
    )
    if backbone is None:
        width.backbone.load_state_dict(model.backbone.state_dict())
    history = Trainer(width, TensorDataset(inputs, error), config, objective=LaplaceScaleLoss()).fit()
    return width.eval(), history
