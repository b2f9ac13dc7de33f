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


@pytest.fixture(autouse=True)
def single_thread():
    # These models are tiny: on a shared 2-core machine a second thread mostly waits for the first.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
