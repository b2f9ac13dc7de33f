"""The Boussinesq solver against an exact internal wave, the Navier-Stokes solver and its conservation laws."""

import math

import pytest
import torch

from zoo.pde.boussinesq import boussinesq_2d
from zoo.pde.navier_stokes import navier_stokes_2d, periodic_grid
from zoo.pde.random_fields import gaussian_random_field

TAU = 2 * math.pi


def relative_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


def internal_wave(n, t, gravity=2.0, stratification=3.0, nu=0.01, p=1, q=2, amplitude=5.0):
    """A plane internal wave ``w = A cos(k.x - omega t)``, ``b = -A omega / (g k_x) cos(k.x - omega t)``, damped by ``exp(-nu |k|^2 t)``.

    ``omega = sqrt(g S) |k_x| / |k|``. Every field depends on ``k.x`` alone and the velocity is
    perpendicular to ``k``, so the advection vanishes: it solves the nonlinear equations exactly.
    """
    x, y = periodic_grid(n, dtype=torch.float64)
    kx, k2 = TAU * p, TAU**2 * (p * p + q * q)
    omega = math.sqrt(gravity * stratification) * abs(kx) / math.sqrt(k2)
    wave = torch.cos(TAU * (p * x + q * y) - omega * t) * amplitude * math.exp(-nu * k2 * t)
    return wave[None], -omega / (gravity * kx) * wave[None]


def solve_internal_wave(dt, n=16, t_end=1.0):
    w0, b0 = internal_wave(n, 0.0)
    w, b = boussinesq_2d(w0, b0, 0.01, 0.01, 2.0, t_end, record_every=t_end, dt=dt, stratification=3.0)
    w_exact, b_exact = internal_wave(n, t_end)
    return relative_l2(w[:, -1], w_exact), relative_l2(b[:, -1], b_exact)


def test_internal_plane_wave_is_exact_at_second_order():
    errors = [max(solve_internal_wave(dt)) for dt in (0.02, 0.01)]
    assert errors[1] < 3e-4  # (omega dt)^2 omega t / 12 ~ 1e-4 for the phase
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1)


def test_without_buoyancy_it_is_the_unforced_navier_stokes_solver():
    w0 = gaussian_random_field(2, 32, seed=0, dtype=torch.float64)
    w, b = boussinesq_2d(w0, torch.zeros_like(w0), 1e-3, 1e-3, 1.0, t_end=1.0, record_every=0.5, dt=0.01)
    assert relative_l2(w, navier_stokes_2d(w0, 1e-3, 1.0, record_every=0.5, forcing=None, dt=0.01)) < 1e-13
    assert b.abs().max() == 0


def test_a_light_blob_rises():
    x, y = periodic_grid(32, dtype=torch.float64)
    b0 = torch.exp(-((x - 0.5) ** 2 + (y - 0.3) ** 2) / 0.01)[None]
    _, b = boussinesq_2d(torch.zeros_like(b0), b0, 1e-3, 1e-3, 1.0, t_end=0.4, record_every=0.4)
    centre_y = lambda field: float((field * y).sum() / field.sum())  # noqa: E731
    assert centre_y(b[0, -1]) > centre_y(b0[0]) + 0.01  # (measured: +0.017 at t = 0.4, from rest)


def test_buoyancy_mean_and_variance_are_conserved_without_diffusion():
    w0 = gaussian_random_field(2, 32, seed=1, dtype=torch.float64)
    b0 = gaussian_random_field(2, 32, seed=2, dtype=torch.float64) + 0.3
    w, b = boussinesq_2d(w0, b0, 1e-3, 0.0, 1.0, t_end=0.5, record_every=0.1, stratification=0.5)
    assert relative_l2(b[:, -1], b0) > 0.1  # the flow really moved the buoyancy
    assert (b.mean(dim=(-2, -1)) - b0.mean(dim=(-2, -1))[:, None]).abs().max() < 1e-13
    assert w.mean(dim=(-2, -1)).abs().max() < 1e-13
    # without stratification the buoyancy is a passive scalar for its own variance
    _, b = boussinesq_2d(w0, b0, 1e-3, 0.0, 1.0, t_end=0.5, record_every=0.1)
    variance = (b**2).mean(dim=(-2, -1))
    assert ((variance - (b0**2).mean(dim=(-2, -1))[:, None]).abs() / variance).max() < 1e-3


def test_float32_tracks_float64():
    w0 = gaussian_random_field(1, 32, seed=3, dtype=torch.float64)
    b0 = gaussian_random_field(1, 32, seed=4, dtype=torch.float64)
    w64, _ = boussinesq_2d(w0, b0, 1e-3, 1e-3, 1.0, t_end=0.5, record_every=0.5)
    w32, _ = boussinesq_2d(w0.float(), b0.float(), 1e-3, 1e-3, 1.0, t_end=0.5, record_every=0.5)
    assert w32.dtype == torch.float32 and relative_l2(w32.double(), w64) < 1e-5


@pytest.mark.parametrize(
    "w0, kwargs, message",
    [
        (torch.zeros(2, 8, 6), {}, r"shape \(B, n, n\)"),
        (torch.full((2, 8, 8), math.nan), {}, "non-finite"),
        (torch.zeros(2, 8, 8), dict(viscosity=-1.0), "viscosity must be finite and non-negative"),
        (torch.zeros(2, 8, 8), dict(diffusivity=-1.0), "diffusivity must be finite and non-negative"),
        (torch.zeros(2, 8, 8), dict(gravity=math.inf), "must be finite"),
        (torch.zeros(2, 8, 8), dict(t_end=1.5, record_every=1.0), "multiple of record_every"),
        (torch.zeros(2, 8, 8), dict(b0=torch.zeros(2, 4, 4)), "must match w0"),
        (gaussian_random_field(2, 8, seed=0) * 100, dict(dt=0.5), "Courant number"),
    ],
)
def test_bad_input_is_named(w0, kwargs, message):
    arguments = dict(b0=torch.zeros(2, 8, 8), viscosity=1e-3, diffusivity=1e-3, gravity=1.0, t_end=1.0) | kwargs
    with pytest.raises(ValueError, match=message):
        boussinesq_2d(w0, **arguments)
