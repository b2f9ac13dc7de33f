"""Swap the self-attention of a timm vision transformer for a Fourier token mixer.

timm's blocks call their attention on tokens ``(B, N, C)``: ``num_prefix_tokens`` class,
distillation or register tokens, then the patch tokens in row-major order. Every Fourier mixer
takes attention's call (see :class:`zoo.layers.FourierMixer`), so the swap replaces each attention
module in place and leaves the blocks alone. Three attention classes are replaced:

* ``timm.layers.Attention`` (ViT, DeiT, DeiT-III, DINOv2 with registers, FlexiViT, hybrid ViTs);
* ``timm.models.eva.EvaAttention`` (EVA-02) and ``timm.layers.attention.AttentionRope`` (the
  RoPE-ViTs, built on timm's EVA model): the blocks also pass a rotary
  position embedding, which a mixer has no use for (it is a global convolution on the grid, so it
  sees positions through the grid itself). The model's ``rope`` module is removed and each block's
  dropped term is reported;
* ``timm.models.beit.Attention`` (BEiT): its relative position bias (per block, or the model's
  shared one) is dropped with the attention and reported.

Anything else called ``attn`` (Swin's window attention, LeViT's attention that changes resolution,
differential attention) is refused with an error naming the module. A MAP head (attention pooling,
``global_pool="map"``) is not token mixing: it is kept with a warning, kept silently
(``attention_pool="keep"``) or replaced by average pooling (``attention_pool="avg"``).

The attention module is never told the patch grid's shape, and with ``dynamic_img_size=True`` or a
non-square image it cannot be inferred from ``N``. So the swap installs a forward hook on the
model's ``patch_embed`` that sets every new mixer's ``grid_size`` from the image being embedded
(``patch_embed.dynamic_feat_size``, which also accounts for dynamic padding). The hook and the
mixers are plain attributes of the model: ``copy.deepcopy`` and pickling keep them linked.

``torch.fx`` (timm's ``features_only`` with ``feature_cls="fx"``, torchvision's feature
extractor) treats the mixers as leaf modules (registered with ``timm.layers``); the hook does
nothing on traced values, so a traced graph mixes on the grid of the last eager forward (or the
model's own grid): trace a dynamic-size model at the size you will run it at. TorchScript cannot
compile the mixers (see :meth:`zoo.layers.FourierMixer.__prepare_scriptable__`); use
``torch.compile`` or ``torch.export``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from timm.layers import Attention, AttentionPoolLatent, register_notrace_module
from timm.layers.attention import AttentionRope
from timm.models import beit, eva
from torch import nn

from zoo.layers.mixers import MIXERS, FourierMixer, make_mixer
from zoo.layers.spectral_conv import kept_frequencies

# Attention classes the swap handles, with the position terms their blocks feed them that a
# mixer drops (the class of the attention module -> what is dropped).
REPLACEABLE: dict[type[nn.Module], str] = {
    Attention: "",
    eva.EvaAttention: "rotary position embedding (rope)",
    AttentionRope: "rotary position embedding (rope)",
    beit.Attention: "relative position bias",
}
# Mixer parameters per block, at most this multiple of the attention's: a ViT block's attention
# is a third of its parameters (MLP ratio 4), so the whole model grows by at most ~1.33x.
PARAMETER_BUDGET = 2.0
ATTENTION_POOLS = ("keep", "avg")


@dataclass
class AttentionSwap:
    """What :func:`replace_attention` did to a model (``model.attention_swap``).

    Attributes:
        mixer: the mixer's name.
        mixer_kwargs: the mixer's arguments, after defaults from the attention and the clamp of
            ``modes`` to the grid (the same for every block).
        replaced: qualified names of the replaced attention modules, in model order.
        dropped: per replaced module, the position term its block passed that the mixer drops
            (EVA's rope, BEiT's relative position bias); absent for plain attention.
        removed: model-level modules removed because only attention used them (``rope``,
            ``rel_pos_bias``) or swapped (``attn_pool``).
        kept: attention modules left as they were (a MAP head kept with ``attention_pool="keep"``).
    """

    mixer: str
    mixer_kwargs: dict[str, Any]
    replaced: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def replace_attention(
    model: nn.Module, mixer: str = "fno", *, attention_pool: str | None = None, **mixer_kwargs: Any
) -> nn.Module:
    """Replace every self-attention module of a timm vision transformer by a Fourier mixer.

    The model is changed in place and returned (so ``model = replace_attention(model)`` and
    ``replace_attention(model)`` are the same). What was done is recorded on
    ``model.attention_swap`` (an :class:`AttentionSwap`: the replaced module paths, dropped
    position terms, removed modules). The model's ``pretrained_cfg`` no longer names weights (the
    ones it named were for attention) and records the mixer; ``model.no_weight_decay()`` adds the
    mixers' bias parameters (AFNO's ``b1``, ``b2``) to the model's own names.

    Defaults come from the replaced attention: the width and the number of heads of each module
    and the model's patch grid. FNO keeps the lowest ``ceil(n / 4)`` modes of each grid axis and
    splits the channels into the fewest groups (at least the number of heads, a divisor of the
    width) for which a mixer has at most twice the attention's parameters; AFNO uses one block per
    head; a global filter is learned at the model's patch grid. An explicit ``modes`` larger than
    the grid holds is clamped to it (a 14x14 grid holds 7 frequencies of each sign on the first
    axis and 8 rfft columns on the last): the output is the same and no unused weights are
    allocated. The arguments used are in ``model.attention_swap.mixer_kwargs``.

    Args:
        model: a timm vision transformer (ViT, DeiT, DeiT-III, DINOv2-reg, FlexiViT, hybrid ViT,
            EVA-02, RoPE-ViT, BEiT) whose ``patch_embed`` embeds images.
        mixer: ``"fno"``, ``"afno"``, ``"global_filter"`` or ``"fnet"``.
        attention_pool: what to do with a MAP head (``model.attn_pool``, attention pooling):
            ``"keep"`` it, or replace it by average pooling over the patch tokens (``"avg"``). By
            default it is kept with a warning.
        mixer_kwargs: keyword arguments of the mixer (e.g. ``modes=8``), overriding the defaults;
            ``dim``, ``grid_size`` and ``num_prefix_tokens`` come from the model.

    Returns:
        ``model``.

    Raises:
        ValueError: naming the module, for attention other than the classes above (Swin's window
            attention, LeViT, differential attention), attention that changes the width, a model
            with no image ``patch_embed``, or one that drops patch tokens in training
            (``patch_drop_rate > 0``).
    """
    model_name = type(model).__name__
    if mixer not in MIXERS:
        raise ValueError(f"unknown mixer {mixer!r}; choose one of {sorted(MIXERS)}")
    if attention_pool not in (None, *ATTENTION_POOLS):
        raise ValueError(f"attention_pool must be one of {ATTENTION_POOLS} (or None), got {attention_pool!r}")
    targets = [(name, module) for name, module in model.named_modules() if type(module) in REPLACEABLE]
    unsupported = [
        f"{name} ({type(module).__module__}.{type(module).__qualname__})"
        for name, module in model.named_modules()
        if name.rsplit(".", 1)[-1] == "attn" and type(module) not in REPLACEABLE
        and not isinstance(module, (FourierMixer, DroppedPositionTerms))
    ]
    if unsupported:
        raise ValueError(
            f"replace_attention cannot handle {unsupported[0]}"
            f"{f' (and {len(unsupported) - 1} more)' if len(unsupported) > 1 else ''} in {model_name}: only "
            f"{', '.join(f'{c.__module__}.{c.__qualname__}' for c in REPLACEABLE)} on (B, N, C) "
            "tokens of one patch grid can be replaced"
        )
    if not targets:
        raise ValueError(
            f"{model_name} holds no attention module to replace (already replaced, or not a timm "
            "vision transformer)"
        )
    patch_embed = getattr(model, "patch_embed", None)
    if not hasattr(patch_embed, "dynamic_feat_size"):
        raise ValueError(
            f"{model_name}.patch_embed ({type(patch_embed).__name__}) is not a timm image patch "
            "embedding with dynamic_feat_size(): the token grid of its inputs is unknown"
        )
    drop_prob = getattr(getattr(model, "patch_drop", None), "prob", 0)  # PatchDropout, EVA's variant
    if drop_prob > 0:
        raise ValueError(
            f"{model_name}.patch_drop drops patch tokens in training (prob={drop_prob}), "
            "which leaves no grid to mix; build the model with patch_drop_rate=0"
        )
    grid_size = tuple(int(n) for n in patch_embed.grid_size)
    num_prefix_tokens = int(getattr(model, "num_prefix_tokens", 0))
    first = targets[0][1]
    kwargs = mixer_defaults(mixer, first, grid_size, num_prefix_tokens, mixer_kwargs)
    swap = AttentionSwap(mixer, kwargs)

    mixers = []
    for name, attention in targets:
        dim = attention_width(attention)
        reference = next(attention.parameters())
        new = make_mixer(
            mixer,
            dim,
            ndim=2,
            grid_size=grid_size,
            num_prefix_tokens=num_prefix_tokens,
            device=reference.device,
            dtype=reference.dtype,
            **kwargs,
        )
        mixers.append(new)
        dropped = dropped_terms(model, attention)
        if dropped:
            swap.dropped[name] = dropped
            new = DroppedPositionTerms(new)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, new)
        swap.replaced.append(name)
    for attribute in ("rope", "rel_pos_bias"):  # computed for the attention alone (EVA, BEiT)
        if getattr(model, attribute, None) is not None:
            setattr(model, attribute, None)
            swap.removed.append(attribute)
    _handle_attention_pool(model, attention_pool, swap)

    patch_embed.register_forward_hook(TokenGridTracker(mixers))
    exempt = {f"{name}.{param}" for name, m in model.named_modules() if isinstance(m, FourierMixer)
              for param in m.no_weight_decay()}
    own = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    model.no_weight_decay = NoWeightDecay(set(own) | exempt)
    _forget_attention_weights(model, swap)
    model.attention_swap = swap
    return model


def attention_width(attention: nn.Module) -> int:
    """Channels in and out of an attention module; a mixer keeps the width, so they must agree."""
    proj = attention.proj
    projection_in = attention.qkv if getattr(attention, "qkv", None) is not None else attention.q_proj
    if projection_in.in_features != proj.out_features:
        raise ValueError(
            f"{type(attention).__name__} maps {projection_in.in_features} to {proj.out_features} "
            "channels; a Fourier mixer keeps the width"
        )
    return proj.out_features


def mixer_defaults(
    mixer: str, attention: nn.Module, grid: tuple[int, ...], num_prefix_tokens: int, given: dict[str, Any]
) -> dict[str, Any]:
    """The mixer's arguments: ``given``, with defaults from the attention and ``modes`` clamped to the grid."""
    kwargs = dict(given)
    dim = attention_width(attention)
    heads = int(getattr(attention, "num_heads", 1))
    budget = PARAMETER_BUDGET * sum(p.numel() for p in attention.parameters())
    prefix_params = dim * dim + dim if num_prefix_tokens else 0
    if "modes" in kwargs and kwargs["modes"] is not None:
        kwargs["modes"] = clamp_modes(kwargs["modes"], grid)
    if mixer == "fno":
        kwargs.setdefault("modes", tuple(math.ceil(n / 4) for n in grid))
        if "groups" not in kwargs:
            modes = kwargs["modes"] if not isinstance(kwargs["modes"], int) else (kwargs["modes"],) * 2
            kept = 2 * math.prod(modes[:-1]) * modes[-1]  # SpectralConv's weight rows
            fits = [g for g in range(1, dim + 1)
                    if dim % g == 0 and g >= heads and 2 * kept * dim * dim / g + prefix_params <= budget]
            kwargs["groups"] = fits[0] if fits else dim
    elif mixer == "afno":
        kwargs.setdefault("num_blocks", heads if dim % heads == 0 else 1)
    elif mixer == "global_filter":
        kwargs.setdefault("filter_size", grid)
    return kwargs


