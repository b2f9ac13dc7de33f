"""Operators in physical units: a backbone plus the normalisation it was trained with.

Users pass and receive physical fields; the per-channel statistics are constructor arguments, so
they are part of the model's JSON config and travel with every checkpoint. Per-channel (not
per-grid-point) statistics keep the model usable at any resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from zoo.layers.precision import in_float32
from zoo.layers.validation import check_model_input, parameter_dtype
from zoo.models.registry import create_model, register_model
from zoo.models.time_stepper import TimeStepper


def _stats(values: Sequence[float] | None, channels: int, default: float, name: str) -> torch.Tensor:
    values = [default] * channels if values is None else list(values)
    if len(values) != channels:
        raise ValueError(f"{name} needs {channels} values (one per channel), got {len(values)}")
    return torch.tensor(values, dtype=torch.float32)


def _build_backbone(backbone: dict[str, Any]) -> nn.Module:
    if set(backbone) != {"architecture", "config"}:
        raise ValueError(f"backbone must be {{'architecture': name, 'config': {{...}}}}, got keys {sorted(backbone)}")
    return create_model(backbone["architecture"], **backbone["config"])


def _broadcast(stat: torch.Tensor, ndim: int) -> torch.Tensor:
    return stat.view(1, -1, *([1] * ndim))


@register_model
class FieldOperator(nn.Module):
    """``u -> backbone((u - mean_in) / std_in) * std_out + mean_out``: a steady operator in physical units.

    Args:
        backbone: ``{"architecture": registered name, "config": its constructor arguments}``.
        input_mean, input_std: per-channel statistics of the input fields (defaults 0 and 1).
        output_mean, output_std: per-channel statistics of the output fields.

    Shapes: ``(B, C_in, *spatial) -> (B, C_out, *spatial)``, as the backbone.
    """

    def __init__(
        self,
        backbone: dict[str, Any],
        input_mean: Sequence[float] | None = None,
        input_std: Sequence[float] | None = None,
        output_mean: Sequence[float] | None = None,
        output_std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = _build_backbone(backbone)
        c_in, c_out = self.backbone.in_channels, self.backbone.out_channels
        self.register_buffer("input_mean", _stats(input_mean, c_in, 0.0, "input_mean"), persistent=False)
        self.register_buffer("input_std", _stats(input_std, c_in, 1.0, "input_std"), persistent=False)
        self.register_buffer("output_mean", _stats(output_mean, c_out, 0.0, "output_mean"), persistent=False)
        self.register_buffer("output_std", _stats(output_std, c_out, 1.0, "output_std"), persistent=False)

    @property
    def in_channels(self) -> int:
        return self.backbone.in_channels

    @property
    def out_channels(self) -> int:
        return self.backbone.out_channels

    @property
    def ndim(self) -> int:
        return self.backbone.ndim

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        check_model_input(u, channels=self.in_channels, ndim=self.ndim, dtype=parameter_dtype(self), name="FieldOperator input")
        ndim = u.ndim - 2
        z = (u - _broadcast(self.input_mean, ndim)) / _broadcast(self.input_std, ndim)
        return self.backbone(z) * _broadcast(self.output_std, ndim) + _broadcast(self.output_mean, ndim)


@register_model
class AutoregressiveOperator(TimeStepper, nn.Module):
    """Time stepper ``(u_{t-h+1}, ..., u_t) -> u_{t+1}`` in physical units, with :meth:`rollout`.

    Args:
        backbone: ``{"architecture": ..., "config": ...}`` mapping ``history * channels`` normalised
            input channels to ``channels`` output channels.
        history: number of past time steps the model reads.
        channels: physical channels per time step (1 for scalar vorticity).
        field_mean, field_std: per-channel statistics of the field.
        residual: predict the increment ``u_{t+1} - u_t`` (in units of ``field_std``) rather than
            ``u_{t+1}`` itself.

    Shapes: time steps are flattened into channels, oldest first: ``forward`` maps
    ``(B, history * channels, *spatial)`` to ``(B, channels, *spatial)``; ``rollout`` is
    :meth:`zoo.models.time_stepper.TimeStepper.rollout`. Under autocast the state, its
    normalisation and the update are float32 and so is the output (:mod:`zoo.layers.precision`).
    """

    def __init__(
        self,
        backbone: dict[str, Any],
        history: int = 10,
        channels: int = 1,
        field_mean: Sequence[float] | None = None,
        field_std: Sequence[float] | None = None,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.backbone = _build_backbone(backbone)
        if self.backbone.in_channels != history * channels or self.backbone.out_channels != channels:
            raise ValueError(
                f"backbone maps {self.backbone.in_channels} -> {self.backbone.out_channels} channels, "
                f"but history={history} x channels={channels} needs {history * channels} -> {channels}"
            )
        self.history = history
        self.channels = channels
        self.residual = residual
        self.register_buffer("field_mean", _stats(field_mean, channels, 0.0, "field_mean"), persistent=False)
        self.register_buffer("field_std", _stats(field_std, channels, 1.0, "field_std"), persistent=False)

    @property
    def ndim(self) -> int:
        return self.backbone.ndim

    def _normalise(self, u: torch.Tensor, repeats: int) -> torch.Tensor:
        ndim = u.ndim - 2
        mean = _broadcast(self.field_mean.repeat(repeats), ndim)
        std = _broadcast(self.field_std.repeat(repeats), ndim)
        return (u - mean) / std

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        check_model_input(u, channels=self.in_channels, ndim=self.ndim, dtype=parameter_dtype(self), name="AutoregressiveOperator input")
        # The state, its normalisation and the update stay float32 under autocast, only the
        # backbone runs in the autocast dtype (zoo.layers.precision): a rollout carries the state
        # 40 steps, and rounding it to bf16 each step alone gave 2.4x float32's NS error.
        out = self.backbone(in_float32(self._normalise, u, self.history))
        return in_float32(self._update, u, out)

    def _update(self, u: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The next frame ``(B, C, *spatial)`` from the window ``u`` and the backbone's output ``out``."""
        ndim = u.ndim - 2
        if self.residual:
            return u[:, -self.channels :] + out * _broadcast(self.field_std, ndim)
        return out * _broadcast(self.field_std, ndim) + _broadcast(self.field_mean, ndim)
