"""zoo.replace_attention on timm vision transformers, and the zoo_* models registered with timm."""

import copy
import math

import pytest
import timm
import torch
from timm.layers import Attention

import zoo
from zoo.layers import AFNOMixer, FNOMixer, FourierMixer, GlobalFilterMixer

SMALL = dict(pretrained=False, depth=2, embed_dim=32, num_heads=2, num_classes=5)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def captured_mixer_calls(model):
    """Record (input, output) of every mixer call of ``model``."""
    calls = []
    for module in model.modules():
        if isinstance(module, FourierMixer):
            module.register_forward_hook(lambda m, args, out: calls.append((m, args[0], out)))
    return calls


# Four architectures: ViT with a class token; DeiT with class + distillation tokens; a ViT with
# register tokens and no class token, non-square, dynamic_img_size; a hybrid ViT (ResNet stem).
ARCHITECTURES = {
    "vit": ("vit_tiny_patch16_224", dict(img_size=64), (64, 64), (4, 4), 1),
    "deit_distilled": ("deit_tiny_distilled_patch16_224", dict(img_size=(48, 80)), (48, 80), (3, 5), 2),
    "vit_registers": (
        "vit_small_patch14_reg4_dinov2",
        dict(img_size=(56, 84), dynamic_img_size=True, class_token=False, global_pool="avg"),
        (42, 70),
        (3, 5),
        4,
    ),
    "vit_hybrid": ("vit_tiny_r_s16_p8_224", dict(img_size=(64, 96)), (64, 96), (2, 3), 1),
}


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_replaces_every_attention_and_keeps_prefix_tokens(arch):
    name, options, image, grid, n_prefix = ARCHITECTURES[arch]
    torch.manual_seed(0)
    model = timm.create_model(name, **SMALL, **options).eval()
    assert model.num_prefix_tokens == n_prefix
    assert zoo.replace_attention(model, "fno", modes=2) is model
    assert model.attention_swap.replaced == ["blocks.0.attn", "blocks.1.attn"]
    assert all(isinstance(block.attn, FNOMixer) for block in model.blocks)
    assert not any(type(m) is Attention for m in model.modules())

    calls = captured_mixer_calls(model)
    logits = model(torch.randn(2, 3, *image))
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    assert len(calls) == 2
    for mixer, tokens, out in calls:
        assert tokens.shape == (2, n_prefix + math.prod(grid), 32)
        assert mixer.grid_size == grid
        # Patch tokens are mixed as the image's row-major patch grid; prefix tokens stay in front.
        expected_patches = mixer.mix_grid(tokens[:, n_prefix:].reshape(2, *grid, 32)).reshape(2, -1, 32)
        torch.testing.assert_close(out[:, n_prefix:], expected_patches)
        expected_prefix = mixer.prefix_proj(tokens.mean(1, keepdim=True)).expand(-1, n_prefix, -1)
        torch.testing.assert_close(out[:, :n_prefix], expected_prefix)


def test_dynamic_img_size_tracks_each_input_grid():
    name, options, *_ = ARCHITECTURES["vit_registers"]
    model = timm.create_model(name, **SMALL, **options).eval()
    zoo.replace_attention(model, "afno", num_blocks=4)
    for image, grid in [((56, 84), (4, 6)), ((98, 42), (7, 3)), ((70, 70), (5, 5))]:
        assert model(torch.randn(1, 3, *image)).shape == (1, 5)
        assert all(block.attn.grid_size == grid for block in model.blocks)


def test_set_input_size_and_intermediates_follow_the_new_grid():
    model = timm.create_model("vit_tiny_patch16_224", **SMALL, img_size=64).eval()
    zoo.replace_attention(model, "global_filter")
    model.set_input_size(img_size=(32, 80))
    features = model.forward_intermediates(torch.randn(1, 3, 32, 80), indices=1, intermediates_only=True)
    assert features[0].shape == (1, 32, 2, 5)
    assert model.blocks[0].attn.grid_size == (2, 5) and model.blocks[0].attn.filter_size == (4, 4)


def test_non_square_grid_is_not_read_transposed():
    # On a 3x5 grid, a filter that is not symmetric under transposition tells the two readings apart.
    model = timm.create_model("vit_tiny_patch16_224", **SMALL, img_size=(48, 80)).eval()
    zoo.replace_attention(model, "fno", modes=2)
    calls = captured_mixer_calls(model)
    model(torch.randn(1, 3, 48, 80))
    mixer, tokens, out = calls[0]
    patches = tokens[:, 1:]
    right = mixer.mix_grid(patches.reshape(1, 3, 5, 32)).reshape(1, 15, 32)
    wrong = mixer.mix_grid(patches.reshape(1, 5, 3, 32)).reshape(1, 15, 32)
    torch.testing.assert_close(out[:, 1:], right)
    assert (right - wrong).abs().max() > 1e-4


