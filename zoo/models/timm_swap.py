"""Swap the self-attention of a timm vision transformer for a Fourier token mixer.

timm's ``Block`` calls ``self.attn(x, attn_mask=..., is_causal=...)`` on tokens ``(B, N, C)``:
``num_prefix_tokens`` class/distillation/register tokens, then the patch tokens in row-major
order. Every Fourier mixer takes that call (see :class:`zoo.layers.FourierMixer`), so the swap
replaces each ``timm.layers.Attention`` module in place and leaves the blocks alone.

The attention module is never told the patch grid's shape, and with ``dynamic_img_size=True``
or a non-square image it cannot be inferred from ``N``. So the swap installs a forward hook on the
model's ``patch_embed`` that sets every new mixer's ``grid_size`` from the image being embedded
(``patch_embed.dynamic_feat_size``, which also accounts for dynamic padding). The hook and the
mixers are plain attributes of the model: ``copy.deepcopy`` and pickling keep them linked.

Prefix tokens read the mean token through a learned linear map; patch tokens are mixed on the
grid (details in :mod:`zoo.layers.mixers.base`).
"""

from __future__ import annotations

from typing import Any

import torch
from timm.layers import Attention, PatchDropout
from torch import nn

from zoo.layers.mixers import FourierMixer, make_mixer


def replace_attention(model: nn.Module, mixer: str = "fno", **mixer_kwargs: Any) -> list[tuple[str, nn.Module]]:
    """Replace every ``timm.layers.Attention`` of ``model`` by a Fourier mixer, in place.

    Args:
        model: a timm vision transformer (ViT, DeiT, ViTs with register tokens, hybrid ViTs, ...)
            whose blocks hold ``timm.layers.Attention`` and whose ``patch_embed`` embeds images.
        mixer: ``"fno"``, ``"afno"``, ``"global_filter"`` or ``"fnet"``.
        mixer_kwargs: keyword arguments of the mixer (e.g. ``modes=8``); ``dim``, ``grid_size``
            and ``num_prefix_tokens`` come from the model. A global filter is learned at the
            model's patch grid unless ``filter_size`` is given.

    Returns:
        ``(qualified name, replaced module)`` for every replaced module, in model order.

    Raises:
        ValueError: naming the module, for a model whose attention is not ``timm.layers.Attention``
            (e.g. EVA's rotary attention, differential attention, BEiT's relative-position
            attention), whose attention changes the width, that has no image ``patch_embed``,
            or that drops patch tokens in training (``patch_drop_rate > 0``).
    """
    model_name = type(model).__name__
    targets = [(name, module) for name, module in model.named_modules() if type(module) is Attention]
    unsupported = [
        f"{name} ({type(module).__module__}.{type(module).__qualname__})"
        for name, module in model.named_modules()
        if name.rsplit(".", 1)[-1] == "attn" and type(module) is not Attention
        and not isinstance(module, FourierMixer)
    ]
    if unsupported:
        raise ValueError(
            f"replace_attention cannot handle {', '.join(unsupported)} in {model_name}: only "
            "timm.layers.Attention, called as attn(x, attn_mask, is_causal) on (B, N, C) tokens, "
            "can be replaced"
        )
    if not targets:
        raise ValueError(
            f"{model_name} holds no timm.layers.Attention module to replace (already replaced, "
            "or not a timm vision transformer)"
        )
    patch_embed = getattr(model, "patch_embed", None)
    if not hasattr(patch_embed, "dynamic_feat_size"):
        raise ValueError(
            f"{model_name}.patch_embed ({type(patch_embed).__name__}) is not a timm image patch "
            "embedding with dynamic_feat_size(): the token grid of its inputs is unknown"
        )
    patch_drop = getattr(model, "patch_drop", None)
    if isinstance(patch_drop, PatchDropout) and patch_drop.prob > 0:
        raise ValueError(
            f"{model_name}.patch_drop drops patch tokens in training (prob={patch_drop.prob}), "
            "which leaves no grid to mix; build the model with patch_drop_rate=0"
        )
    grid_size = tuple(patch_embed.grid_size)
    num_prefix_tokens = int(getattr(model, "num_prefix_tokens", 0))
    if mixer == "global_filter":
        mixer_kwargs.setdefault("filter_size", grid_size)

    replaced, mixers = [], []
    for name, attention in targets:
        dim, dim_out = attention.qkv.in_features, attention.proj.out_features
        if dim != dim_out:
            raise ValueError(
                f"{name} maps {dim} to {dim_out} channels; a Fourier mixer keeps the width"
            )
        reference = attention.qkv.weight
        new = make_mixer(
            mixer,
            dim,
            ndim=2,
            grid_size=grid_size,
            num_prefix_tokens=num_prefix_tokens,
            device=reference.device,
            dtype=reference.dtype,
            **mixer_kwargs,
        )
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, new)
        replaced.append((name, attention))
        mixers.append(new)
    patch_embed.register_forward_hook(TokenGridTracker(mixers))
    return replaced


class TokenGridTracker:
    """Forward hook of ``patch_embed``: sets the mixers' ``grid_size`` to the embedded image's grid."""

    def __init__(self, mixers: list[FourierMixer]) -> None:
        self.mixers = mixers

    def __call__(self, patch_embed: nn.Module, args: tuple[torch.Tensor, ...], output: Any) -> None:
        grid = tuple(patch_embed.dynamic_feat_size(tuple(args[0].shape[-2:])))
        for mixer in self.mixers:
            mixer.grid_size = grid
