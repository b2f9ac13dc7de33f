"""MultiscaleOperator and spectral_resample: exact Fourier resampling, the coarse path, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from zoo.hub.checkpoint import load_checkpoint, save_pretrained
from zoo.models import MultiscaleOperator, create_model, spectral_resample

HISTORY = 3


def trig_field(n: int, m: int | None = None) -> torch.Tensor:
    """``cos(2 pi (3x + 5y)) + 0.5 sin(2 pi (7x - 2y)) + 0.25`` sampled at ``x_i = i / n``, ``y_j = j / m``: ``(n, m)``."""
    x = torch.arange(n, dtype=torch.float64)[:, None] / n
    y = torch.arange(m or n, dtype=torch.float64)[None, :] / (m or n)
    return torch.cos(2 * math.pi * (3 * x + 5 * y)) + 0.5 * torch.sin(2 * math.pi * (7 * x - 2 * y)) + 0.25


def fno_spec(in_channels: int, modes: int = 4, width: int = 8) -> dict:
    return {"architecture": "FNO", "config": {"in_channels": in_channels, "out_channels": 1, "modes": [modes, modes], "width": width, "n_layers": 2}}


def coarse_spec() -> dict:
    return {"architecture": "AutoregressiveOperator", "config": {"backbone": fno_spec(HISTORY), "history": HISTORY, "field_std": [2.0]}}


def correction_spec(in_channels: int = HISTORY + 1) -> dict:
    return {"architecture": "FieldOperator", "config": {"backbone": fno_spec(in_channels, modes=6), "output_std": [0.5]}}


def build(spec: dict) -> nn.Module:
    return create_model(spec["architecture"], **spec["config"])


def multiscale(coarse_grid: int = 16) -> MultiscaleOperator:
    torch.manual_seed(0)
    return MultiscaleOperator(coarse_spec(), correction_spec(), coarse_grid=coarse_grid).double()


@pytest.mark.parametrize("n, m", [(16, 16), (24, 40), (17, 33)])
def test_resample_reproduces_a_band_limited_field_on_any_grid(n, m):
    resampled = spectral_resample(trig_field(32), (n, m))
    torch.testing.assert_close(resampled, trig_field(n, m), atol=1e-12, rtol=0)


def test_resample_truncates_modes_the_coarse_grid_cannot_hold():
    x = torch.arange(64, dtype=torch.float64)[:, None] / 64
    fine_mode = torch.cos(2 * math.pi * 12 * x).expand(64, 64)
    coarse = spectral_resample(trig_field(64) + fine_mode, 16)
    torch.testing.assert_close(coarse, trig_field(16), atol=1e-12, rtol=0)


def test_resample_drops_the_nyquist_mode_of_an_even_grid():
    x = torch.arange(16, dtype=torch.float64)[:, None] / 16
    nyquist = torch.cos(2 * math.pi * 8 * x).expand(16, 16)
    torch.testing.assert_close(spectral_resample(nyquist, 32), torch.zeros(32, 32, dtype=torch.float64), atol=1e-12, rtol=0)


def test_resample_down_after_up_is_the_identity():
    u = torch.randn(2, 3, 15, 15, dtype=torch.float64)  # odd grid: every mode is below its Nyquist
    torch.testing.assert_close(spectral_resample(spectral_resample(u, 48), 15), u, atol=1e-12, rtol=0)


def test_resample_keeps_an_unchanged_grid_as_is():
    u = torch.randn(2, 16, 16)
    assert spectral_resample(u, 16) is u


@pytest.mark.parametrize(
    "u, size, message",
    [
        (torch.zeros(8), 4, r"real tensor \(\.\.\., H, W\), got shape \(8,\)"),
        (torch.zeros(8, 8, dtype=torch.complex64), 4, "real tensor"),
        ([[0.0]], 4, "got list"),
        (torch.zeros(8, 8), (4, 0), r"target grid must be positive, got \(4, 0\)"),
    ],
)
def test_resample_rejects_bad_input(u, size, message):
    with pytest.raises(ValueError, match=message):
        spectral_resample(u, size)


def silence(correction: nn.Module) -> None:
    """Zero the correction's last layer: its output is then exactly 0."""
    last = correction.backbone.projection.fc2
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)


