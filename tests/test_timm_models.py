"""Every zoo_* timm model, checked the way timm's own tests check its ViTs.

The checks follow timm's ``tests/test_models.py`` (default configs of non-standard models, forward,
backward, features_only, forward_intermediates, torch.fx, TorchScript), written here for zoo's
registry, plus the optimizer factory's weight-decay groups. TorchScript cannot compile the mixers:
its test asserts the one-line reason instead (see ``FourierMixer.__prepare_scriptable__``).
"""

import math

import pytest
import timm
import timm.optim
import torch
from timm.layers import get_channel_dim, get_spatial_dim
from timm.models import get_notrace_functions, get_notrace_modules

import zoo.timm  # noqa: F401  (registers the zoo_* models)
from zoo.layers import FourierMixer

ZOO_MODELS = sorted(timm.list_models("zoo_*"))
TARGET_BWD_SIZE = 128  # timm's input sizes for these checks
TARGET_FFEAT_SIZE = 96
TARGET_FX_SIZE = 128


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_registry_holds_the_four_mixers():
    assert ZOO_MODELS == [
        "zoo_afno_vit_tiny_patch16_224", "zoo_fnet_vit_tiny_patch16_224",
        "zoo_fno_vit_tiny_patch16_224", "zoo_global_filter_vit_tiny_patch16_224",
    ]


def seeded(name, **kwargs):
    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False, **kwargs).eval()


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_default_cfg_describes_the_model(name):
    model = seeded(name)
    cfg = model.default_cfg
    assert cfg is model.pretrained_cfg or cfg == model.pretrained_cfg
    assert cfg["architecture"] == name and cfg["input_size"] == (3, 224, 224) and not cfg["fixed_input_size"]
    assert len(cfg["mean"]) == len(cfg["std"]) == 3 and 0 < cfg["crop_pct"] <= 1
    assert not any(cfg.get(source) for source in ("url", "hf_hub_id", "file")), "no weights are published"
    assert model.num_classes == cfg["num_classes"] == 1000 and model.num_features > 0 and model.head_hidden_size > 0
    state_dict = model.state_dict()
    assert f"{cfg['classifier']}.weight" in state_dict and f"{cfg['first_conv']}.weight" in state_dict

    x = torch.randn(1, *cfg["input_size"])
    with torch.no_grad():
        features = model.forward_features(x)
        pre_logits = model.forward_head(features, pre_logits=True)
        assert features.shape[-1] == model.num_features and pre_logits.shape == (1, model.head_hidden_size)
        model.reset_classifier(0)
        assert model.num_classes == 0
        torch.testing.assert_close(model(x), pre_logits)
        headless = seeded(name, num_classes=0)
        assert headless(x).shape == (1, model.num_features)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_forward_backward_and_grad_checkpointing(name):
    model = seeded(name, num_classes=42).train()
    x = torch.randn(2, 3, TARGET_BWD_SIZE, TARGET_BWD_SIZE)
    out = model(x)
    assert out.shape == (2, 42) and torch.isfinite(out).all()
    out.mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    model.eval()
    with torch.no_grad():
        reference = model(x)
        model.set_grad_checkpointing()
        torch.testing.assert_close(model(x), reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_features_only_gives_nchw_maps_at_the_declared_reductions(name):
    model = seeded(name, features_only=True)
    channels, reductions = model.feature_info.channels(), model.feature_info.reduction()
    assert len(channels) >= 3 and model.feature_info.module_name()[-1] == "blocks.11"
    size = (TARGET_FFEAT_SIZE, 2 * TARGET_FFEAT_SIZE)  # non-square: a transposed map would show
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, *size))
    assert len(outputs) == len(channels)
    for c, r, o in zip(channels, reductions, outputs):
        assert o.shape == (1, c, math.ceil(size[0] / r), math.ceil(size[1] / r))
        assert torch.isfinite(o).all()


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_features_only_honours_out_indices(name):
    x = torch.randn(1, 3, 64, 96)
    features = seeded(name, features_only=True, out_indices=(1, 4))
    assert features.feature_info.module_name() == ["blocks.1", "blocks.4"]
    full = seeded(name)  # same seed: same weights
    with torch.no_grad():
        expected = full.forward_intermediates(x, indices=[1, 4], intermediates_only=True)
        got = features(x)
    assert len(got) == 2
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=0, atol=0)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_forward_intermediates_matches_forward_features(name):
    model = seeded(name)
    info = timm.models.FeatureInfo(model.feature_info, len(model.feature_info))
    x = torch.randn(1, 3, TARGET_FFEAT_SIZE, TARGET_FFEAT_SIZE)
    with torch.no_grad():
        output, intermediates = model.forward_intermediates(x, output_fmt="NCHW")
        only = model.forward_intermediates(x, output_fmt="NCHW", intermediates_only=True)
        torch.testing.assert_close(output, model.forward_features(x))
    assert len(intermediates) == len(only) == len(info.channels()) == 12
    spatial, channel = get_spatial_dim("NCHW"), get_channel_dim("NCHW")
    for c, r, o, o_only in zip(info.channels(), info.reduction(), intermediates, only):
        assert o.shape[channel] == c and o.shape[spatial[0]] == TARGET_FFEAT_SIZE // r
        torch.testing.assert_close(o_only, o, rtol=0, atol=0)


