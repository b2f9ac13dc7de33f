"""Fine-tuning a trained operator on new data: gentler spectral updates, PINO at test time.

* :func:`finetuning_groups` freezes the spectral weights, trains them at a lower rate, or
  replaces their updates by low-rank ones (:class:`SpectralLowRankUpdate`, LoRA for spectral
  convolutions: ``W_k + A_k B_k`` per Fourier mode).
* :func:`finetune_instance` improves a prediction for one new input with the PDE residual alone.

New heads for new channels and the checks that data fit a model are model surgery and live in
:mod:`zoo.models.adapt`.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from zoo.models.adapt import check_data_fits, spectral_layers
from zoo.train.config import TrainConfig
from zoo.train.distributed import DistributedContext
from zoo.train.objectives import PhysicsFn, PhysicsInformed
from zoo.train.trainer import Trainer

SPECTRAL_MODES = ("train", "freeze", "lora")


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
    residual ``physics(inputs, prediction)`` (:mod:`zoo.losses.physics`), minimise the residual of
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
