"""Burgers solver against the Cole-Hopf exact solution, its time order, and its invariants."""

import math

import pytest
import torch

from zoo.pde.burgers import burgers_1d
from zoo.pde.random_fields import gaussian_random_field


def cole_hopf(x, t, nu):
    """u = -2 nu phi_x / phi with phi a positive solution of the heat equation phi_t = nu phi_xx."""
    a = 0.5 * math.exp(-nu * (2 * math.pi) ** 2 * t)
    b = 0.3 * math.exp(-nu * (4 * math.pi) ** 2 * t)
    phi = 1 + a * torch.cos(2 * math.pi * x) + b * torch.sin(4 * math.pi * x)
    phi_x = -2 * math.pi * a * torch.sin(2 * math.pi * x) + 4 * math.pi * b * torch.cos(4 * math.pi * x)
    return -2 * nu * phi_x / phi


def relative_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("nu", [0.01, 0.05])
def test_matches_cole_hopf_exact_solution(nu):
    x = torch.arange(128, dtype=torch.float64) / 128
    u = burgers_1d(cole_hopf(x, 0.0, nu)[None], nu, t_end=0.5, record_every=0.25)
    exact = torch.stack([cole_hopf(x, 0.25, nu), cole_hopf(x, 0.5, nu)])[None]
    assert relative_l2(u, exact) < 1e-6


def test_fourth_order_in_time():
    x = torch.arange(128, dtype=torch.float64) / 128
    u0, exact = cole_hopf(x, 0.0, 0.01)[None], cole_hopf(x, 0.5, 0.01)[None, None]
    errors = [relative_l2(burgers_1d(u0, 0.01, 0.5, record_every=0.5, dt=dt), exact) for dt in (0.02, 0.01)]
    assert errors[0] / errors[1] == pytest.approx(16.0, rel=0.25)


def test_mean_is_conserved_and_maximum_never_grows():
    u0 = gaussian_random_field(4, 128, dim=1, alpha=2.0, tau=5.0, sigma=25.0, seed=0, dtype=torch.float64) + 0.3
    u = burgers_1d(u0, 0.02, t_end=0.2, record_every=0.05)
    assert torch.allclose(u.mean(-1), u0.mean(-1, keepdim=True).expand(-1, 4), atol=1e-12)
    assert (u.abs().amax(-1) <= u0.abs().amax(-1, keepdim=True) + 1e-9).all()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"shape \(B, N\)"):
        burgers_1d(torch.zeros(4), 0.01, 1.0)
    with pytest.raises(ValueError, match="viscosity must be positive"):
        burgers_1d(torch.zeros(1, 8), 0.0, 1.0)
    with pytest.raises(ValueError, match="multiple of record_every"):
        burgers_1d(torch.zeros(1, 8), 0.01, 1.0, record_every=0.3)
