"""Model surgery for new data: does a batch fit a model, new channels and heads for new equations.

* :func:`check_data_fits` says exactly why a batch cannot go through a model (channels, number of
  spatial axes, a grid too coarse for the kept Fourier modes).
* :func:`with_channels` rebuilds a model for new input/output channels from its config and carries
  over every weight whose shape is unchanged: the Fourier blocks move over, the lifting and
  projection heads start fresh.
* :func:`carry_channel` warms such heads: the new model predicts the checkpoint's channel exactly
  as the checkpoint did; the other channels start from zero input and fresh output weights.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from zoo.layers.spectral_conv import SpectralConv
from zoo.models.registry import with_config


class DataMismatchError(ValueError):
    """The data cannot go through the model as it is; the message says what differs and what to do."""


def spectral_layers(model: nn.Module) -> list[SpectralConv]:
    return [m for m in model.modules() if isinstance(m, SpectralConv)]


def minimum_grid(modes: Sequence[int]) -> list[int]:
    """Fewest points per axis that hold every kept mode (``+-m`` on outer axes, ``0..m-1`` on the last)."""
    return [2 * m for m in modes[:-1]] + [max(2 * modes[-1] - 2, 1)]


def check_data_fits(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None) -> None:
    """Raise :class:`DataMismatchError` unless ``(B, C_in, *spatial)`` batches fit ``model``.

    Checks the input and target channels against ``model.in_channels``/``out_channels``, the
    number of spatial axes and the grid size against the model's spectral layers. A grid coarser
    than the modes would silently leave trained spectral weights unused, so it is an error.
    """
    name = type(model).__name__
    layers = spectral_layers(model)
    if layers:
        ndim = layers[0].ndim
        if inputs.ndim - 2 != ndim:
            raise DataMismatchError(
                f"{name} works on {ndim}D fields (batch, channels, {ndim} spatial axes), but the data are "
                f"{inputs.ndim - 2}D: input batch shape {tuple(inputs.shape)}"
            )
        modes = [max(layer.modes[axis] for layer in layers) for axis in range(ndim)]
        needed = minimum_grid(modes)
        spatial = list(inputs.shape[2:])
        if any(n < k for n, k in zip(spatial, needed)):
            raise DataMismatchError(
                f"the data grid {'x'.join(map(str, spatial))} is coarser than {name}'s Fourier modes {modes} "
                f"allow: it needs at least {'x'.join(map(str, needed))} points; use finer data or a model "
                "with fewer modes"
            )
    for role, tensor, attribute in (("input", inputs, "in_channels"), ("target", targets, "out_channels")):
        expected = getattr(model, attribute, None)
        if tensor is not None and expected is not None and tensor.shape[1] != expected:
            raise DataMismatchError(
                f"the {role} fields have {tensor.shape[1]} channels but {name} has {attribute}={expected}; "
                f"fine-tune with new heads (zoo finetune --new-heads, or zoo.models.adapt.with_channels)"
            )


def with_channels(model: nn.Module, *, in_channels: int | None = None, out_channels: int | None = None) -> nn.Module:
    """The same architecture with new input/output channels, trained weights carried over.

    The model is rebuilt from ``model.config`` with the channel arguments changed (inside
    ``backbone`` for wrapped models; per-channel statistics that no longer fit reset to the
    identity); every weight whose name and shape are unchanged is copied, the rest (the heads)
    keeps its fresh initialisation.
    """
    config = copy.deepcopy(getattr(model, "config", None))
    if config is None:
        raise TypeError(f"{type(model).__name__} has no config: only registered architectures can get new heads")
    _set_channels(type(model).__name__, config, in_channels, out_channels)
    return with_config(model, **config)


def _set_channels(name: str, config: dict[str, Any], in_channels: int | None, out_channels: int | None) -> None:
    if "backbone" in config:
        backbone = config["backbone"]
        if "history" in config:  # a time stepper: history * channels in, channels out
            if out_channels is not None:
                config["channels"] = out_channels
            channels = config["channels"]
            wanted = config["history"] * channels
            if in_channels is not None and in_channels != wanted:
                raise ValueError(f"{name} reads history x channels = {wanted} input channels, not {in_channels}")
            _set_channels(backbone["architecture"], backbone["config"], wanted, channels)
            for key in ("field_mean", "field_std"):
                if config.get(key) is not None and len(config[key]) != channels:
                    config[key] = None
            return
        _set_channels(backbone["architecture"], backbone["config"], in_channels, out_channels)
        for key, count in (("input", in_channels), ("output", out_channels)):
            for stat in (f"{key}_mean", f"{key}_std"):
                if count is not None and config.get(stat) is not None and len(config[stat]) != count:
                    config[stat] = None
        return
    if "in_channels" not in config or "out_channels" not in config:
        raise TypeError(f"{name}'s config has no in_channels/out_channels to change")
    if in_channels is not None:
        config["in_channels"] = in_channels
    if out_channels is not None:
        config["out_channels"] = out_channels



def carry_channel(source: nn.Module, target: nn.Module, channel: int) -> nn.Module:
    """``target`` rebuilt so that its channel ``channel`` is predicted exactly as ``source`` predicts.

    Args:
        source: a one-channel ``AutoregressiveOperator`` with an ``FNO`` backbone (e.g.
            ``fno-ns2d-nu1e-3``), reading ``history`` frames ``(B, history, *spatial)``.
        target: the same architecture with ``C`` channels per frame, reading ``(B, history * C,
            *spatial)`` (frame-major: frame ``f`` channel ``c`` is input ``f * C + c``), as
            :func:`with_channels` makes it. Its other weights (the Fourier
            blocks) are kept; its statistics for the other channels are kept.
        channel: which of the ``C`` channels is the source's field.

    Returns a new model; ``source`` and ``target`` are untouched.
    """
    for role, model in (("source", source), ("target", target)):
        if type(model).__name__ != "AutoregressiveOperator" or model.config["backbone"]["architecture"] != "FNO":
            raise TypeError(f"{role} must be an AutoregressiveOperator with an FNO backbone, got {type(model).__name__}")
    if source.channels != 1:
        raise ValueError(f"source must predict one channel, it predicts {source.channels}")
    if source.history != target.history:
        raise ValueError(f"source reads {source.history} frames but target reads {target.history}")
    channels = target.channels
    if not 0 <= channel < channels:
        raise ValueError(f"channel must be in [0, {channels}), got {channel}")
    stats = {}
    for key in ("field_mean", "field_std"):
        values = getattr(target, key).tolist()
        values[channel] = float(getattr(source, key)[0])
        stats[key] = values
    new = with_config(target, **stats)
    old_backbone, new_backbone = source.backbone, new.backbone
    inputs = [frame * channels + channel for frame in range(source.history)]
    with torch.no_grad():
        lifting = new_backbone.lifting.weight
        fields = source.history * channels  # the grid coordinates, if any, come after the fields
        lifting[:, :fields] = 0.0
        lifting[:, inputs] = old_backbone.lifting.weight[:, : source.history]
        lifting[:, fields:] = old_backbone.lifting.weight[:, source.history :]
        new_backbone.projection.fc2.weight[channel] = old_backbone.projection.fc2.weight[0]
        if old_backbone.lifting.bias is not None:
            new_backbone.lifting.bias.copy_(old_backbone.lifting.bias)
        if old_backbone.projection.fc2.bias is not None:
            new_backbone.projection.fc2.bias[channel] = old_backbone.projection.fc2.bias[0]
    return new
