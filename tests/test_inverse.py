"""Recovering an input field through a differentiable map (zoo.train.inverse)."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.pde.navier_stokes import periodic_grid
from zoo.pde.spectral import laplacian, wavenumbers
from zoo.train.inverse import recover_field, sobolev_seminorm
from zoo.losses import relative_l2


def _spectral_multiplier(symbol):
    """The linear map ``u -> irfft2(symbol(|k|^2) * rfft2(u))`` on ``(B, 1, n, n)`` fields."""

    def apply(u: torch.Tensor) -> torch.Tensor:
        n = u.shape[-1]
        kx, ky = wavenumbers((n, n), dtype=u.dtype)
        return torch.fft.irfft2(symbol(kx**2 + ky**2) * torch.fft.rfft2(u), s=(n, n))

    return apply


def _smooth_field(n: int) -> torch.Tensor:
    x, y = periodic_grid(n, dtype=torch.float64)
    u = torch.sin(2 * math.pi * x) * torch.cos(4 * math.pi * y) + 0.5 * torch.cos(2 * math.pi * (x + 2 * y))
    return u[None, None]


@pytest.mark.parametrize("n", [16, 15])
@pytest.mark.parametrize("order", [1.0, 1.5])
def test_sobolev_seminorm_of_a_fourier_mode(n, order):
    x, y = periodic_grid(n, dtype=torch.float64)
    u = torch.sin(2 * math.pi * 3 * x) * torch.cos(2 * math.pi * 2 * y)
    # (-lap)^(s/2) of the mode is (2 pi |(3, 2)|)^s times it; the mean of its square is 1/4.
    expected = (4 * math.pi**2 * 13) ** order / 4
    value = sobolev_seminorm(u[None], order=order, ndim=2)
    torch.testing.assert_close(value, torch.tensor([expected], dtype=torch.float64), rtol=1e-10, atol=0)


def test_sobolev_seminorm_of_orders_one_and_two_by_the_laplacian():
    u = torch.randn(3, 2, 16, 12, dtype=torch.float64)
    lap = laplacian(u, 2)
    # <u, -lap u> = ||grad u||^2 (by parts) and ||lap u||^2; means over the grid, summed over channels.
    for order, reference in ((1.0, -(u * lap)), (2.0, lap.square())):
        expected = reference.flatten(2).mean(2).sum(1)
        torch.testing.assert_close(sobolev_seminorm(u, order=order, ndim=2), expected, rtol=1e-10, atol=1e-12)


def test_recovers_a_known_field_through_a_smoothing_linear_map():
    truth = _smooth_field(32)
    forward = _spectral_multiplier(lambda k2: torch.exp(-2e-3 * k2))  # heat flow: damps |k| = 2 pi sqrt(5) by 33%
    observation = forward(truth)
    # L-BFGS: its steps lie in the span of the gradients, so the unobservable (damped) modes of the zero
    # start stay at zero, where Adam's per-point scaling would seed them with errors no gradient removes.
    result = recover_field(forward, observation, torch.zeros_like(truth), ndim=2, method="lbfgs", steps=50)
    assert relative_l2(result.field, truth) < 1e-3
    assert result.objective[-1] < 1e-3 * result.objective[0]


def test_matches_the_closed_form_tikhonov_estimate_for_the_identity_map():
    generator = torch.Generator().manual_seed(0)
    truth = _smooth_field(32)
    observation = truth + 0.1 * torch.randn(truth.shape, generator=generator, dtype=truth.dtype)
    smoothness, order = 1e-4, 1.0
    # Both terms are normalised alike, so the minimiser is y filtered by 1 / (1 + lambda |k|^(2s)).
    expected = _spectral_multiplier(lambda k2: 1 / (1 + smoothness * k2**order))(observation)
    for method, steps in (("adam", 300), ("lbfgs", 30)):
        result = recover_field(lambda u: u, observation, observation, ndim=2, smoothness=smoothness, order=order,
                               method=method, steps=steps, lr=0.02 if method == "adam" else None)
        assert relative_l2(result.field, expected) < 2e-3, method
    # The prior removes noise: the estimate is closer to the truth than the observation is.
    assert relative_l2(result.field, truth) < 0.75 * relative_l2(observation, truth)


def test_batched_problems_are_independent():
    truth = torch.cat([_smooth_field(16), 2 * _smooth_field(16).flip(-1)])
    forward = _spectral_multiplier(lambda k2: torch.exp(-1e-3 * k2))
    observation = forward(truth)
    kwargs = {"ndim": 2, "smoothness": 1e-4, "steps": 20, "lr": 0.05}
    together = recover_field(forward, observation, torch.zeros_like(truth), **kwargs).field
    alone = recover_field(forward, observation[1:], torch.zeros_like(truth[1:]), **kwargs).field
    torch.testing.assert_close(together[1:], alone, rtol=1e-6, atol=1e-8)


def test_monitor_and_times_are_recorded_at_the_requested_steps():
    truth = _smooth_field(16)
    calls = []
    result = recover_field(lambda u: u, truth, torch.zeros_like(truth), ndim=2, steps=25, lr=0.05,
                           monitor=lambda u: calls.append(u.requires_grad) or relative_l2(u, truth).item(),
                           monitor_every=10)
    assert result.monitored_steps == [0, 10, 20, 25]
    assert len(result.monitored) == len(result.seconds) == 4 and len(result.objective) == 25
    assert result.monitored[0] == pytest.approx(1.0) and result.monitored[-1] < result.monitored[0]
    assert result.seconds == sorted(result.seconds) and result.seconds[0] == 0.0
    assert not any(calls)  # the monitor sees detached estimates


def test_bad_inputs_get_clear_errors():
    u = torch.zeros(2, 1, 8, 8)
    y = torch.ones(2, 1, 8, 8)
    with pytest.raises(ValueError, match="forward maps the unknown"):
        recover_field(lambda v: v[:, :, :4], y, u, ndim=2)
    with pytest.raises(ValueError, match="2 samples but observation has 1"):
        recover_field(lambda v: v, y[:1], u, ndim=2)
    with pytest.raises(ValueError, match="nonzero norm"):
        recover_field(lambda v: v, torch.zeros_like(y), u, ndim=2)
    with pytest.raises(ValueError, match="lr > 0"):
        recover_field(lambda v: v, y, u, ndim=2, lr=0.0)
    with pytest.raises(ValueError, match="ndim=4"):
        recover_field(lambda v: v, y, u, ndim=4)
    with pytest.raises(TypeError, match="real floating"):
        recover_field(lambda v: v, y, u.long(), ndim=2)
    with pytest.raises(ValueError, match="order must be >= 0"):
        sobolev_seminorm(u, order=-1.0, ndim=2)
