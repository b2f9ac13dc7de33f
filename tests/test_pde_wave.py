"""The wave equation against exact plane waves, d'Alembert's solution and energy conservation."""

import math

import pytest
import torch

from zoo.pde.navier_stokes import periodic_grid
from zoo.pde.random_fields import gaussian_random_field
from zoo.pde.spectral import laplacian
from zoo.pde.wave import wave_2d

TAU = 2 * math.pi


def relative_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_plane_waves_travel_exactly():
    # u = cos(tau (k.x) - omega t) with omega = c tau |k|, for two wave vectors at once.
    x, y = periodic_grid(16, dtype=torch.float64)
    c = 0.7
    vectors = [(1, 0), (2, -3)]
    omegas = [c * TAU * math.hypot(*k) for k in vectors]
    phase = [TAU * (k[0] * x + k[1] * y) for k in vectors]
    u0 = torch.stack([torch.cos(p) for p in phase])
    v0 = torch.stack([w * torch.sin(p) for w, p in zip(omegas, phase)])
    u, v = wave_2d(u0, v0, c, t_end=1.0, record_every=0.25)
    times = [0.25, 0.5, 0.75, 1.0]
    u_exact = torch.stack([torch.stack([torch.cos(p - w * t) for t in times]) for w, p in zip(omegas, phase)])
    v_exact = torch.stack([torch.stack([w * torch.sin(p - w * t) for t in times]) for w, p in zip(omegas, phase)])
    assert relative_l2(u, u_exact) < 1e-13 and relative_l2(v, v_exact) < 1e-13


def test_matches_dalembert_for_a_field_that_is_not_band_limited():
    # u0 = f(x) = exp(sin(tau x)), v0 = 0: u = (f(x - ct) + f(x + ct)) / 2 (spectrally accurate at 32 points).
    n, c, t = 32, 1.3, 0.4
    x, _ = periodic_grid(n, dtype=torch.float64)
    f = lambda s: torch.exp(torch.sin(TAU * s))  # noqa: E731
    u, v = wave_2d(f(x)[None], torch.zeros(1, n, n, dtype=torch.float64), c, t_end=t, record_every=t)
    f_prime = lambda s: TAU * torch.cos(TAU * s) * f(s)  # noqa: E731
    assert relative_l2(u[0, 0], (f(x - c * t) + f(x + c * t)) / 2) < 1e-12
    assert relative_l2(v[0, 0], c * (f_prime(x + c * t) - f_prime(x - c * t)) / 2) < 1e-12


def test_energy_is_conserved_and_the_mean_drifts_with_the_mean_velocity():
    u0 = gaussian_random_field(2, 32, seed=0, dtype=torch.float64)
    v0 = gaussian_random_field(2, 32, seed=1, dtype=torch.float64) + 0.5
    c = 0.9

    def energy(u, v):  # (1/2) integral of v^2 + c^2 |grad u|^2, the latter as -u Laplacian(u) (Nyquist included)
        return 0.5 * (v**2 - c**2 * u * laplacian(u, 2)).mean(dim=(-2, -1))

    u, v = wave_2d(u0, v0, c, t_end=2.0, record_every=0.5)
    e0 = energy(u0, v0)[:, None]
    assert ((energy(u, v) - e0).abs() / e0).max() < 1e-13
    times = torch.tensor([0.5, 1.0, 1.5, 2.0], dtype=torch.float64)
    assert torch.allclose(u.mean(dim=(-2, -1)), u0.mean(dim=(-2, -1))[:, None] + 0.5 * times, atol=1e-13)
    assert relative_l2(u[:, -1], u0) > 0.1  # the field really moved


def test_result_does_not_depend_on_dt_and_float32_tracks_float64():
    u0 = gaussian_random_field(1, 16, seed=2, dtype=torch.float64)
    v0 = torch.zeros_like(u0)
    u, _ = wave_2d(u0, v0, 1.0, t_end=1.0, record_every=0.5)
    assert torch.equal(wave_2d(u0, v0, 1.0, t_end=1.0, record_every=0.5, dt=0.3)[0], u)
    u32, _ = wave_2d(u0.float(), v0.float(), 1.0, t_end=1.0, record_every=0.5)
    assert u32.dtype == torch.float32 and relative_l2(u32.double(), u) < 1e-5


@pytest.mark.parametrize(
    "u0, kwargs, message",
    [
        (torch.zeros(2, 8, 6), {}, r"shape \(B, n, n\)"),
        (torch.full((2, 8, 8), math.inf), {}, "non-finite"),
        (torch.zeros(2, 8, 8), dict(speed=-1.0), "speed must be finite and non-negative"),
        (torch.zeros(2, 8, 8), dict(t_end=1.5, record_every=1.0), "multiple of record_every"),
        (torch.zeros(2, 8, 8), dict(dt=-0.1), "dt must be positive"),
        (torch.zeros(2, 8, 8), dict(v0=torch.zeros(2, 4, 4)), "must match u0"),
    ],
)
def test_bad_input_is_named(u0, kwargs, message):
    arguments = dict(v0=torch.zeros(2, 8, 8), speed=1.0, t_end=1.0) | kwargs
    with pytest.raises(ValueError, match=message):
        wave_2d(u0, **arguments)
