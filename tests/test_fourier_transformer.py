"""FourierTransformer: fields to fields at any grid divisible by the patch size, or at any grid with
``embed_grid``, where the output is the same function on every grid."""

import math

import json

import pytest
import torch

from zoo.layers import AFNOMixer, FNOMixer
from zoo.models import FourierTransformer, create_model

MIXERS = {
    "afno": {"num_blocks": 4},
    "fno": {"modes": 3, "groups": 2},
    "global_filter": {"filter_size": [4, 4]},
    "fnet": {},
}


def small(mixer="afno", **kwargs):
    torch.manual_seed(0)
    options = dict(patch_size=(2, 2), embed_dim=16, depth=2, mixer=mixer, mixer_kwargs=MIXERS[mixer])
    options["mlp_ratio"] = 2.0
    options.update(kwargs)
    return FourierTransformer(3, 2, **options)


@pytest.mark.parametrize("mixer", sorted(MIXERS))
@pytest.mark.parametrize("spatial", [(8, 8), (12, 20)])
def test_maps_fields_to_fields_at_any_divisible_grid(mixer, spatial):
    model = small(mixer)
    y = model(torch.randn(2, 3, *spatial))
    assert y.shape == (2, 2, *spatial) and torch.isfinite(y).all()


def test_one_dimensional_fields():
    model = FourierTransformer(
        1, 3, patch_size=(4,), embed_dim=8, depth=1, mixer="fno", mixer_kwargs={"modes": 4}
    )
    assert model.ndim == 1 and model.blocks[0].mixer.ndim == 1
    assert model(torch.randn(2, 1, 36)).shape == (2, 3, 36)


def test_mixer_is_chosen_by_name_with_its_arguments():
    model = small("afno", depth=3)
    assert len(model.blocks) == 3
    mixer = model.blocks[0].mixer
    assert isinstance(mixer, AFNOMixer) and mixer.num_blocks == 4
    assert isinstance(small("fno").blocks[1].mixer, FNOMixer)


def test_config_is_json_and_rebuilds_the_same_model():
    model = small("global_filter", grid_features=False)
    config = json.loads(json.dumps(model.config))
    assert config["mixer"] == "global_filter" and config["mixer_kwargs"] == {"filter_size": [4, 4]}
    rebuilt = create_model("FourierTransformer", **config)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 8, 12)
    torch.testing.assert_close(rebuilt(x), model(x))


@pytest.mark.parametrize("mixer", ["fno", "global_filter"])
def test_shift_by_whole_patches_commutes_without_grid_features(mixer):
    # Patch embedding, LayerNorm and MLPs act per patch; FNO and global filters are convolutions on
    # the patch grid: the model commutes with cyclic shifts by whole patches.
    model = small(mixer, grid_features=False).double()
    x = torch.randn(1, 3, 8, 12, dtype=torch.float64)
    shifted = model(x.roll((2, 4), dims=(2, 3)))
    torch.testing.assert_close(shifted, model(x).roll((2, 4), dims=(2, 3)))


def test_grid_features_give_position():
    model = small("fno", grid_features=True).double()
    x = torch.randn(1, 3, 8, 12, dtype=torch.float64)
    difference = model(x.roll(4, dims=3)) - model(x).roll(4, dims=3)
    assert difference.abs().max() > 1e-6


def test_gradcheck_float64():
    model = FourierTransformer(2, 1, patch_size=(2, 2), embed_dim=4, depth=1, mixer="afno",
                               mixer_kwargs={"num_blocks": 2}, mlp_ratio=1.0).double()
    x = torch.randn(1, 2, 4, 6, dtype=torch.float64, requires_grad=True)
    params = dict(model.named_parameters())

    def run(x, *values):
        return torch.func.functional_call(model, dict(zip(params, values)), (x,))

    assert torch.autograd.gradcheck(run, (x, *params.values()), fast_mode=True)