def clamp_modes(modes: int | tuple[int, ...], grid: tuple[int, ...]) -> tuple[int, ...]:
    """``modes`` per axis, at most what ``grid`` holds (see ``kept_frequencies``).

    Clamping changes no output: modes a grid does not hold would only be weights never used.
    """
    modes = (modes,) * len(grid) if isinstance(modes, int) else tuple(int(m) for m in modes)
    last = len(grid) - 1
    held = tuple(max(kept_frequencies(n, n, last_axis=axis == last)) for axis, n in enumerate(grid))
    return tuple(min(m, h) for m, h in zip(modes, held))


def dropped_terms(model: nn.Module, attention: nn.Module) -> str:
    """The position terms a mixer in place of ``attention`` drops, in words ('' for none)."""
    if type(attention) in (eva.EvaAttention, AttentionRope):
        return REPLACEABLE[type(attention)] if getattr(model, "rope", None) is not None else "call signature only"
    if type(attention) is beit.Attention:
        terms = []
        table = attention.relative_position_bias_table
        if table is not None:
            terms.append(f"relative position bias table {tuple(table.shape)}")
        if getattr(model, "rel_pos_bias", None) is not None:
            terms.append("the model's shared relative position bias")
        return "; ".join(terms) or "call signature only"
    return ""