@pytest.mark.parametrize("grid", [(32, 32), (24, 40)])
def test_without_correction_the_fine_step_is_the_coarse_step_interpolated(grid):
    model = multiscale()
    silence(model.correction)
    u = torch.randn(2, HISTORY, *grid, dtype=torch.float64)
    expected = spectral_resample(model.coarse(spectral_resample(u, 16)), grid)
    torch.testing.assert_close(model(u), expected, atol=1e-12, rtol=0)


def test_on_the_coarse_grid_the_coarse_operator_sees_the_input_unchanged():
    model = multiscale()
    u = torch.randn(2, HISTORY, 16, 16, dtype=torch.float64)
    coarse = model.coarse(u)
    torch.testing.assert_close(model(u), coarse + model.correction(torch.cat([u, coarse], 1)))


def test_rollout_feeds_each_step_back():
    model = multiscale()
    u = torch.randn(1, HISTORY, 32, 32, dtype=torch.float64)
    first = model(u)
    second = model(torch.cat([u[:, 1:], first], 1))
    rolled = model.rollout(u, 2)
    assert rolled.shape == (1, 2, 32, 32)
    torch.testing.assert_close(rolled, torch.cat([first, second], 1))


def test_config_rebuilds_the_model_and_from_parts_copies_weights(tmp_path):
    torch.manual_seed(1)
    coarse, correction = build(coarse_spec()), build(correction_spec())
    model = MultiscaleOperator.from_parts(coarse, correction, coarse_grid=16)
    u = torch.randn(2, HISTORY, 32, 32)
    torch.testing.assert_close(model.coarse(u), coarse(u))
    torch.testing.assert_close(model.correction(u[:, :1].repeat(1, HISTORY + 1, 1, 1)), correction(u[:, :1].repeat(1, HISTORY + 1, 1, 1)))
    save_pretrained(model, tmp_path / "multiscale")
    loaded = load_checkpoint(tmp_path / "multiscale")
    assert isinstance(loaded, MultiscaleOperator) and loaded.config == model.config
    torch.testing.assert_close(loaded(u), model(u))


def test_rejects_a_correction_with_the_wrong_channels():
    with pytest.raises(ValueError, match=r"correction maps 3 -> 1 channels.*must map 4 -> 1"):
        MultiscaleOperator(coarse_spec(), correction_spec(in_channels=HISTORY))


def test_rejects_a_coarse_operator_that_is_not_a_time_stepper():
    with pytest.raises(ValueError, match="coarse operator must be a time stepper.*FNO is not"):
        MultiscaleOperator(fno_spec(HISTORY), correction_spec())


@pytest.mark.parametrize("coarse_grid", [1, 16.0, "16"])
def test_rejects_a_bad_coarse_grid(coarse_grid):
    with pytest.raises(ValueError, match="coarse_grid must be an integer >= 2"):
        MultiscaleOperator(coarse_spec(), correction_spec(), coarse_grid=coarse_grid)


def test_rejects_an_input_grid_coarser_than_the_coarse_grid():
    with pytest.raises(ValueError, match=r"input grid \(8, 32\) is coarser than its coarse_grid 16"):
        multiscale()(torch.randn(1, HISTORY, 8, 32, dtype=torch.float64))


def test_rejects_an_input_with_the_wrong_history():
    with pytest.raises(ValueError, match="has 2 channels, expected 3"):
        multiscale()(torch.randn(1, 2, 32, 32, dtype=torch.float64))


def test_from_parts_needs_registered_modules():
    with pytest.raises(ValueError, match="correction part must be a registered zoo model.*Conv2d"):
        MultiscaleOperator.from_parts(build(coarse_spec()), nn.Conv2d(4, 1, 1))

