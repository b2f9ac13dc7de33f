"""Relative Lp and H1 losses against values worked out by hand."""

import math

import pytest
import torch

from zoo.losses import relative_h1, relative_l2, relative_lp


def test_relative_l2_is_the_mean_of_per_sample_ratios():
    target = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    prediction = torch.tensor([[3.0, 5.0], [0.0, 0.0]])
    # Sample 0: |(0, 1)| / |(3, 4)| = 1/5; sample 1: |(-1, 0)| / |(1, 0)| = 1.
    assert relative_l2(prediction, target, reduction="none").tolist() == pytest.approx([0.2, 1.0])
    assert relative_l2(prediction, target).item() == pytest.approx(0.6)
    assert relative_l2(prediction, target, reduction="sum").item() == pytest.approx(1.2)


def test_relative_l2_takes_channels_and_space_of_a_sample_together():
    target = torch.zeros(2, 2, 3, 3)
    target[:, 0] = 1.0  # ||target_i|| = 3
    prediction = target.clone()
    prediction[0, 1, 0, 0] = 1.5  # error only in sample 0, channel 1
    assert relative_l2(prediction, target, reduction="none").tolist() == pytest.approx([0.5, 0.0])


def test_relative_l1():
    target = torch.tensor([[1.0, -2.0, 3.0, 4.0]])
    prediction = torch.tensor([[2.0, -2.0, 1.0, 4.0]])
    assert relative_lp(prediction, target, p=1).item() == pytest.approx(3.0 / 10.0)


def test_relative_l2_is_the_same_at_every_resolution_for_a_band_limited_field():
    def sample(n):
        x = torch.arange(n, dtype=torch.float64) / n
        target = torch.sin(2 * math.pi * x) + 0.5 * torch.cos(6 * math.pi * x)
        return (target + 0.1 * torch.sin(4 * math.pi * x))[None, None], target[None, None]

    assert relative_l2(*sample(32)).item() == pytest.approx(relative_l2(*sample(256)).item(), rel=1e-12)


def test_relative_h1_by_hand():
    # target sin(2 pi x), error 0.1 sin(4 pi x) on [0, 1): ||sin(2 pi k x)||^2 = 1/2 and its
    # derivative's squared norm is (2 pi k)^2 / 2, so the H1 ratio is
    # sqrt(0.01 (1 + 16 pi^2) / (1 + 4 pi^2)).
    x = torch.arange(64, dtype=torch.float64) / 64
    target = torch.sin(2 * math.pi * x)[None, None]
    prediction = target + 0.1 * torch.sin(4 * math.pi * x)
    expected = math.sqrt(0.01 * (1 + 16 * math.pi**2) / (1 + 4 * math.pi**2))
    assert relative_h1(prediction, target, ndim=1).item() == pytest.approx(expected, rel=1e-10)
    # The L2 ratio of the same pair is 0.1: H1 weighs the higher-frequency error more.
    assert relative_l2(prediction, target).item() == pytest.approx(0.1, rel=1e-10)


def test_relative_h1_in_2d_on_a_box_of_side_two():
    # On [0, 2)^2, sin(pi x) cos(pi y) has derivative squared norms pi^2 times its own, per axis.
    n = 32
    x = 2 * torch.arange(n, dtype=torch.float64) / n
    target = (torch.sin(math.pi * x)[:, None] * torch.cos(math.pi * x)[None, :])[None, None]
    prediction = 1.2 * target
    # A pure rescaling errs by 0.2 in every norm.
    assert relative_h1(prediction, target, ndim=2, length=2.0).item() == pytest.approx(0.2, rel=1e-10)


def test_losses_compute_bf16_inputs_in_float32():
    target = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.bfloat16)
    prediction = target + torch.tensor([[0.0078125, 0.0, 0.0]], dtype=torch.bfloat16)  # 1 + 2^-7 is exact
    value = relative_l2(prediction, target)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(0.0078125 / math.sqrt(14.0), rel=1e-6)


def test_mismatched_shapes_name_both():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        relative_l2(torch.zeros(2, 3), torch.zeros(2, 4))


def test_unknown_reduction_is_rejected():
    with pytest.raises(ValueError, match="reduction"):
        relative_l2(torch.ones(1, 2), torch.ones(1, 2), reduction="median")