def band_limited_field(shape, grid, max_mode=3, seed=0):
    """``(B, C, H, W)`` samples at ``x_i = i / H``, ``y_j = j / W`` of a random trigonometric polynomial
    with modes ``|k_x|, |k_y| <= max_mode``, evaluated term by term (no FFT)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.arange(grid[0], dtype=torch.float64)[:, None] / grid[0]
    y = torch.arange(grid[1], dtype=torch.float64)[None, :] / grid[1]
    field = torch.zeros(*shape, *grid, dtype=torch.float64)
    for kx in range(-max_mode, max_mode + 1):
        for ky in range(0, max_mode + 1):
            a, b = torch.randn(2, *shape, 1, 1, generator=generator, dtype=torch.float64)
            phase = 2 * math.pi * (kx * x + ky * y)
            field += a * torch.cos(phase) + b * torch.sin(phase)
    return field


def trigonometric_interpolant(u, grid):
    """The trigonometric interpolant of ``u`` ``(..., h, w)`` (modes ``|k| < h / 2``, ``|k| < w / 2``)
    evaluated at the points of ``grid`` by direct sums over the modes (a reference for spectral_resample)."""
    h, w = u.shape[-2:]
    out = torch.zeros(*u.shape[:-2], *grid, dtype=torch.float64)
    xs, ys = (torch.arange(n, dtype=torch.float64) / n for n in grid)
    for kx in range(-((h - 1) // 2), (h - 1) // 2 + 1):
        for ky in range(-((w - 1) // 2), (w - 1) // 2 + 1):
            i, j = torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64)
            basis_in = torch.exp(-2j * math.pi * (kx * i[:, None] / h + ky * j[None, :] / w))
            coefficient = (u * basis_in).sum(dim=(-2, -1)) / (h * w)
            basis_out = torch.exp(2j * math.pi * (kx * xs[:, None] + ky * ys[None, :]))
            out += (coefficient[..., None, None] * basis_out).real
    return out


@pytest.mark.parametrize("fine", [(32, 32), (21, 30)])
def test_embed_grid_gives_the_same_function_on_every_grid(fine):
    # A band-limited input sampled on the embedding grid and on a finer one (divisible by the
    # patch size or not): with embed_grid the fine output is the coarse output's trigonometric
    # interpolant, to round-off.
    model = small("fno", embed_grid=(16, 16)).double().eval()
    with torch.no_grad():
        coarse = model(band_limited_field((1, 3), (16, 16)))
        finer = model(band_limited_field((1, 3), fine))
    torch.testing.assert_close(finer, trigonometric_interpolant(coarse, fine), rtol=0, atol=1e-9)


def test_patches_of_grid_points_are_not_resolution_consistent():
    # The cause embed_grid removes: the same weights embedding the fine grid's own 2x2 patches
    # (half the physical size) give a different function, far beyond round-off.
    model = small("fno").double().eval()
    with torch.no_grad():
        coarse = model(band_limited_field((1, 3), (16, 16)))
        finer = model(band_limited_field((1, 3), (32, 32)))
    difference = torch.linalg.vector_norm(finer - trigonometric_interpolant(coarse, (32, 32)))
    assert difference > 0.05 * torch.linalg.vector_norm(finer)


def test_embed_grid_changes_nothing_on_the_embedding_grid():
    plain, embedded = small("fno"), small("fno", embed_grid=(8, 12))
    embedded.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 8, 12)
    torch.testing.assert_close(embedded(x), plain(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    "x, error, match",
    [
        (torch.randn(1, 3, 8, 10), ValueError, r"grid \(8, 10\) is not divisible by the patch size \(4, 4\)"),
        (torch.randn(1, 2, 8, 8), ValueError, "2 channels, expected 3"),
        (torch.randn(3, 8, 8), ValueError, "spatial axes"),
        (torch.full((1, 3, 8, 8), float("nan")), ValueError, "NaN"),
    ],
)
def test_bad_inputs_raise_clear_errors(x, error, match):
    model = FourierTransformer(3, 1, patch_size=(4, 4), embed_dim=8, depth=1)
    with pytest.raises(error, match=match):
        model(x)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"patch_size": (2, 2, 2)}, "patch_size"),
        ({"mixer": "attention"}, "unknown mixer"),
        ({"activation": "swish"}, "unknown activation"),
        ({"mixer": "global_filter"}, "filter_size"),
        ({"patch_size": (4, 4), "embed_grid": (16, 18)}, "embed_grid"),
        ({"patch_size": (4,), "embed_grid": (16,)}, "embed_grid"),
    ],
)
def test_bad_arguments_raise_clear_errors(options, match):
    with pytest.raises(ValueError, match=match):
        FourierTransformer(3, 1, embed_dim=8, depth=1, **options)