@pytest.mark.parametrize(
    "mixer, kwargs, cls", [("afno", {"num_blocks": 4}, AFNOMixer), ("global_filter", {}, GlobalFilterMixer)]
)
def test_other_mixers_and_defaults_from_the_model(mixer, kwargs, cls):
    model = timm.create_model("vit_tiny_patch16_224", **SMALL, img_size=(32, 48)).eval()
    zoo.replace_attention(model, mixer, **kwargs)
    attn = model.blocks[0].attn
    assert isinstance(attn, cls) and attn.dim == 32 and attn.num_prefix_tokens == 1
    if mixer == "global_filter":
        assert attn.filter_size == (2, 3)
    assert model(torch.randn(1, 3, 32, 48)).shape == (1, 5)


def test_swapped_model_survives_deepcopy():
    model = timm.create_model("vit_tiny_patch16_224", **SMALL, img_size=32, dynamic_img_size=True).eval()
    zoo.replace_attention(model, "fno", modes=2)
    clone = copy.deepcopy(model)
    x = torch.randn(1, 3, 48, 32)
    torch.testing.assert_close(clone(x), model(x))
    assert clone.blocks[0].attn.grid_size == (3, 2)


def test_causal_request_through_the_model_raises():
    model = timm.create_model("vit_tiny_patch16_224", **SMALL, img_size=32)
    zoo.replace_attention(model, "fnet")
    with pytest.raises(ValueError, match="is_causal=True"):
        model(torch.randn(1, 3, 32, 32), is_causal=True)


@pytest.mark.parametrize(
    "name, options, match",
    [
        (
            "vit_dwee_patch16_reg1_gap_256",
            dict(img_size=32),
            r"blocks\.0\.attn \(timm\.layers\.diff_attention\.DiffAttention\)",
        ),
        (
            "swin_tiny_patch4_window7_224",
            dict(img_size=32, embed_dim=32, depths=(1, 1), num_heads=(2, 2), window_size=4),
            r"layers\.0\.blocks\.0\.attn \(timm\.models\.swin_transformer\.WindowAttention\) \(and 1 more\)",
        ),
        ("levit_128s", dict(img_size=64), r"stages\.0\.blocks\.0\.attn \(timm\.models\.levit\.Attention\)"),
        ("resnet10t", {}, "holds no attention module to replace"),
        ("vit_tiny_patch16_224", dict(img_size=32, patch_drop_rate=0.5), "patch_drop"),
    ],
)
def test_models_it_cannot_handle_raise_naming_the_module(name, options, match):
    kwargs = dict(SMALL) if name.startswith("vit") else {"pretrained": False}
    model = timm.create_model(name, **kwargs, **options)
    with pytest.raises(ValueError, match=match):
        zoo.replace_attention(model, "fno")


def test_second_replacement_is_refused():
    model = timm.create_model("vit_tiny_patch16_224", **SMALL, img_size=32)
    zoo.replace_attention(model, "fno")
    with pytest.raises(ValueError, match="already replaced"):
        zoo.replace_attention(model, "afno")


def oriented_gratings(n, generator):
    """32x32 images of sinusoidal gratings; the class is the orientation (0, 45, 90, 135 degrees)."""
    labels = torch.randint(0, 4, (n,), generator=generator)
    angle = labels * math.pi / 4 + 0.15 * torch.randn(n, generator=generator)
    frequency = 2 + 2 * torch.rand(n, generator=generator)
    phase = 2 * math.pi * torch.rand(n, generator=generator)
    y, x = torch.meshgrid(torch.arange(32) / 32, torch.arange(32) / 32, indexing="ij")
    along = torch.cos(angle)[:, None, None] * x + torch.sin(angle)[:, None, None] * y
    images = torch.cos(2 * math.pi * frequency[:, None, None] * along + phase[:, None, None])
    images = images + 0.3 * torch.randn(images.shape, generator=generator)
    return images[:, None].expand(-1, 3, -1, -1), labels


