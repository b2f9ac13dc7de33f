"""Shallow water against linear gravity waves, exact rotating solutions, mass conservation and refined solves."""

import math

import pytest
import torch

from zoo.pde.navier_stokes import periodic_grid
from zoo.pde.random_fields import gaussian_random_field
from zoo.pde.shallow_water import shallow_water_2d

TAU = 2 * math.pi


def relative_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


def gravity_wave(n, t, amplitude, depth=1.0, gravity=2.0, nu=1e-3, p=1, q=2):
    """The linear plane wave ``h = H + e cos(k.x - omega t)``, ``u = g e k / omega cos(...)``, ``omega = sqrt(g H) |k|``, damped by ``exp(-nu |k|^2 t)``."""
    x, y = periodic_grid(n, dtype=torch.float64)
    kx, ky = TAU * p, TAU * q
    k2 = kx**2 + ky**2
    omega = math.sqrt(gravity * depth * k2)
    wave = amplitude * torch.cos(kx * x + ky * y - omega * t) * math.exp(-nu * k2 * t)
    return torch.stack([depth + wave, gravity * kx / omega * wave, gravity * ky / omega * wave])[:, None]


def linear_wave_error(amplitude, n=16, t_end=0.5):
    h0, u0, v0 = gravity_wave(n, 0.0, amplitude)
    h, u, v = shallow_water_2d(h0, u0, v0, 2.0, t_end, record_every=t_end / 2, viscosity=1e-3)
    exact = gravity_wave(n, t_end, amplitude)
    exact[0] -= 1.0  # compare the perturbation, not the mean depth
    return relative_l2(torch.stack([h[:, -1] - 1.0, u[:, -1], v[:, -1]]), exact)


def test_small_gravity_waves_follow_the_linear_dispersion_relation():
    # What is left is the nonlinear correction: proportional to the amplitude.
    errors = [linear_wave_error(amplitude) for amplitude in (1e-3, 1e-4)]
    assert errors[1] < 1e-3
    assert errors[0] / errors[1] == pytest.approx(10.0, rel=0.1)


def test_uniform_flow_makes_the_exact_inertial_oscillation():
    # Uniform fields have no gradients: u_t = f v, v_t = -f u, so (u, v) = U (cos ft, -sin ft).
    f, speed = 3.0, 0.2
    ones = torch.ones(1, 8, 8, dtype=torch.float64)
    h, u, v = shallow_water_2d(ones, speed * ones, 0 * ones, 1.0, 1.0, record_every=0.5, coriolis=f)
    times = torch.tensor([0.5, 1.0], dtype=torch.float64).view(1, 2, 1, 1)
    assert torch.allclose(u, speed * torch.cos(f * times).expand_as(u), atol=1e-7)
    assert torch.allclose(v, -speed * torch.sin(f * times).expand_as(v), atol=1e-7)
    assert (h - 1).abs().max() < 1e-14


def test_geostrophic_shear_is_steady_and_decays_only_by_diffusion():
    # h = H + e cos(tau q y), u = -(g / f) h_y, v = 0: balanced, no advection, no flux divergence.
    n, g, f, e, nu, q, t = 16, 1.5, 4.0, 0.1, 2e-3, 2, 1.0
    _, y = periodic_grid(n, dtype=torch.float64)
    h0 = 1 + e * torch.cos(TAU * q * y)
    u0 = g / f * e * TAU * q * torch.sin(TAU * q * y)
    h, u, v = shallow_water_2d(h0[None], u0[None], torch.zeros(1, n, n, dtype=torch.float64), g, t, record_every=t, viscosity=nu, coriolis=f)
    decay = math.exp(-nu * (TAU * q) ** 2 * t)
    assert relative_l2(h[0, -1] - 1, (h0 - 1) * decay) < 1e-10 and relative_l2(u[0, -1], u0 * decay) < 1e-10
    assert v.abs().max() < 1e-12


def random_state(n, seed, amplitude=0.1):
    fields = [gaussian_random_field(1, n, seed=seed + i, dtype=torch.float64, alpha=3.0) for i in range(4)]
    return 1 + amplitude * fields[0], amplitude * fields[1], amplitude * fields[2], fields[3]


def test_mass_is_conserved_and_the_tracer_is_advected():
    h0, u0, v0, c0 = random_state(24, 0, amplitude=0.3)
    h, u, v, c = shallow_water_2d(h0, u0, v0, 1.0, 1.0, record_every=0.25, viscosity=1e-3, tracer0=c0, tracer_diffusivity=0.0, coriolis=1.0)
    assert (h.mean(dim=(-2, -1)) - h0.mean()).abs().max() < 1e-14
    assert relative_l2(h[:, -1], h0) > 1e-2 and relative_l2(c[:, -1], c0) > 1e-2  # things moved
    # the tracer does not act on the flow
    assert torch.equal(torch.stack(shallow_water_2d(h0, u0, v0, 1.0, 1.0, record_every=0.25, viscosity=1e-3, coriolis=1.0)), torch.stack([h, u, v]))
    # a uniform tracer stays uniform
    _, _, _, uniform = shallow_water_2d(h0, u0, v0, 1.0, 1.0, record_every=0.5, tracer0=torch.full_like(c0, 2.0))
    assert (uniform - 2.0).abs().max() < 1e-12


def test_fourth_order_in_time():
    h0, u0, v0, _ = random_state(16, 4, amplitude=0.3)
    solve = lambda dt: torch.stack(shallow_water_2d(h0, u0, v0, 1.0, 0.5, record_every=0.5, dt=dt))  # noqa: E731
    reference = solve(1 / 400)
    errors = [relative_l2(solve(dt), reference) for dt in (1 / 50, 1 / 100)]  # (measured: 1.4e-4, 8.6e-6)
    assert errors[0] / errors[1] == pytest.approx(16.0, rel=0.2)


@pytest.mark.parametrize(
    "h0, kwargs, message",
    [
        (torch.ones(2, 8, 6), {}, r"shape \(B, n, n\)"),
        (torch.full((2, 8, 8), math.nan), {}, "non-finite"),
        (-torch.ones(2, 8, 8), {}, "h0 must be positive"),
        (torch.ones(2, 8, 8), dict(viscosity=-1.0), "viscosity must be finite and non-negative"),
        (torch.ones(2, 8, 8), dict(gravity=-1.0), "gravity must be finite and non-negative"),
        (torch.ones(2, 8, 8), dict(t_end=1.5, record_every=1.0), "multiple of record_every"),
        (torch.ones(2, 8, 8), dict(tracer0=torch.zeros(2, 4, 4)), "tracer0 .* must match h0"),
        (torch.ones(2, 8, 8), dict(dt=0.5), "Courant number"),
    ],
)
def test_bad_input_is_named(h0, kwargs, message):
    arguments = dict(u0=torch.zeros(2, 8, 8), v0=torch.zeros(2, 8, 8), gravity=1.0, t_end=1.0) | kwargs
    with pytest.raises(ValueError, match=message):
        shallow_water_2d(h0, **arguments)
