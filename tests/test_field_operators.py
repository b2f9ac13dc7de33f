"""Operators in physical units: normalisation inside, rollout semantics, config round trip."""

import pytest
import torch

from zoo.models import AutoregressiveOperator, FieldOperator, create_model

FNO_2D = {"architecture": "FNO", "config": {"in_channels": 3, "out_channels": 1, "modes": [4, 4], "width": 8, "n_layers": 2}}


def test_field_operator_applies_statistics_around_the_backbone():
    torch.manual_seed(0)
    model = FieldOperator({"architecture": "FNO", "config": {"in_channels": 1, "out_channels": 1, "modes": [4, 4], "width": 8, "n_layers": 2}},
                          input_mean=[2.0], input_std=[4.0], output_mean=[-1.0], output_std=[0.5])
    a = torch.randn(2, 1, 16, 16)
    expected = model.backbone((a - 2.0) / 4.0) * 0.5 - 1.0
    torch.testing.assert_close(model(a), expected)


def test_config_round_trip_rebuilds_the_same_function():
    torch.manual_seed(0)
    model = AutoregressiveOperator(FNO_2D, history=3, channels=1, field_mean=[0.1], field_std=[2.0])
    clone = create_model("AutoregressiveOperator", **model.config)
    clone.load_state_dict(model.state_dict())
    u = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(clone(u), model(u))
    assert clone.field_std.item() == 2.0


def test_rollout_feeds_predictions_back_oldest_first():
    torch.manual_seed(0)
    model = AutoregressiveOperator(FNO_2D, history=3, channels=1)
    u = torch.randn(2, 3, 16, 16)
    out = model.rollout(u, steps=4)
    assert out.shape == (2, 4, 16, 16)
    first = model(u)
    second = model(torch.cat([u[:, 1:], first], dim=1))
    torch.testing.assert_close(out[:, :1], first)
    torch.testing.assert_close(out[:, 1:2], second)


def test_residual_stepper_predicts_increments():
    torch.manual_seed(0)
    model = AutoregressiveOperator(FNO_2D, history=3, channels=1, field_std=[2.0], residual=True)
    u = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(model(u), u[:, -1:] + 2.0 * model.backbone(u / 2.0))


def test_mismatched_backbone_channels_are_rejected():
    with pytest.raises(ValueError, match="needs 10 -> 1"):
        AutoregressiveOperator(FNO_2D, history=10, channels=1)


def test_wrong_number_of_statistics_is_rejected():
    with pytest.raises(ValueError, match="field_std needs 1 values"):
        AutoregressiveOperator(FNO_2D, history=3, channels=1, field_std=[1.0, 2.0])
