"""Ensemble intervals: statistics, Gaussian coverage (exact on constructed data), variance scale."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from zoo.eval.uncertainty import (
    ensemble_rollouts,
    ensemble_statistics,
    gaussian_correlation_ceiling,
    gaussian_quantile,
    interval_coverage,
    std_error_correlation,
    variance_scale,
)


def standard_normal_quantiles(n: int) -> torch.Tensor:
    """``Phi^-1((i + 1/2) / n)``: n deterministic draws whose empirical law is the standard normal's."""
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return math.sqrt(2.0) * torch.special.erfinv(2 * u - 1)


def gaussian_fields(shape: tuple[int, ...], sigma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``mean``, ``std`` varying over points, and ``truth = mean + sigma * std * eps`` with eps exactly normal."""
    n = math.prod(shape)
    eps = standard_normal_quantiles(n)[torch.randperm(n, generator=torch.Generator().manual_seed(0))]
    mean = torch.linspace(-2, 2, n, dtype=torch.float64)
    std = torch.linspace(0.1, 3.0, n, dtype=torch.float64).flip(0)
    return mean.view(shape), std.view(shape), (mean + sigma * std * eps).view(shape)


def test_gaussian_quantile_matches_known_values():
    z = gaussian_quantile([0.5, 0.9, 0.95, 0.99])
    torch.testing.assert_close(z, torch.tensor([0.6744898, 1.6448536, 1.9599640, 2.5758293], dtype=torch.float64))


def test_coverage_of_exact_gaussian_errors_equals_nominal_level():
    levels = [0.1, 0.5, 0.8, 0.9, 0.95, 0.99]
    mean, std, truth = gaussian_fields((50, 20, 10))
    coverage = interval_coverage(mean, std, truth, levels)
    # n deterministic quantiles put exactly round(p n) of them inside the central p-interval, up to one point.
    torch.testing.assert_close(coverage, torch.tensor(levels, dtype=torch.float64), atol=1 / 10_000 + 1e-12, rtol=0)


def test_coverage_of_random_gaussian_errors_is_within_sampling_error():
    generator = torch.Generator().manual_seed(1)
    mean = torch.randn(20, 8, 16, 16, generator=generator)
    std = torch.rand(20, 8, 16, 16, generator=generator) + 0.1
    truth = mean + std * torch.randn(20, 8, 16, 16, generator=generator)
    levels = torch.tensor([0.5, 0.8, 0.9, 0.95], dtype=torch.float64)
    n = truth.numel()
    tolerance = 5 * (levels * (1 - levels) / n).sqrt()
    assert ((interval_coverage(mean, std, truth, levels) - levels).abs() < tolerance).all()


def test_coverage_per_kept_axis_follows_that_axis():
    mean, std, truth = gaussian_fields((200, 3))
    truth = truth.clone()
    truth[:, 2] = mean[:, 2] + 10 * std[:, 2]  # far outside every interval at index 2 of axis 1
    coverage = interval_coverage(mean, std, truth, [0.5, 0.9], keep=1)
    assert coverage.shape == (2, 3)
    assert (coverage[:, 2] == 0).all()
    assert (coverage[:, :2] > 0.3).all()


def test_underestimated_spread_undercovers_and_variance_scale_recovers_it():
    mean, std, truth = gaussian_fields((100, 100), sigma=3.0)  # the truth spreads 3x the stated std
    levels = [0.5, 0.9]
    # P(|3 Z| <= z_p) = erf(z_p / (3 sqrt 2)) for a standard normal Z.
    expected = torch.special.erf(gaussian_quantile(levels) / (3 * math.sqrt(2.0)))
    torch.testing.assert_close(interval_coverage(mean, std, truth, levels), expected, atol=2e-4, rtol=0)
    scale = variance_scale(mean, std, truth)
    assert scale == pytest.approx(3.0, rel=1e-3)
    torch.testing.assert_close(
        interval_coverage(mean, std, truth, levels, scale=scale), torch.tensor(levels, dtype=torch.float64),
        atol=2e-3, rtol=0,
    )


def test_ensemble_statistics_are_mean_and_sample_std_over_members():
    predictions = torch.tensor([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    mean, std = ensemble_statistics(predictions)
    torch.testing.assert_close(mean, torch.tensor([3.0, 2.0]))
    torch.testing.assert_close(std, torch.tensor([2.0, 0.0]))


def test_zero_spread_covers_only_exact_predictions():
    mean = torch.zeros(4)
    std = torch.zeros(4)
    truth = torch.tensor([0.0, 0.0, 1.0, -1.0])
    assert interval_coverage(mean, std, truth, [0.5]).item() == 0.5


def test_ensemble_rollouts_stacks_each_members_rollout():
    class Shift(nn.Module):  # a time stepper adding a constant to the last frame
        def __init__(self, offset: float) -> None:
            super().__init__()
            self.offset = offset

        def rollout(self, u: torch.Tensor, steps: int) -> torch.Tensor:
            return u[:, -1:] + self.offset * torch.arange(1, steps + 1).view(1, -1, 1, 1)

    trajectories = torch.randn(3, 5, 4, 4)
    out = ensemble_rollouts([Shift(0.0), Shift(1.0)], trajectories, history=2)
    assert out.shape == (2, 3, 3, 4, 4)
    torch.testing.assert_close(out[1] - out[0], torch.arange(1.0, 4.0).view(1, 3, 1, 1).expand(3, 3, 4, 4))


def test_std_error_correlation_is_one_when_error_scales_with_spread():
    std = torch.rand(10, 4, 8, generator=torch.Generator().manual_seed(2)) + 0.1
    mean = torch.zeros_like(std)
    truth = 2.5 * std
    assert std_error_correlation(std, mean, truth) == pytest.approx(1.0)
    assert std_error_correlation(std, mean, truth, dim=0) == pytest.approx(1.0)


@pytest.mark.parametrize("log_spread", [0.3, 0.7, 1.2])
def test_gaussian_correlation_ceiling_matches_a_perfect_width_model(log_spread):
    # Errors drawn with exactly the given scale: their measured correlation with the scale is the ceiling.
    generator = torch.Generator().manual_seed(3)
    std = torch.exp(log_spread * torch.randn(400_000, generator=generator, dtype=torch.float64))
    error = std * torch.randn(400_000, generator=generator, dtype=torch.float64)
    measured = std_error_correlation(std, torch.zeros_like(std), error)
    assert gaussian_correlation_ceiling(std) == pytest.approx(measured, abs=0.01)
    assert gaussian_correlation_ceiling(std) < math.sqrt(2 / math.pi)


def test_gaussian_correlation_ceiling_of_constant_and_two_level_widths():
    assert gaussian_correlation_ceiling(torch.full((50,), 0.3)) == 0.0
    assert gaussian_correlation_ceiling(torch.ones(1)) is None
    # Widths 1 and 3 in equal numbers: sd 1, E[s^2] 5, E[s] 2 -> sqrt(2/pi) / sqrt(5 - 8/pi).
    two_levels = torch.tensor([1.0, 3.0]).repeat(10)
    expected = math.sqrt(2 / math.pi) / math.sqrt(5 - 8 / math.pi)
    assert gaussian_correlation_ceiling(two_levels) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ensemble_statistics(torch.zeros(1, 3)), "M >= 2"),
        (lambda: ensemble_rollouts([], torch.zeros(1, 3, 2, 2), history=1), "at least one model"),
        (lambda: gaussian_quantile([0.5, 1.0]), "strictly between 0 and 1"),
        (lambda: interval_coverage(torch.zeros(3), torch.ones(2), torch.zeros(3), [0.5]), "one shape"),
        (lambda: interval_coverage(torch.zeros(3), -torch.ones(3), torch.zeros(3), [0.5]), "non-negative"),
        (lambda: interval_coverage(torch.zeros(3), torch.ones(3), torch.zeros(3), [0.5], keep=1), "keep=1"),
        (lambda: interval_coverage(torch.zeros(3), torch.ones(3), torch.zeros(3), [0.5], scale=0), "positive"),
        (lambda: variance_scale(torch.zeros(3), torch.tensor([1.0, 0.0, 1.0]), torch.zeros(3)), "positive std"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
