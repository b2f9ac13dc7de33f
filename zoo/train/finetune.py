"""Fine-tuning a trained operator on new data: new heads, gentler spectral updates, PINO at test time.

* :func:`check_data_fits` says exactly why a batch cannot go through a model (channels, number of
  spatial axes, a grid too coarse for the kept Fourier modes).
* :func:`with_channels` rebuilds a model for new input/output channels from its config and carries
  over every weight whose shape is unchanged: the Fourier blocks move over, the lifting and
  projection heads start fresh.
* :func:`finetuning_groups` freezes the spectral weights, trains them at a lower rate, or
  replaces their updates by low-rank ones (:class:`SpectralLowRankUpdate`, LoRA for spectral
  convolutions: ``W_k + A_k B_k`` per Fourier mode).
* :func:`finetune_instance` improves a prediction for one new input with the PDE residual alone.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from zoo.layers.spectral_conv import SpectralConv
from zoo.train.distributed import DistributedContext
from zoo.train.normalisation import with_config
from zoo.train.objectives import PhysicsFn, PhysicsInformed
from zoo.train.trainer import TrainConfig, Trainer

SPECTRAL_MODES = ("train", "freeze", "lora")


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
                f"fine-tune with new heads (zoo finetune --new-heads, or zoo.train.finetune.with_channels)"
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


class SpectralLowRankUpdate(nn.Module):
    """LoRA for a spectral convolution: ``W_k -> W_k + (alpha / rank) A_k B_k`` for each kept mode ``k``.

    ``A_k`` is ``(in, rank)`` and ``B_k`` ``(rank, out)``, complex, stored as real tensors with a
    trailing ``(re, im)`` axis like the weight itself. ``B`` starts at zero, so the update starts
    at zero and fine-tuning starts from the pretrained operator. Registered as a parametrization of
    ``SpectralConv.weight`` ``(*kept, in, out, 2)``; merging it leaves a plain ``SpectralConv``.
    """

    def __init__(self, weight: torch.Tensor, rank: int, alpha: float | None = None) -> None:
        super().__init__()
        *kept, in_channels, out_channels, _ = weight.shape
        if not 1 <= rank <= min(in_channels, out_channels):
            raise ValueError(f"rank must be in [1, {min(in_channels, out_channels)}], got {rank}")
        factory = {"device": weight.device, "dtype": weight.dtype}
        self.a = nn.Parameter(torch.randn(*kept, in_channels, rank, 2, **factory) / math.sqrt(2 * in_channels))
        self.b = nn.Parameter(torch.zeros(*kept, rank, out_channels, 2, **factory))
        self.scale = (alpha if alpha is not None else rank) / rank

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        update = torch.view_as_complex(self.a) @ torch.view_as_complex(self.b)
        return weight + self.scale * torch.view_as_real(update)


def add_spectral_lora(model: nn.Module, rank: int, *, alpha: float | None = None) -> list[nn.Parameter]:
    """Freeze every spectral weight and give it a trainable low-rank update; returns the new factors."""
    factors = []
    for layer in spectral_layers(model):
        update = SpectralLowRankUpdate(layer.weight, rank, alpha)
        parametrize.register_parametrization(layer, "weight", update)
        layer.parametrizations.weight.original.requires_grad_(False)
        factors += [update.a, update.b]
    if not factors:
        raise ValueError(f"{type(model).__name__} has no SpectralConv layers to adapt")
    return factors


def finetuning_groups(
    model: nn.Module,
    *,
    spectral: str = "train",
    spectral_lr_scale: float = 1.0,
    lora_rank: int = 4,
) -> list[dict[str, Any]]:
    """Optimizer groups for fine-tuning (``lr_scale`` multiplies the run's learning rate).

    Args:
        spectral: ``"train"`` (spectral weights at ``spectral_lr_scale`` times the rate),
            ``"freeze"`` (fixed), or ``"lora"`` (fixed, plus trainable low-rank updates of rank
            ``lora_rank`` at the full rate; this modifies ``model``).
        spectral_lr_scale: the spectral weights' rate relative to the rest (``"train"`` only).

    Every other parameter (pointwise layers, heads) trains at the full rate.
    """
    if spectral not in SPECTRAL_MODES:
        raise ValueError(f"unknown spectral mode {spectral!r}; choose one of {SPECTRAL_MODES}")
    spectral_weights = {id(layer.weight) for layer in spectral_layers(model)}
    others = [p for p in model.parameters() if id(p) not in spectral_weights]
    if spectral == "lora":
        factors = add_spectral_lora(model, lora_rank)
        factor_ids = {id(f) for f in factors}
        others = [p for p in model.parameters() if p.requires_grad and id(p) not in factor_ids]
        return [{"params": others}, {"params": factors}]
    weights = [layer.weight for layer in spectral_layers(model)]
    if spectral == "freeze":
        for weight in weights:
            weight.requires_grad_(False)
        return [{"params": others}]
    return [{"params": others}, {"params": weights, "lr_scale": spectral_lr_scale}]


def finetune_instance(
    model: nn.Module,
    inputs: torch.Tensor,
    physics: PhysicsFn,
    *,
    steps: int = 100,
    lr: float = 1e-4,
    rollout_steps: int | None = None,
    channels: int = 1,
    device: str = "cpu",
    spectral: str = "train",
) -> tuple[nn.Module, list[float]]:
    """Instance-wise fine-tuning (PINO): fit a copy of ``model`` to the PDE on these inputs only.

    Given new inputs ``(B, C_in, *spatial)`` (e.g. one initial condition) and the equation's
    residual ``physics(inputs, prediction)`` (:mod:`zoo.train.physics`), minimise the residual of
    the model's prediction for ``steps`` AdamW steps. No solver data is used. With
    ``rollout_steps`` the model is a time stepper and the residual is taken over its rollout.
    ``spectral`` says how the spectral weights adapt (:func:`finetuning_groups`: ``"train"``,
    ``"freeze"`` or ``"lora"``); every other weight trains at ``lr``.

    Returns the fine-tuned copy (``model`` is untouched) and the residual loss at every step.
    """
    tuned = copy.deepcopy(model).train()
    check_data_fits(tuned, inputs)
    groups = finetuning_groups(tuned, spectral=spectral)
    objective = PhysicsInformed(physics, rollout_steps=rollout_steps, channels=channels)
    config = TrainConfig(
        max_steps=steps, lr=lr, schedule="constant", weight_decay=0.0, log_every=1, progress=False, device=device
    )
    history = Trainer(
        tuned, [inputs], config, objective=objective, param_groups=groups,
        context=DistributedContext(device=torch.device(device)),
    ).fit()
    return tuned.eval(), [record["physics"] for record in history]
