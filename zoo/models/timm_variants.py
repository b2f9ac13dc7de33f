"""Image classifiers registered with timm: ViTs whose attention is a Fourier mixer.

After ``import zoo``, ``timm.create_model("zoo_afno_vit_tiny_patch16_224")`` builds one. Each is a
timm ``VisionTransformer`` (ViT-Tiny sizes: width 192, depth 12) passed through
:func:`zoo.replace_attention` in its constructor, so timm's tools for it apply
(``forward_intermediates``, ``features_only=True``, ``set_input_size``, data configs, optimizer
factory, ``timm.create_model`` keyword overrides, ``torch.fx`` feature extraction; not
TorchScript, see :mod:`zoo.models.timm_swap`). They use global
average pooling and no class token,
as GFNet and AFNO do (a Fourier mixer gives prefix tokens only the mean token), and
``dynamic_img_size=True``, since Fourier mixing works on any patch grid. No pretrained weights are
published under these names: ``pretrained=True`` loads weights only from a source the caller names
(``timm.create_model("hf-hub:<repo>", pretrained=True)``, a file overlay), and otherwise raises an
error rather than silently returning a random model.
"""

from __future__ import annotations

from typing import Any

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import VisionTransformer, build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._builder import resolve_pretrained_cfg
from timm.models.vision_transformer import checkpoint_filter_fn

from zoo.models.timm_swap import replace_attention

_TINY = dict(
    patch_size=16, embed_dim=192, depth=12, num_heads=3, mlp_ratio=4.0,
    class_token=False, global_pool="avg", dynamic_img_size=True,
)


def _cfg(**kwargs: Any) -> dict[str, Any]:
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": None,
        "crop_pct": 0.9,
        "interpolation": "bicubic",
        "fixed_input_size": False,
        "mean": IMAGENET_DEFAULT_MEAN,
        "std": IMAGENET_DEFAULT_STD,
        "first_conv": "patch_embed.proj",
        "classifier": "head",
        "license": "mit",
        **kwargs,
    }


default_cfgs = generate_default_cfgs({
    "zoo_fno_vit_tiny_patch16_224": _cfg(),
    "zoo_afno_vit_tiny_patch16_224": _cfg(),
    "zoo_global_filter_vit_tiny_patch16_224": _cfg(),
    "zoo_fnet_vit_tiny_patch16_224": _cfg(),
})


class FourierVisionTransformer(VisionTransformer):
    """A timm ``VisionTransformer`` whose attention is a Fourier mixer from construction on.

    Swapping inside the constructor (rather than after ``build_model_with_cfg``) lets timm's
    builder do the rest as for its own ViTs: load checkpoints of mixer weights, and wrap the model
    for ``features_only=True`` (``FeatureGetterNet`` over ``forward_intermediates``).

    Args:
        mixer: the mixer's name (see :func:`zoo.replace_attention`).
        mixer_kwargs: its arguments (defaults come from the attention it replaces).
        kwargs: ``VisionTransformer``'s arguments.
    """

    def __init__(self, mixer: str = "fno", mixer_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        replace_attention(self, mixer, **(mixer_kwargs or {}))


def _create_fourier_vit(
    variant: str, pretrained: bool, mixer: str, mixer_kwargs: dict[str, Any], **kwargs: Any
) -> VisionTransformer:
    if pretrained:
        # timm would warn and return a random model; name the missing weights instead.
        cfg = resolve_pretrained_cfg(
            variant, pretrained_cfg=kwargs.get("pretrained_cfg"), pretrained_cfg_overlay=kwargs.get("pretrained_cfg_overlay")
        )
        if not any(getattr(cfg, source, None) for source in ("url", "hf_hub_id", "file", "state_dict")):
            raise ValueError(
                f"no pretrained weights are published for {variant}; use pretrained=False, or name "
                "weights (timm.create_model('hf-hub:<repo>') or pretrained_cfg_overlay=dict(file=...))"
            )
    out_indices = kwargs.pop("out_indices", 3)
    return build_model_with_cfg(
        FourierVisionTransformer,
        variant,
        pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(out_indices=out_indices, feature_cls="getter"),
        mixer=mixer,
        mixer_kwargs=mixer_kwargs,
        **dict(_TINY, **kwargs),
    )


@register_model
def zoo_fno_vit_tiny_patch16_224(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """ViT-Tiny with FNO mixing: lowest 4 modes per axis, 6 channel groups of 32."""
    return _create_fourier_vit(
        "zoo_fno_vit_tiny_patch16_224", pretrained, "fno", {"modes": 4, "groups": 6}, **kwargs
    )


@register_model
def zoo_afno_vit_tiny_patch16_224(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """ViT-Tiny with AFNO mixing in the paper's image setting: 8 blocks, ortho norm, biases."""
    return _create_fourier_vit(
        "zoo_afno_vit_tiny_patch16_224", pretrained, "afno",
        {"num_blocks": 8, "norm": "ortho", "bias": True}, **kwargs,
    )


@register_model
def zoo_global_filter_vit_tiny_patch16_224(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """ViT-Tiny with GFNet global filters, learned at the 14x14 patch grid."""
    return _create_fourier_vit(
        "zoo_global_filter_vit_tiny_patch16_224", pretrained, "global_filter", {}, **kwargs
    )


@register_model
def zoo_fnet_vit_tiny_patch16_224(pretrained: bool = False, **kwargs: Any) -> VisionTransformer:
    """ViT-Tiny with parameter-free FNet mixing."""
    return _create_fourier_vit("zoo_fnet_vit_tiny_patch16_224", pretrained, "fnet", {}, **kwargs)
