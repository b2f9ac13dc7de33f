"""Warm new heads: a multi-channel time stepper that starts as its one-channel checkpoint."""

import pytest
import torch

from train_problems import one_thread
from zoo.models import AutoregressiveOperator
from zoo.train import seed_everything
from zoo.models.adapt import with_channels
from zoo.models.adapt import carry_channel
from zoo.models.registry import with_config

HISTORY = 3


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def source_model():
    seed_everything(0)
    backbone = {"architecture": "FNO", "config": {"in_channels": HISTORY, "out_channels": 1, "modes": [4, 4],
                                                  "width": 8, "n_layers": 2, "projection_channels": 16}}
    return AutoregressiveOperator(backbone, history=HISTORY, channels=1, field_mean=[0.1], field_std=[2.0])


def two_channel_target(source):
    return with_config(with_channels(source, out_channels=2), field_mean=[0.5, -1.0], field_std=[3.0, 0.5])


@pytest.mark.parametrize("channel", [0, 1])
def test_the_carried_channel_is_predicted_as_the_source_predicts_it(channel):
    source = source_model().eval()
    warm = carry_channel(source, two_channel_target(source), channel).eval()
    other = 1 - channel
    for size in (16, 24):  # any grid, as the operator itself
        frames = torch.randn(2, HISTORY, 2, size, size)
        frames[:, :, other] *= 5.0  # whatever the other channel holds
        with torch.no_grad():
            expected = source.rollout(frames[:, :, channel], 1)
            got = warm(frames.flatten(1, 2))[:, channel : channel + 1]
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_the_other_channel_keeps_its_statistics_and_the_fourier_blocks_are_kept():
    source = source_model()
    target = two_channel_target(source)
    warm = carry_channel(source, target, 1)
    assert warm.field_mean.tolist() == pytest.approx([0.5, 0.1]) and warm.field_std.tolist() == pytest.approx([3.0, 2.0])
    kept = [k for k in target.state_dict() if "blocks" in k]
    assert kept and all(torch.equal(target.state_dict()[k], warm.state_dict()[k]) for k in kept)
    assert not torch.equal(target.backbone.lifting.weight, warm.backbone.lifting.weight)  # target untouched


def test_misfit_models_are_refused_with_the_reason():
    source = source_model()
    target = two_channel_target(source)
    with pytest.raises(ValueError, match=r"channel must be in \[0, 2\), got 2"):
        carry_channel(source, target, 2)
    with pytest.raises(ValueError, match="source must predict one channel, it predicts 2"):
        carry_channel(target, target, 0)
    with pytest.raises(ValueError, match="source reads 3 frames but target reads 2"):
        carry_channel(source, with_config(target, history=2, backbone={**target.config["backbone"], "config": {
            **target.config["backbone"]["config"], "in_channels": 4}}), 0)
    with pytest.raises(TypeError, match="AutoregressiveOperator with an FNO backbone"):
        carry_channel(source, target.backbone, 0)
