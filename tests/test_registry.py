"""Every registered architecture, built by name from a small config: forward, backward, config and
save/load round-trips, and a change of grid (in the manner of timm's tests/test_models.py)."""

import pytest
import torch

import zoo
from train_problems import one_thread

HISTORY, GRID, OTHER_GRID = 2, 16, 24


def fno(in_channels, out_channels):
    return {"architecture": "FNO", "config": {"in_channels": in_channels, "out_channels": out_channels, "modes": [4, 4], "width": 8, "n_layers": 2, "projection_channels": 16}}


def stepper():
    return {"architecture": "AutoregressiveOperator", "config": {"backbone": fno(HISTORY, 1), "history": HISTORY}}


# The smallest sensible config of each architecture (the defaults of the rest), and its input channels.
SMALL = {
    "FNO": (fno(3, 2)["config"], 3),
    # Patches embedded on a fixed grid (the published NS hybrid's option): any grid resamples to it.
    "FourierTransformer": ({"in_channels": 3, "out_channels": 2, "embed_dim": 16, "depth": 1, "mixer_kwargs": {"num_blocks": 2}, "embed_grid": [GRID, GRID]}, 3),
    "UNet2d": ({"in_channels": 3, "out_channels": 2, "width": 8, "depth": 2}, 3),
    "FieldOperator": ({"backbone": fno(3, 2), "input_mean": [0.5] * 3, "output_std": [2.0] * 2}, 3),
    "ResidualWidth": ({"backbone": fno(3, 2), "output_mean": [-1.0] * 2}, 3),
    # Named fields in, their next frame out: its inputs are built by `call_inputs`.
    "MultiphysicsOperator": ({"fields": ["vorticity", "scalar"], "context": HISTORY, "width": 8, "depth": 1, "modes": 4, "groups": 2}, 2),
    # The same operator bound to its data's fields: a time stepper of (B, HISTORY * 2, H, W).
    "MultiphysicsStepper": ({"data_fields": ["scalar", "vorticity"], "fields": ["vorticity", "scalar"], "context": HISTORY, "width": 8, "depth": 1, "modes": 4, "groups": 2}, 2 * HISTORY),
    "AutoregressiveOperator": (stepper()["config"] | {"field_mean": [0.1], "field_std": [1.5]}, HISTORY),
    "SpaceTimeFNO": ({"frames": 5, "window": 0.5, "modes": [4, 4], "width": 8, "n_layers": 2, "projection_channels": 16, "scale": 2.0}, 1),
    "MultiscaleOperator": ({"coarse": stepper(), "correction": {"architecture": "FieldOperator", "config": {"backbone": fno(HISTORY + 1, 1)}}, "coarse_grid": 8}, HISTORY),
}


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def build(name):
    torch.manual_seed(0)
    config, in_channels = SMALL[name]
    return zoo.create_model(name, **config).eval(), in_channels


def call_inputs(name, in_channels, batch, height, width):
    """The positional arguments of a forward pass and the output shape they give."""
    if name == "MultiphysicsOperator":
        fields = SMALL[name][0]["fields"]
        return (torch.randn(batch, HISTORY, len(fields), height, width), fields), (batch, len(fields), height, width)
    return (torch.randn(batch, in_channels, height, width),), None


def test_every_registered_architecture_has_a_small_config():
    from zoo.models import get_model_class

    # Tests elsewhere register throwaway classes of their own; the library's live under zoo.
    library = [name for name in zoo.list_models() if get_model_class(name).__module__.startswith("zoo.")]
    assert library and sorted(SMALL) == library


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_and_backward(name):
    model, in_channels = build(name)
    inputs, shape = call_inputs(name, in_channels, 2, GRID, GRID)
    outputs = model.train()(*inputs)
    assert outputs.shape == (shape or (2, model.out_channels, GRID, GRID)) and torch.isfinite(outputs).all()
    outputs.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


@pytest.mark.parametrize("name", sorted(SMALL))
def test_config_rebuilds_the_same_architecture(name):
    model, in_channels = build(name)
    rebuilt = zoo.create_model(name, **model.config).eval()
    assert rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    inputs, _ = call_inputs(name, in_channels, 1, GRID, GRID)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(*inputs), model(*inputs), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_save_and_load_round_trip_bit_for_bit(name, tmp_path):
    model, in_channels = build(name)
    zoo.save_pretrained(model, tmp_path / name)
    loaded = zoo.from_pretrained(tmp_path / name)
    assert type(loaded) is type(model) and loaded.config == model.config
    for (key, original), (_, restored) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(original, restored), key
    inputs, _ = call_inputs(name, in_channels, 1, GRID, GRID)
    with torch.no_grad():
        torch.testing.assert_close(loaded(*inputs), model(*inputs), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_runs_on_another_grid(name):
    model, in_channels = build(name)
    inputs, shape = call_inputs(name, in_channels, 1, OTHER_GRID, 2 * OTHER_GRID)
    with torch.no_grad():
        outputs = model(*inputs)
    assert outputs.shape == (shape or (1, model.out_channels, OTHER_GRID, 2 * OTHER_GRID)) and torch.isfinite(outputs).all()


@pytest.mark.parametrize("name", ["AutoregressiveOperator", "MultiscaleOperator"])
def test_time_steppers_roll_out_through_the_one_loop(name):
    from zoo.models.time_stepper import is_time_stepper, unroll

    model, in_channels = build(name)
    history = torch.randn(1, in_channels, GRID, GRID)
    with torch.no_grad():
        rolled = model.rollout(history, 3)
        assert is_time_stepper(model) and rolled.shape == (1, 3 * model.channels, GRID, GRID)
        torch.testing.assert_close(rolled, unroll(model, history, 3, channels=model.channels), rtol=0, atol=0)
