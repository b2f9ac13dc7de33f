"""The bootstrap interval of a mean against the normal-theory interval, which it must approach."""

import math

import pytest
import torch

from zoo.eval.bootstrap import bootstrap_interval


def test_interval_of_gaussian_mean_matches_normal_theory():
    # For N i.i.d. N(mu, s^2) samples the 95% interval of the mean is xbar +- 1.96 s / sqrt(N); the
    # percentile bootstrap converges to it (its Monte Carlo error with 4000 resamples is ~2% of the width).
    values = torch.randn(400, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.3 + 2.0
    low, high = bootstrap_interval(values, resamples=4000)
    half_width = 1.959964 * float(values.std()) / math.sqrt(values.numel())
    mean = float(values.mean())
    assert low == pytest.approx(mean - half_width, abs=0.08 * half_width)
    assert high == pytest.approx(mean + half_width, abs=0.08 * half_width)


def test_interval_is_reproducible_and_contains_the_mean():
    values = torch.rand(50, generator=torch.Generator().manual_seed(2)) ** 3  # skewed, like rollout errors
    first, second = bootstrap_interval(values), bootstrap_interval(values)
    assert first == second
    assert first[0] < float(values.mean()) < first[1]
    assert bootstrap_interval(values, seed=1) != first


def test_interval_narrows_with_the_level():
    values = torch.randn(100, generator=torch.Generator().manual_seed(3))
    wide, narrow = bootstrap_interval(values, level=0.95), bootstrap_interval(values, level=0.5)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


@pytest.mark.parametrize("values, options", [
    (torch.ones(1), {}), (torch.ones(3, 2), {}), (torch.tensor([1.0, float("nan")]), {}),
    (torch.ones(5), {"level": 1.0}), (torch.ones(5), {"resamples": 10}),
])
def test_bad_input_is_refused(values, options):
    with pytest.raises(ValueError):
        bootstrap_interval(values, **options)
