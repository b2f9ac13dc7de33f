"""``timm.create_model`` with a ``mixer`` keyword: any supported timm ViT, its attention swapped.

``zoo.timm.create_model("vit_small_patch16_224", mixer="fno")`` builds timm's model, passes it
through :func:`zoo.replace_attention`, then (with ``pretrained=True``) loads the weights timm's
``pretrained_cfg`` names, or the file of ``pretrained_cfg_overlay=dict(file=...)``, through the
model family's own checkpoint filter (position-embedding resampling etc.). A checkpoint of the
original model has attention weights: they are skipped and the mixers keep their initialisation
(the fine-tuning case: ImageNet patch embedding, MLPs, norms and head, new token mixing). A
checkpoint of a swapped model has mixer weights: they are loaded. Any other missing or unexpected
key is an error, as in timm. ``features_only=True`` wraps the swapped model in timm's
``FeatureGetterNet`` (feature maps from ``forward_intermediates``), as timm does for its ViTs.
"""

from __future__ import annotations

import sys
from typing import Any

import timm
from timm.models import load_pretrained
from timm.models._features import FeatureGetterNet
from torch import nn

from zoo.models.timm_swap import replace_attention

FEATURE_ARGS = ("out_indices", "output_fmt", "feature_cls")


def create_timm_model(
    model_name: str,
    pretrained: bool = False,
    *,
    mixer: str | None = None,
    mixer_kwargs: dict[str, Any] | None = None,
    attention_pool: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """``timm.create_model(model_name, pretrained, **kwargs)``, with attention swapped for ``mixer``.

    Args:
        model_name: a timm model name (``mixer=None`` passes everything to ``timm.create_model``).
        pretrained: load the weights the model's ``pretrained_cfg`` names (see the module docstring
            for which weights land where).
        mixer: ``"fno"``, ``"afno"``, ``"global_filter"`` or ``"fnet"``.
        mixer_kwargs: the mixer's arguments (defaults come from the attention it replaces).
        attention_pool: what to do with a MAP head (see :func:`zoo.replace_attention`).
        kwargs: ``timm.create_model``'s keyword arguments (``img_size``, ``num_classes``,
            ``pretrained_cfg_overlay``, ``features_only``, ``out_indices``, ...).

    Returns:
        the swapped model; its ``pretrained_cfg`` names no weights and records, under ``"mixer"``,
        the mixer and, under ``"loaded_from"``, what ``pretrained=True`` loaded (the weights'
        source, and whether the mixers were loaded or initialised).
    """
    if mixer is None:
        return timm.create_model(model_name, pretrained=pretrained, **kwargs)
    features_only = kwargs.pop("features_only", False)
    feature_args = {name: kwargs.pop(name) for name in FEATURE_ARGS if name in kwargs}
    if feature_args.pop("feature_cls", "getter") != "getter":
        raise ValueError("a swapped model's features come from forward_intermediates: use feature_cls='getter'")
    model = timm.create_model(model_name, pretrained=False, **kwargs)
    weights_cfg = dict(model.pretrained_cfg)
    replace_attention(model, mixer, attention_pool=attention_pool, **(mixer_kwargs or {}))
    if pretrained:
        checkpoint_filter = SwappedCheckpointFilter(model)
        load_pretrained(
            model,
            pretrained_cfg=weights_cfg,
            num_classes=model.num_classes,
            in_chans=kwargs.get("in_chans", 3),
            filter_fn=checkpoint_filter,
        )
        source = next((weights_cfg[key] for key in ("file", "hf_hub_id", "url") if weights_cfg.get(key)), "state_dict")
        model.pretrained_cfg["loaded_from"] = {
            "weights": str(source),
            "mixers": "loaded" if checkpoint_filter.mixers_loaded else "initialised (the weights hold attention)",
        }
    if features_only:
        return FeatureGetterNet(model, out_indices=feature_args.get("out_indices", 3), output_fmt=feature_args.get("output_fmt", "NCHW"))
    return model


class SwappedCheckpointFilter:
    """timm's ``filter_fn`` for loading an original or a swapped checkpoint into a swapped model.

    Runs the model family's ``checkpoint_filter_fn`` (when its module has one), drops the weights
    of replaced attention and removed modules, and fills each mixer weight the checkpoint lacks
    with the model's own (initialised) value, so that timm's strict loading checks the rest.
    """

    def __init__(self, model: nn.Module) -> None:
        swap = model.attention_swap
        self.dropped = tuple(f"{path}." for path in (*swap.replaced, *swap.removed))
        self.mixer_keys = [
            key for key in model.state_dict() if any(key.startswith(f"{path}.") for path in swap.replaced)
        ]
        self.family_filter = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
        self.mixers_loaded: bool | None = None

    def __call__(self, state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
        self.mixers_loaded = all(key in state_dict for key in self.mixer_keys)
        mixer_weights = {key: state_dict[key] for key in self.mixer_keys if key in state_dict}
        original = {key: value for key, value in state_dict.items() if not key.startswith(self.dropped)}
        if self.family_filter is not None:
            original = self.family_filter(original, model)
        own = model.state_dict()
        original.update({key: mixer_weights.get(key, own[key]) for key in self.mixer_keys})
        return original
