"""ChannelNormalizer: fitted statistics, exact round trip, time-major tiling, state-dict persistence."""

import pytest
import torch

from zoo.data import FieldData
from zoo.layers.normalization import ChannelNormalizer


def test_fit_gives_per_channel_mean_and_std_over_all_other_axes():
    x = torch.randn(50, 2, 8, 8, dtype=torch.float64) * torch.tensor([3.0, 0.5]).view(1, 2, 1, 1)
    x = x + torch.tensor([1.0, -2.0], dtype=torch.float64).view(1, 2, 1, 1)
    norm = ChannelNormalizer(2).fit(x)
    for c in range(2):
        assert norm.mean[c].item() == pytest.approx(x[:, c].mean().item(), rel=1e-6)
        assert norm.std[c].item() == pytest.approx(x[:, c].std().item(), rel=1e-6)


def test_fit_on_trajectories_matches_field_data_statistics():
    u = torch.randn(4, 6, 3, 5, 5) * 2 + 1
    data = FieldData(u, ["a", "b", "c"], torch.arange(6.0, dtype=torch.float64))
    norm = ChannelNormalizer(3).fit(u, channel_dim=2)
    mean, std = data.channel_statistics()
    assert torch.allclose(norm.mean, mean) and torch.allclose(norm.std, std)


def test_encode_decode_round_trip_and_tiling_over_time_steps():
    norm = ChannelNormalizer(2).fit(torch.randn(10, 2, 4, 4) * 5 + 3)
    window = torch.randn(3, 6, 4, 4)  # 3 time steps of 2 channels, oldest first
    z = norm.encode(window)
    assert torch.allclose(norm.decode(z), window, atol=1e-5)
    expected = (window[:, 4] - norm.mean[0]) / (norm.std[0] + norm.eps)  # step 3, channel 0
    assert torch.allclose(z[:, 4], expected)


def test_statistics_travel_in_the_state_dict():
    norm = ChannelNormalizer(2).fit(torch.randn(10, 2, 4) + 7)
    loaded = ChannelNormalizer(2)
    loaded.load_state_dict(norm.state_dict())
    assert torch.equal(loaded.mean, norm.mean) and torch.equal(loaded.std, norm.std)


def test_wrong_channel_count_is_named():
    norm = ChannelNormalizer(2)
    with pytest.raises(ValueError, match=r"expected \(B, K \* 2, \*spatial\).*got shape \(1, 3, 4\)"):
        norm.encode(torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="samples have 3 channels on axis 1"):
        norm.fit(torch.zeros(4, 3, 4))