def test_swapped_vit_trains_on_a_small_image_task():
    generator = torch.Generator().manual_seed(0)
    train_x, train_y = oriented_gratings(512, generator)
    test_x, test_y = oriented_gratings(256, generator)
    torch.manual_seed(0)
    model = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=4, embed_dim=32, depth=2,
        num_heads=2, num_classes=4,
    )
    zoo.replace_attention(model, "fno", modes=4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    with torch.no_grad():
        initial = loss_fn(model(train_x), train_y).item()
    for epoch in range(4):
        for batch in torch.randperm(512, generator=generator).split(32):
            loss = loss_fn(model(train_x[batch]), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        final = loss_fn(model(train_x), train_y).item()
        accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()
    assert final < 0.3 * initial
    assert accuracy > 0.85


@pytest.mark.parametrize("name", ["zoo_fno_vit_tiny_patch16_224", "zoo_afno_vit_tiny_patch16_224",
                                  "zoo_global_filter_vit_tiny_patch16_224", "zoo_fnet_vit_tiny_patch16_224"])
def test_registered_timm_variants(name):
    assert name in timm.list_models("zoo_*")
    model = timm.create_model(name, pretrained=False, depth=1, num_classes=7).eval()
    assert not any(type(m) is Attention for m in model.modules())
    assert model.num_prefix_tokens == 0
    cfg = model.pretrained_cfg
    assert cfg["architecture"] == name and cfg["input_size"] == (3, 224, 224) and not cfg["fixed_input_size"]
    assert timm.data.resolve_data_config({}, model=model)["input_size"] == (3, 224, 224)
    assert model(torch.randn(1, 3, 224, 224)).shape == (1, 7)
    assert model(torch.randn(1, 3, 160, 256)).shape == (1, 7)


def test_variant_refuses_pretrained_weights_that_do_not_exist():
    match = "no pretrained weights are published for zoo_afno_vit_tiny_patch16_224"
    with pytest.raises(ValueError, match=match):
        timm.create_model("zoo_afno_vit_tiny_patch16_224", pretrained=True)


def test_variant_loads_named_weights_into_its_mixers(tmp_path):
    from safetensors.torch import save_file

    options = dict(img_size=32, patch_size=8, depth=1, num_classes=3)
    torch.manual_seed(0)
    trained = timm.create_model("zoo_global_filter_vit_tiny_patch16_224", **options).eval()
    path = tmp_path / "weights.safetensors"
    save_file(trained.state_dict(), str(path))
    torch.manual_seed(1)
    overlay = dict(file=str(path), num_classes=3)  # the head matches: timm loads it too
    loaded = timm.create_model(
        "zoo_global_filter_vit_tiny_patch16_224", pretrained=True, pretrained_cfg_overlay=overlay, **options
    ).eval()
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(loaded(x), trained(x), rtol=0, atol=0)


# -- every family the swap handles, on tiny configs -------------------------------------------------

TINY = dict(pretrained=False, depth=2, embed_dim=32, num_heads=2, num_classes=5)
FAMILIES = {
    # family: (timm name, options, image, patch grid, dropped position term per block, removed modules)
    "deit3": ("deit3_small_patch16_224", dict(img_size=(48, 80)), (48, 80), (3, 5), None, []),
    "flexivit": ("flexivit_small", dict(img_size=(48, 80), patch_size=16), (48, 80), (3, 5), None, []),
    "eva02": ("eva02_tiny_patch14_224", dict(img_size=(42, 70)), (42, 70), (3, 5), "rotary position embedding (rope)", ["rope"]),
    "rope_vit": ("vit_small_patch16_rope_224", dict(img_size=(48, 80)), (48, 80), (3, 5), "rotary position embedding (rope)", ["rope"]),
    "beit": ("beit_base_patch16_224", dict(img_size=(48, 80)), (48, 80), (3, 5), "relative position bias table", []),
    "beit_shared_bias": (
        "beit_base_patch16_224", dict(img_size=(48, 80), use_shared_rel_pos_bias=True, use_rel_pos_bias=False),
        (48, 80), (3, 5), "the model's shared relative position bias", ["rel_pos_bias"],
    ),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_is_swapped_and_its_dropped_terms_reported(family):
    name, options, image, grid, dropped, removed = FAMILIES[family]
    torch.manual_seed(0)
    model = timm.create_model(name, **TINY, **options)
    zoo.replace_attention(model, "fno")
    swap = model.attention_swap
    assert swap.replaced == ["blocks.0.attn", "blocks.1.attn"] and swap.removed == removed
    assert not any(type(m) in zoo.models.timm_swap.REPLACEABLE for m in model.modules())
    if dropped is None:
        assert swap.dropped == {} and all(isinstance(b.attn, FNOMixer) for b in model.blocks)
    else:
        assert all(text.startswith(dropped) for text in swap.dropped.values()) and len(swap.dropped) == 2
        assert all(isinstance(b.attn.mixer, FNOMixer) for b in model.blocks)
    calls = captured_mixer_calls(model)
    out = model(torch.randn(2, 3, *image))
    out.mean().backward()
    # Nothing is left that only attention used: every parameter takes part in the forward.
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    assert out.shape == (2, 5) and len(calls) == 2
    n_prefix = model.num_prefix_tokens
    for mixer, tokens, mixed in calls:
        assert mixer.grid_size == grid
        expected = mixer.mix_grid(tokens[:, n_prefix:].reshape(2, *grid, 32)).reshape(2, -1, 32)
        torch.testing.assert_close(mixed[:, n_prefix:], expected)


# -- defaults from the attention, clamped modes, MAP heads, pretrained_cfg ------------------------


def parameters(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["vit_tiny_patch16_224", "vit_small_patch16_224"])
@pytest.mark.parametrize("mixer", ["fno", "afno", "global_filter", "fnet"])
def test_default_swap_keeps_the_parameter_count_within_one_and_a_half_times(name, mixer):
    original = parameters(timm.create_model(name, pretrained=False))
    swapped = zoo.timm.create_model(name, mixer=mixer)
    assert parameters(swapped) <= 1.5 * original
    if mixer == "fno":  # groups from the heads and the budget; modes a quarter of the 14x14 grid
        kwargs = swapped.attention_swap.mixer_kwargs
        assert kwargs["modes"] == (4, 4) and len(swapped.blocks[0].attn.spectral) == kwargs["groups"]
        assert kwargs["groups"] >= {"vit_tiny_patch16_224": 3, "vit_small_patch16_224": 6}[name]
    if mixer == "afno":
        assert swapped.blocks[0].attn.num_blocks == timm.create_model(name).blocks[0].attn.num_heads


def test_modes_beyond_the_grid_are_clamped_and_allocate_nothing():
    model = zoo.timm.create_model("vit_tiny_patch16_224", mixer="fno", mixer_kwargs=dict(modes=1000, groups=3))
    # A 14x14 grid holds frequencies -7..6 on the first axis and 8 rfft columns on the last.
    assert model.attention_swap.mixer_kwargs["modes"] == (7, 8)
    assert model.blocks[0].attn.spectral[0].weight.shape == (14, 8, 64, 64, 2)
    unclamped = FNOMixer(192, modes=(7, 8), groups=3, grid_size=(14, 14), num_prefix_tokens=1)
    tokens = torch.randn(1, 197, 192)
    unclamped.load_state_dict(model.blocks[0].attn.state_dict())
    torch.testing.assert_close(model.blocks[0].attn(tokens), unclamped(tokens))


def test_map_head_is_reported_kept_or_replaced_by_average_pooling():
    options = dict(**TINY, img_size=32, global_pool="map")
    with pytest.warns(UserWarning, match=r"attn_pool \(MAP head, attention pooling\) is left as attention"):
        warned = zoo.replace_attention(timm.create_model("vit_tiny_patch16_224", **options), "fno")
    assert warned.attention_swap.kept == ["attn_pool"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = zoo.replace_attention(timm.create_model("vit_tiny_patch16_224", **options), "fno", attention_pool="keep")
        averaged = zoo.replace_attention(timm.create_model("vit_tiny_patch16_224", **options), "fno", attention_pool="avg")
    assert kept.attn_pool is not None and kept.attention_swap.kept == ["attn_pool"]
    assert averaged.attn_pool is None and averaged.attention_swap.removed == ["attn_pool"]
    tokens = averaged.forward_features(torch.randn(2, 3, 32, 32))
    pooled = averaged.forward_head(tokens, pre_logits=True)
    # With global_pool='map' timm put the final norm before pooling, so the MAP head's replacement
    # is the mean of the normalised patch tokens.
    torch.testing.assert_close(pooled, tokens[:, averaged.num_prefix_tokens:].mean(1))
    with pytest.raises(ValueError, match="attention_pool must be one of"):
        zoo.replace_attention(timm.create_model("vit_tiny_patch16_224", **options), "fno", attention_pool="max")


def test_pretrained_cfg_no_longer_names_attention_weights():
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    assert model.pretrained_cfg["hf_hub_id"]  # it named ImageNet weights of attention
    zoo.replace_attention(model, "afno")
    cfg = model.pretrained_cfg
    assert not any(cfg.get(source) for source in ("url", "hf_hub_id", "file", "state_dict"))
    assert cfg["mixer"] == {"name": "afno", "num_blocks": 3} and model.default_cfg == cfg
    assert cfg["architecture"] == "vit_tiny_patch16_224" and cfg["input_size"] == (3, 224, 224)


def test_no_weight_decay_adds_the_mixer_biases_to_the_model_names():
    model = timm.create_model("vit_tiny_patch16_224", **TINY, img_size=32)
    zoo.replace_attention(model, "afno", bias=True, num_blocks=2)
    assert model.no_weight_decay() == {
        "pos_embed", "cls_token", "reg_token", "dist_token",
        "blocks.0.attn.b1", "blocks.0.attn.b2", "blocks.1.attn.b1", "blocks.1.attn.b2",
    }


# -- zoo.timm.create_model: the mixer keyword --------------------------------------------------------


def test_create_model_with_mixer_loads_an_original_checkpoint_except_its_attention(tmp_path):
    from safetensors.torch import save_file

    options = dict(img_size=32, depth=2, num_classes=3)
    original = timm.create_model("vit_tiny_patch16_224", **options)
    path = tmp_path / "vit.safetensors"
    save_file(original.state_dict(), str(path))
    torch.manual_seed(5)
    initialised = zoo.timm.create_model("vit_tiny_patch16_224", mixer="fno", **options)
    torch.manual_seed(5)
    model = zoo.timm.create_model(
        "vit_tiny_patch16_224", pretrained=True, mixer="fno", pretrained_cfg_overlay=dict(file=str(path), num_classes=3), **options
    )
    assert model.pretrained_cfg["loaded_from"] == {"weights": str(path), "mixers": "initialised (the weights hold attention)"}
    state, source, fresh = model.state_dict(), original.state_dict(), initialised.state_dict()
    for key, value in state.items():
        reference = fresh[key] if key.startswith(tuple(model.attention_swap.replaced)) else source[key]
        assert torch.equal(value, reference), key


def test_create_model_with_mixer_reloads_a_swapped_checkpoint(tmp_path):
    from safetensors.torch import save_file

    options = dict(img_size=32, depth=2, num_classes=3, mixer="afno")
    torch.manual_seed(0)
    trained = zoo.timm.create_model("vit_tiny_patch16_224", **options).eval()
    path = tmp_path / "swapped.safetensors"
    save_file(trained.state_dict(), str(path))
    torch.manual_seed(1)
    loaded = zoo.timm.create_model(
        "vit_tiny_patch16_224", pretrained=True, pretrained_cfg_overlay=dict(file=str(path), num_classes=3), **options
    ).eval()
    assert loaded.pretrained_cfg["loaded_from"]["mixers"] == "loaded"
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(loaded(x), trained(x), rtol=0, atol=0)
    # A checkpoint of another shape fails timm's strict loading rather than loading in part.
    broken = {k: v for k, v in trained.state_dict().items() if k != "blocks.1.mlp.fc1.weight"}
    save_file(broken, str(path))
    with pytest.raises(RuntimeError, match="blocks.1.mlp.fc1.weight"):
        zoo.timm.create_model("vit_tiny_patch16_224", pretrained=True, pretrained_cfg_overlay=dict(file=str(path), num_classes=3), **options)


def test_create_model_with_mixer_features_only():
    torch.manual_seed(0)
    features = zoo.timm.create_model("vit_small_patch16_224", mixer="fno", features_only=True, out_indices=(1, 3), depth=4, img_size=64)
    torch.manual_seed(0)
    full = zoo.timm.create_model("vit_small_patch16_224", mixer="fno", depth=4, img_size=64).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        maps = features.eval()(x)
        expected = full.forward_intermediates(x, indices=[1, 3], intermediates_only=True)
    assert features.feature_info.reduction() == [16, 16] and [m.shape for m in maps] == [(1, 384, 4, 4)] * 2
    for got, want in zip(maps, expected):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_create_model_without_mixer_is_timm_create_model():
    torch.manual_seed(0)
    ours = zoo.timm.create_model("vit_tiny_patch16_224", img_size=32, depth=1)
    torch.manual_seed(0)
    theirs = timm.create_model("vit_tiny_patch16_224", img_size=32, depth=1)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