def _handle_attention_pool(model: nn.Module, attention_pool: str | None, swap: AttentionSwap) -> None:
    pool = getattr(model, "attn_pool", None)
    if not isinstance(pool, AttentionPoolLatent):
        return
    if attention_pool == "avg":
        model.attn_pool = None
        model.global_pool = "avg"
        swap.removed.append("attn_pool")
        return
    swap.kept.append("attn_pool")
    if attention_pool is None:
        warnings.warn(
            f"{type(model).__name__}.attn_pool (MAP head, attention pooling) is left as attention; "
            "pass attention_pool='keep' to keep it silently or 'avg' to replace it by average pooling",
            stacklevel=3,
        )


def _forget_attention_weights(model: nn.Module, swap: AttentionSwap) -> None:
    """``pretrained_cfg`` without the weights it named (they hold attention), recording the mixer."""
    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is None:
        return
    cfg = dict(cfg)
    for source in ("url", "hf_hub_id", "hf_hub_filename", "file", "state_dict"):
        cfg.pop(source, None)
    cfg["mixer"] = {"name": swap.mixer, **swap.mixer_kwargs}
    model.pretrained_cfg = model.default_cfg = cfg  # timm keeps default_cfg as an alias


class DroppedPositionTerms(nn.Module):
    """A mixer called by a block that also passes attention's position terms, which it drops.

    EVA's blocks call ``attn(x, rope=..., attn_mask=..., is_causal=...)``, BEiT's
    ``attn(x, shared_rel_pos_bias=...)``. The mixer is ``self.mixer``.
    """

    def __init__(self, mixer: FourierMixer) -> None:
        super().__init__()
        self.mixer = mixer

    def forward(
        self,
        x: torch.Tensor,
        rope: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        shared_rel_pos_bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.mixer(x, attn_mask=attn_mask, is_causal=is_causal)


class NoWeightDecay:
    """``model.no_weight_decay()`` after a swap: the names timm's optimizer factory exempts."""

    def __init__(self, names: set[str]) -> None:
        self.names = frozenset(names)

    def __call__(self) -> set[str]:
        return set(self.names)


class TokenGridTracker:
    """Forward hook of ``patch_embed``: sets the mixers' ``grid_size`` to the embedded image's grid."""

    def __init__(self, mixers: list[FourierMixer]) -> None:
        self.mixers = mixers

    def __call__(self, patch_embed: nn.Module, args: tuple[torch.Tensor, ...], output: Any) -> None:
        if isinstance(args[0], torch.fx.Proxy):  # symbolic tracing: no sizes to read (module docstring)
            return
        grid = tuple(patch_embed.dynamic_feat_size(tuple(args[0].shape[-2:])))
        for mixer in self.mixers:
            mixer.grid_size = grid


for _cls in (*MIXERS.values(), DroppedPositionTerms):
    register_notrace_module(_cls)
