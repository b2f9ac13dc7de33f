"""MultiphysicsOperator: named fields in any subset and order, any grid, checkpoints, new fields."""

import math

import pytest
import torch

from zoo.hub import load_checkpoint, save_pretrained
from zoo.models import FourierTransformer, create_model
from zoo.models.multiphysics import PADDING, MultiphysicsOperator, with_fields
from zoo.models.multiscale import spectral_resample

FIELDS = ["vorticity", "scalar", "height", "velocity_x"]


def tiny(**kwargs):
    torch.manual_seed(0)
    options = dict(field_mean=[0.0, 1.0, 2.0, -1.0], field_std=[1.0, 0.5, 2.0, 3.0], context=3, width=16, depth=2, modes=5, groups=2)
    options.update(kwargs)
    return MultiphysicsOperator(FIELDS, **options)


def band_limited(batch, frames, channels, n, *, max_mode=3, seed=0):
    """Random fields with Fourier modes |k| <= max_mode, sampled at x_i = i / n: (B, T, C, n, n)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(n, dtype=torch.float64) / n
    X, Y = torch.meshgrid(x, x, indexing="ij")
    out = torch.zeros(batch, frames, channels, n, n, dtype=torch.float64)
    for kx in range(-max_mode, max_mode + 1):
        for ky in range(0, max_mode + 1):
            a, b = torch.randn(2, batch, frames, channels, 1, 1, generator=g, dtype=torch.float64)
            phase = 2 * math.pi * (kx * X + ky * Y)
            out += a * torch.cos(phase) + b * torch.sin(phase)
    return out.float()


def test_maps_context_frames_to_the_next_frame_for_any_grid():
    model = tiny()
    for spatial in [(16, 16), (12, 20)]:
        y = model(torch.randn(2, 3, 2, *spatial), ["vorticity", "scalar"])
        assert y.shape == (2, 2, *spatial) and torch.isfinite(y).all()


def test_any_subset_of_fields_in_any_order_permutes_the_outputs():
    model = tiny()
    x = torch.randn(2, 3, 3, 16, 16)
    y = model(x, ["height", "vorticity", "velocity_x"])
    order = [2, 0, 1]
    y_permuted = model(x[:, :, order], ["velocity_x", "height", "vorticity"])
    torch.testing.assert_close(y_permuted, y[:, order], rtol=1e-5, atol=1e-5)
    # ids and names are the same thing
    torch.testing.assert_close(model(x, [2, 0, 3]), y)


def test_padded_channels_change_nothing_and_are_predicted_as_zero():
    model = tiny()
    x = torch.randn(2, 3, 2, 16, 16)
    y = model(x, ["scalar", "height"])
    padded = torch.cat([x, torch.randn(2, 3, 1, 16, 16)], dim=2)
    ids = torch.tensor([[1, 2, PADDING], [1, 2, PADDING]])
    y_padded = model(padded, ids)
    torch.testing.assert_close(y_padded[:, :2], y, rtol=1e-5, atol=1e-5)
    assert (y_padded[:, 2] == 0).all()


def test_mixed_batch_of_systems_equals_separate_calls():
    model = tiny()
    a, b = torch.randn(1, 3, 2, 16, 16), torch.randn(1, 3, 1, 16, 16)
    batch = torch.cat([a, torch.cat([b, torch.zeros_like(b)], dim=2)])
    ids = torch.tensor([[0, 1], [3, PADDING]])
    y = model(batch, ids)
    torch.testing.assert_close(y[:1], model(a, ["vorticity", "scalar"]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(y[1:, :1], model(b, ["velocity_x"]), rtol=1e-5, atol=1e-5)


def test_resolution_invariance_on_band_limited_input_with_random_weights():
    # The same smooth field sampled on 32, 64 and 128 grids: the predicted increments agree after
    # spectral resampling to 32x32, up to the aliasing of the pointwise nonlinearities (~1e-3).
    model = tiny(modes=8)
    increments = {}
    for n in (32, 64, 128):
        x = band_limited(2, 3, 2, n)
        with torch.no_grad():
            increments[n] = model(x, ["vorticity", "height"]) - x[:, -1]
    reference = increments[32]
    assert reference.norm() > 1e-2 * band_limited(2, 3, 2, 32).norm()  # the model does change the field
    for n in (64, 128):
        difference = spectral_resample(increments[n], 32) - reference
        assert difference.norm() / reference.norm() < 1e-2


def test_the_invariance_check_fails_a_patch_embedding():
    # Control for the test above: the patch-2 FourierTransformer (issue #18) reads pixels, so the
    # same check with the same tolerance fails for it.
    torch.manual_seed(0)
    patched = FourierTransformer(6, 2, patch_size=(2, 2), embed_dim=16, depth=2, mixer="fno", mixer_kwargs={"modes": 5})
    with torch.no_grad():
        outputs = {n: patched(band_limited(2, 3, 2, n).flatten(1, 2)) for n in (32, 64)}
    difference = spectral_resample(outputs[64], 32) - outputs[32]
    assert difference.norm() / outputs[32].norm() > 1e-2


def test_rollout_feeds_predictions_back():
    model = tiny()
    x = torch.randn(2, 3, 2, 16, 16)
    fields = ["vorticity", "scalar"]
    out = model.rollout(x, 3, fields=fields)
    assert out.shape == (2, 3, 2, 16, 16)
    first = model(x, fields)
    second = model(torch.cat([x[:, 1:], first[:, None]], dim=1), fields)
    torch.testing.assert_close(out[:, 0], first)
    torch.testing.assert_close(out[:, 1], second)


def test_normalisation_statistics_are_undone():
    # Two models whose statistics differ see the same normalised problem: scaling a field and its
    # statistics together scales the output (instance normalisation makes the statistics drop out
    # for the prediction; they still set how fields are brought to unit scale).
    a = tiny(field_mean=[0.0] * 4, field_std=[1.0] * 4)
    b = tiny(field_mean=[5.0] * 4, field_std=[10.0] * 4)
    x = torch.randn(2, 3, 1, 16, 16)
    torch.testing.assert_close(b(10 * x + 5, ["height"]), 10 * a(x, ["height"]) + 5, rtol=1e-4, atol=1e-4)


def test_a_persistence_model_returns_the_last_frame():
    model = tiny()
    with torch.no_grad():
        model.decoder_weight.zero_()
    x = torch.randn(2, 3, 2, 16, 16)
    torch.testing.assert_close(model(x, ["scalar", "vorticity"]), x[:, -1], rtol=1e-5, atol=1e-5)


def test_save_and_load_round_trip_through_the_hub(tmp_path):
    model = tiny().eval()
    save_pretrained(model, tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.fields == FIELDS and loaded.field_std.tolist() == [1.0, 0.5, 2.0, 3.0]
    x = torch.randn(1, 3, 2, 16, 16)
    torch.testing.assert_close(loaded(x, ["height", "scalar"]), model(x, ["height", "scalar"]))
    rebuilt = create_model("MultiphysicsOperator", **model.config)
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in model.parameters())


def test_with_fields_adds_fields_and_keeps_the_known_ones():
    model = tiny().eval()
    extended = with_fields(model, {"buoyancy": (0.0, 2.0), "tracer": (1.0, 1.0)}, like={"tracer": "scalar"}).eval()
    assert extended.fields == FIELDS + ["buoyancy", "tracer"]
    assert extended.field_std.tolist()[-2:] == [2.0, 1.0]
    x = torch.randn(2, 3, 2, 16, 16)
    torch.testing.assert_close(extended(x, ["vorticity", "height"]), model(x, ["vorticity", "height"]))
    # A new field starts as persistence (zero decoder), "like" copies a known field's embedding.
    out = extended(x, ["vorticity", "buoyancy"])
    torch.testing.assert_close(out[:, 1], x[:, -1, 1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(extended.encoder_weight[-1], model.encoder_weight[1])
    torch.testing.assert_close(extended.encoder_weight[-2], model.encoder_weight.mean(0))
    assert extended.config["fields"] == extended.fields
    with pytest.raises(ValueError, match="no new fields"):
        with_fields(model, {"height": (0.0, 1.0)})


@pytest.mark.parametrize(
    ("x", "fields", "message"),
    [
        (torch.randn(2, 3, 2, 16), ["vorticity", "scalar"], "batch, context, channels, H, W"),
        (torch.randn(2, 4, 2, 16, 16), ["vorticity", "scalar"], "context frames"),
        (torch.randn(2, 3, 2, 16, 16), ["vorticity"], "channels"),
        (torch.randn(2, 3, 1, 16, 16), ["pressure"], "unknown field 'pressure'.*with_fields"),
        (torch.randn(2, 3, 2, 16, 16), ["scalar", "scalar"], "same field twice"),
        (torch.randn(2, 3, 1, 16, 16), "vorticity", "sequence of field names"),
        (torch.full((1, 3, 1, 16, 16), float("nan")), ["vorticity"], "NaN"),
        (torch.randn(2, 3, 1, 16, 16), torch.tensor([[7], [0]]), "field ids must lie"),
    ],
)
def test_bad_input_gets_a_clear_error(x, fields, message):
    with pytest.raises((ValueError, TypeError), match=message):
        tiny()(x, fields)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="distinct"):
        MultiphysicsOperator(["a", "a"])
    with pytest.raises(ValueError, match="one value per field"):
        MultiphysicsOperator(["a", "b"], field_std=[1.0])
    with pytest.raises(ValueError, match="positive"):
        MultiphysicsOperator(["a"], field_std=[0.0])
