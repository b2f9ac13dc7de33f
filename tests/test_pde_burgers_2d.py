"""2D viscous Burgers against the Cole-Hopf exact solution, its symmetries and its maximum principle."""

import math

import pytest
import torch

from zoo.pde.burgers_2d import burgers_2d
from zoo.pde.navier_stokes import periodic_grid
from zoo.pde.random_fields import gaussian_random_field


def relative_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


def cole_hopf(n, nu, t):
    """``u = -2 nu grad(log phi)`` with ``phi = 3 + e^(-nu tau^2 t) cos(tau x) + e^(-5 nu tau^2 t) sin(tau (x + 2y))``.

    ``phi`` solves the heat equation ``phi_t = nu Laplacian(phi)``, so ``u`` solves viscous Burgers exactly.
    """
    x, y = periodic_grid(n, dtype=torch.float64)
    tau = 2 * math.pi
    e1, e5 = math.exp(-nu * tau**2 * t), math.exp(-5 * nu * tau**2 * t)
    phi = 3 + torch.cos(tau * x) * e1 + torch.sin(tau * (x + 2 * y)) * e5
    phi_x = -tau * torch.sin(tau * x) * e1 + tau * torch.cos(tau * (x + 2 * y)) * e5
    phi_y = 2 * tau * torch.cos(tau * (x + 2 * y)) * e5
    return torch.stack([-2 * nu * phi_x / phi, -2 * nu * phi_y / phi])


def solve_cole_hopf(n, nu, courant, t_end=0.5):
    u0, v0 = cole_hopf(n, nu, 0.0)[:, None]
    dt = courant / (n * float(u0.abs().max() + v0.abs().max()))
    u, v = burgers_2d(u0, v0, nu, t_end, record_every=t_end, dt=dt)
    return relative_l2(torch.stack([u[0, -1], v[0, -1]]), cole_hopf(n, nu, t_end))


def test_matches_the_cole_hopf_exact_solution():
    # The solution is not band-limited (1 / phi): at 32x32 the spatial error is ~1e-8.
    assert solve_cole_hopf(32, 0.05, courant=0.2) < 1e-7


def test_fourth_order_in_time():
    # At 48x48 the spatial error (~3e-10) is far below the time errors compared here.
    errors = [solve_cole_hopf(48, 0.05, courant) for courant in (0.8, 0.4)]
    assert errors[0] / errors[1] == pytest.approx(16.0, rel=0.3)


def test_swapping_axes_swaps_the_components():
    u0 = gaussian_random_field(2, 32, seed=0, dtype=torch.float64) * 0.1
    v0 = gaussian_random_field(2, 32, seed=1, dtype=torch.float64) * 0.1
    u, v = burgers_2d(u0, v0, 0.01, t_end=0.5, record_every=0.25)
    v_t, u_t = burgers_2d(v0.transpose(-2, -1), u0.transpose(-2, -1), 0.01, t_end=0.5, record_every=0.25)
    assert relative_l2(u_t.transpose(-2, -1), u) < 1e-12 and relative_l2(v_t.transpose(-2, -1), v) < 1e-12
    assert relative_l2(u[:, -1], u0) > 0.05  # the flow really changed


def test_each_component_obeys_the_maximum_principle():
    u0 = gaussian_random_field(1, 32, seed=2, dtype=torch.float64) * 0.2
    v0 = gaussian_random_field(1, 32, seed=3, dtype=torch.float64) * 0.2
    u, v = burgers_2d(u0, v0, 0.02, t_end=1.0, record_every=0.1)
    for field, initial in ((u, u0), (v, v0)):
        peaks = torch.cat([initial.abs().amax(dim=(-2, -1))[:, None], field.abs().amax(dim=(-2, -1))], dim=1)
        assert (peaks[:, 1:] <= peaks[:, :-1] * (1 + 1e-6)).all()


def test_float32_tracks_float64():
    u0 = gaussian_random_field(1, 32, seed=4, dtype=torch.float64) * 0.1
    v0 = gaussian_random_field(1, 32, seed=5, dtype=torch.float64) * 0.1
    u64, _ = burgers_2d(u0, v0, 0.01, t_end=0.5, record_every=0.5)
    u32, _ = burgers_2d(u0.float(), v0.float(), 0.01, t_end=0.5, record_every=0.5)
    assert u32.dtype == torch.float32 and relative_l2(u32.double(), u64) < 1e-5


@pytest.mark.parametrize(
    "u0, kwargs, message",
    [
        (torch.zeros(2, 8, 6), {}, r"shape \(B, n, n\)"),
        (torch.zeros(2, 8, 8, dtype=torch.int64), {}, "real floating"),
        (torch.full((2, 8, 8), math.nan), {}, "non-finite"),
        (torch.zeros(2, 8, 8), dict(viscosity=-1.0), "viscosity must be positive"),
        (torch.zeros(2, 8, 8), dict(t_end=1.5, record_every=1.0), "multiple of record_every"),
        (torch.ones(2, 8, 8), dict(dt=0.5), "Courant number"),
    ],
)
def test_bad_input_is_named(u0, kwargs, message):
    arguments = dict(v0=torch.zeros(2, 8, 8, dtype=u0.dtype), viscosity=1e-2, t_end=1.0) | kwargs
    with pytest.raises(ValueError, match=message):
        burgers_2d(u0, **arguments)


def test_mismatched_components_are_named():
    with pytest.raises(ValueError, match="must match u0"):
        burgers_2d(torch.zeros(2, 8, 8), torch.zeros(1, 8, 8), 1e-2, 1.0)