def traced_feature_extractor(model, train=False):
    """torchvision's fx feature extractor with timm's leaf modules and functions, returning the output."""
    from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

    tracer_kwargs = dict(leaf_modules=get_notrace_modules(), autowrap_functions=get_notrace_functions())
    train_nodes, eval_nodes = get_graph_node_names(model, tracer_kwargs=tracer_kwargs)
    return create_feature_extractor(
        model, train_return_nodes=[train_nodes[-1]], eval_return_nodes=[eval_nodes[-1]], tracer_kwargs=tracer_kwargs
    )


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_fx_traced_model_matches_eager_forward_and_backward(name):
    model = seeded(name, num_classes=42)
    x = torch.randn(1, 3, TARGET_FX_SIZE, TARGET_FX_SIZE)
    with torch.no_grad():
        eager = model(x)  # also sets the mixers' grid, which the traced graph keeps
        traced = traced_feature_extractor(model)
        assert any(isinstance(m, FourierMixer) for m in traced.modules())
        [fx_out] = traced(x).values()
    torch.testing.assert_close(fx_out, eager, rtol=0, atol=0)

    traced_train = traced_feature_extractor(model.train(), train=True)
    [out] = traced_train(torch.randn(2, 3, TARGET_FX_SIZE, TARGET_FX_SIZE)).values()
    out.mean().backward()
    missing = [n for n, p in traced_train.named_parameters() if p.grad is None]
    assert out.shape == (2, 42) and not missing


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_fx_feature_class_gives_the_getter_features(name):
    x = torch.randn(1, 3, 64, 64)
    getter = seeded(name, features_only=True, img_size=64)
    fx = seeded(name, features_only=True, feature_cls="fx", img_size=64)
    assert fx.feature_info.module_name() == getter.feature_info.module_name()
    with torch.no_grad():
        pairs = list(zip(getter(x), fx(x)))
    assert len(pairs) == 3
    for g, f in pairs:  # the traced graph returns the blocks' raw tokens (B, N, C)
        torch.testing.assert_close(f.transpose(1, 2).reshape(g.shape), g, rtol=0, atol=0)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_torchscript_refuses_with_the_reason(name):
    with timm.set_scriptable(True):
        model = seeded(name)
    with pytest.raises(NotImplementedError, match="cannot be compiled by TorchScript.*use torch.compile"):
        torch.jit.script(model)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_optimizer_factory_exempts_biases_and_positions_from_weight_decay(name):
    model = seeded(name)
    optimizer = timm.optim.create_optimizer_v2(model, "adamw", lr=1e-3, weight_decay=0.05)
    decayed = {id(p) for group in optimizer.param_groups if group["weight_decay"] > 0 for p in group["params"]}
    names = dict(model.named_parameters())
    exempt = {n for n, p in names.items() if id(p) not in decayed}
    # timm's convention: biases, norm scales (1D) and positional embeddings take no decay.
    expected = {n for n, p in names.items() if p.ndim <= 1 or n.endswith(".bias") or n == "pos_embed"}
    if "afno" in name:  # AFNO's frequency-domain biases are (blocks, width, 2) tensors
        expected |= {n for n in names if n.endswith((".attn.b1", ".attn.b2"))}
        assert sum(n.endswith(".attn.b1") for n in expected) == 12
    assert exempt == expected
