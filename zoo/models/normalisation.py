"""Per-channel statistics of the training data, written into a physical-units model's config.

``FieldOperator`` and ``AutoregressiveOperator`` (``zoo.models.field_operators``) take their
normalisation as constructor arguments, so statistics measured here travel with every checkpoint
and users always pass physical fields. Statistics are per channel over samples and grid points,
accumulated in float64 in one pass over the data set.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from zoo.models.registry import with_config


def channel_statistics(dataset: Dataset, *, part: int) -> tuple[list[float], list[float]]:
    """Mean and std of each channel of item part ``part`` (0: inputs, 1: targets) of ``(x, y)`` items.

    A channel with zero spread gets std 1.
    """
    count, total, squares = 0, None, None
    for index in range(len(dataset)):
        field = dataset[index][part].double()
        values = field.reshape(field.shape[0], -1)
        total = values.sum(1) if total is None else total + values.sum(1)
        squares = values.square().sum(1) if squares is None else squares + values.square().sum(1)
        count += values.shape[1]
    if count < 2:
        raise ValueError("need at least two values per channel to estimate a standard deviation")
    mean = total / count
    std = ((squares - count * mean.square()) / (count - 1)).clamp_min(0).sqrt()
    # A constant channel (a uniform forcing, say) is left unscaled rather than divided by zero.
    std = torch.where(std > 0, std, torch.ones_like(std))
    return mean.tolist(), std.tolist()


def normalised_to(model: nn.Module, dataset: Dataset) -> nn.Module:
    """``model`` rebuilt with the channel statistics of ``dataset``'s ``(inputs, targets)``.

    ``AutoregressiveOperator``: ``field_mean``/``field_std`` from the targets (the next frames);
    ``FieldOperator``: ``input_*`` from the inputs and ``output_*`` from the targets.
    """
    name = type(model).__name__
    if name == "AutoregressiveOperator":
        mean, std = channel_statistics(dataset, part=1)
        return with_config(model, field_mean=mean, field_std=std)
    if name == "FieldOperator":
        input_mean, input_std = channel_statistics(dataset, part=0)
        output_mean, output_std = channel_statistics(dataset, part=1)
        return with_config(model, input_mean=input_mean, input_std=input_std, output_mean=output_mean, output_std=output_std)
    raise ValueError(
        f"{name} holds no normalisation; wrap it as FieldOperator or AutoregressiveOperator "
        "(zoo.models.field_operators) to train on normalised data in physical units"
    )
