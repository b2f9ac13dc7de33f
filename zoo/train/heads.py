"""Warm new heads: start a time stepper with more channels as the checkpoint it came from.

:func:`zoo.train.finetune.with_channels` gives a checkpoint fresh lifting and projection heads, so
the fine-tuned model starts from a random function even on the channel the checkpoint already
predicts. :func:`carry_channel` copies the checkpoint's heads into that channel's slots instead:
the new model then predicts that channel exactly as the checkpoint did (whatever the other
channels hold), and the other channels start from zero input weights and fresh output weights.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.train.normalisation import with_config


def carry_channel(source: nn.Module, target: nn.Module, channel: int) -> nn.Module:
    """``target`` rebuilt so that its channel ``channel`` is predicted exactly as ``source`` predicts.

    Args:
        source: a one-channel ``AutoregressiveOperator`` with an ``FNO`` backbone (e.g.
            ``fno-ns2d-nu1e-3``), reading ``history`` frames ``(B, history, *spatial)``.
        target: the same architecture with ``C`` channels per frame, reading ``(B, history * C,
            *spatial)`` (frame-major: frame ``f`` channel ``c`` is input ``f * C + c``), as
            :func:`zoo.train.finetune.with_channels` makes it. Its other weights (the Fourier
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
