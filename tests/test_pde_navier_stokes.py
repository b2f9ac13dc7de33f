"""The Navier-Stokes solver against exact solutions, its own refinements and independent formulas."""

import math

import pytest
import torch

from zoo.pde.navier_stokes import navier_stokes_2d, passive_scalar_2d, periodic_grid
from zoo.pde.random_fields import gaussian_random_field


def relative_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_taylor_green_vortices_decay_exactly():
    # Any combination of modes on one wavenumber shell is a steady Euler flow (u . grad w = 0), so
    # w(t) = w0 exp(-nu |2 pi k|^2 t); shell |k|^2 = 25 holds (3, 4) and (5, 0).
    x, y = periodic_grid(32, dtype=torch.float64)
    w0 = torch.stack([
        torch.sin(2 * math.pi * x) * torch.sin(2 * math.pi * y),
        torch.cos(2 * math.pi * (3 * x + 4 * y)) + 0.5 * torch.sin(2 * math.pi * 5 * x),
    ])
    shell = torch.tensor([2.0, 25.0], dtype=torch.float64).reshape(2, 1, 1, 1)
    nu = 0.01
    w = navier_stokes_2d(w0, nu, t_end=0.1, record_every=0.05, forcing=None, dt=2e-4)
    times = torch.tensor([0.05, 0.1], dtype=torch.float64).reshape(1, 2, 1, 1)
    exact = w0[:, None] * torch.exp(-nu * 4 * math.pi**2 * shell * times)
    # Crank-Nicolson's error per step is (nu |2 pi k|^2 dt)^3 / 12: about 1e-7 over these 500 steps.
    assert relative_l2(w, exact) < 1e-6


def analytic_flow(x, y):
    """Stream function psi = sin(2 pi x) cos(4 pi y) + 0.3 cos(2 pi (x + 2 y)) and its derivatives."""
    tau = 2 * math.pi
    a, b = torch.sin(tau * x) * torch.cos(2 * tau * y), torch.cos(tau * (x + 2 * y))
    psi_x = tau * torch.cos(tau * x) * torch.cos(2 * tau * y) - 0.3 * tau * torch.sin(tau * (x + 2 * y))
    psi_y = -2 * tau * torch.sin(tau * x) * torch.sin(2 * tau * y) - 0.6 * tau * torch.sin(tau * (x + 2 * y))
    w = tau**2 * (5 * a + 0.3 * 5 * b)  # -lap psi: |k|^2 = 5 for both terms (units of 2 pi)
    w_x = tau**3 * (5 * torch.cos(tau * x) * torch.cos(2 * tau * y) - 1.5 * torch.sin(tau * (x + 2 * y)))
    w_y = tau**3 * (-10 * torch.sin(tau * x) * torch.sin(2 * tau * y) - 3.0 * torch.sin(tau * (x + 2 * y)))
    return w, psi_y, -psi_x, w_x, w_y


def test_initial_rate_of_change_is_the_analytic_right_hand_side():
    # (w(tau) - w0) / tau -> dw/dt = -u.grad w + nu lap w + f, with every term written analytically.
    x, y = periodic_grid(32, dtype=torch.float64)
    w_a, u_a, v_a, wx_a, wy_a = analytic_flow(x, y)
    w_b = torch.cos(2 * math.pi * 2 * y)  # a shear on another shell makes the advection nonzero
    u_b = -torch.sin(2 * math.pi * 2 * y) / (2 * math.pi * 2)  # psi_y with psi = cos(4 pi y) / (4 pi)^2
    w0 = (w_a + w_b)[None]
    nu, tau = 0.02, 1e-5
    forcing = 0.1 * (torch.sin(2 * math.pi * (x + y)) + torch.cos(2 * math.pi * (x + y)))
    wy_b = -2 * math.pi * 2 * torch.sin(2 * math.pi * 2 * y)
    advection = (u_a + u_b) * wx_a + v_a * (wy_a + wy_b)
    laplacian = -4 * math.pi**2 * (5 * w_a + 4 * w_b)
    rate = -advection + nu * laplacian + forcing
    w = navier_stokes_2d(w0, nu, t_end=tau, record_every=tau, forcing="fno", dt=tau / 4)
    assert relative_l2((w[0, 0] - w0[0]) / tau, rate) < 1e-4


def smooth_initial_vorticity(batch, resolution, seed):
    """A GRF sample low-passed to |k| < 6 and resampled on ``resolution`` points (spectrally exact)."""
    w = gaussian_random_field(batch, 16, seed=seed, dtype=torch.float64)
    w_hat = torch.fft.rfft2(w, norm="forward")
    k = torch.fft.fftfreq(16, 1 / 16).abs()
    w_hat = w_hat * ((k[:, None] < 6) & (k[None, :9] < 6))
    full = torch.zeros(batch, resolution, resolution // 2 + 1, dtype=w_hat.dtype)
    full[:, :6, :6], full[:, -5:, :6] = w_hat[:, :6, :6], w_hat[:, -5:, :6]
    return torch.fft.irfft2(full, s=(resolution, resolution), norm="forward")


def test_resolutions_agree_on_a_resolved_flow():
    w32 = navier_stokes_2d(smooth_initial_vorticity(2, 32, 0), 1e-2, t_end=1.0, dt=0.01)
    w64 = navier_stokes_2d(smooth_initial_vorticity(2, 64, 0), 1e-2, t_end=1.0, dt=0.01)
    assert relative_l2(w32, w64[..., ::2, ::2]) < 1e-6


def test_second_order_in_time():
    w0 = smooth_initial_vorticity(1, 32, 1) * 4  # stronger flow: time error well above round-off
    reference = navier_stokes_2d(w0, 1e-3, t_end=0.5, record_every=0.5, dt=1 / 400)
    errors = [relative_l2(navier_stokes_2d(w0, 1e-3, 0.5, record_every=0.5, dt=dt), reference) for dt in (1 / 25, 1 / 50)]
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.15)


def test_mean_vorticity_is_conserved_and_float32_tracks_float64():
    w0 = gaussian_random_field(2, 32, seed=3, dtype=torch.float64)
    w64 = navier_stokes_2d(w0, 1e-3, t_end=2.0)
    w32 = navier_stokes_2d(w0.float(), 1e-3, t_end=2.0)
    assert w64.mean(dim=(-2, -1)).abs().max() < 1e-14
    assert w32.dtype == torch.float32
    assert relative_l2(w32.double(), w64) < 1e-5


def test_forcing_as_callable_tensor_and_name_agree():
    w0 = gaussian_random_field(1, 16, seed=2, dtype=torch.float64)
    x, y = periodic_grid(16, dtype=torch.float64)
    tensor = 0.1 * (torch.sin(2 * math.pi * (x + y)) + torch.cos(2 * math.pi * (x + y)))
    by_name = navier_stokes_2d(w0, 1e-3, 0.5, record_every=0.5)
    assert torch.equal(navier_stokes_2d(w0, 1e-3, 0.5, record_every=0.5, forcing=tensor), by_name)
    kolmogorov = navier_stokes_2d(w0, 1e-3, 0.5, record_every=0.5, forcing=lambda x, y: torch.cos(8 * math.pi * y))
    assert relative_l2(kolmogorov, by_name) > 1e-2


@pytest.mark.parametrize(
    "w0, kwargs, error, message",
    [
        (torch.zeros(2, 8, 6), {}, ValueError, r"shape \(B, n, n\)"),
        (torch.zeros(2, 8, 8), dict(t_end=1.5, record_every=1.0), ValueError, "multiple of record_every"),
        (torch.zeros(2, 8, 8), dict(viscosity=-1.0), ValueError, "non-negative"),
        (torch.zeros(2, 8, 8), dict(forcing="no-such-forcing"), ValueError, "unknown forcing"),
        (torch.zeros(2, 8, 8), dict(forcing=torch.zeros(4, 4)), ValueError, "forcing has shape"),
        (torch.zeros(2, 8, 8, dtype=torch.int64), {}, TypeError, "real floating"),
    ],
)
def test_bad_input_is_named(w0, kwargs, error, message):
    arguments = dict(viscosity=1e-3, t_end=1.0) | kwargs
    with pytest.raises(error, match=message):
        navier_stokes_2d(w0, **arguments)


def test_too_large_a_step_is_reported_not_returned():
    w0 = 200 * gaussian_random_field(1, 32, seed=0, dtype=torch.float64)
    with pytest.raises(FloatingPointError, match="smaller dt"):
        navier_stokes_2d(w0, 0.0, t_end=5.0, dt=0.5, forcing=None)


def test_scalar_without_flow_diffuses_exactly():
    x, y = periodic_grid(16, dtype=torch.float64)
    c0 = (torch.cos(2 * math.pi * (x + 2 * y)) + 0.5 * torch.sin(2 * math.pi * 3 * x))[None]
    kappa = 0.01
    _, c = passive_scalar_2d(torch.zeros_like(c0), c0, 0.0, kappa, t_end=0.2, record_every=0.2, forcing=None, dt=1e-3)
    exact = torch.cos(2 * math.pi * (x + 2 * y)) * math.exp(-kappa * 4 * math.pi**2 * 5 * 0.2) + 0.5 * torch.sin(
        2 * math.pi * 3 * x
    ) * math.exp(-kappa * 4 * math.pi**2 * 9 * 0.2)
    assert relative_l2(c[0, 0], exact) < 2e-6  # Crank-Nicolson: (kappa |k|^2 dt)^3 / 12 per step


def test_scalar_initial_rate_is_the_analytic_advection_diffusion():
    x, y = periodic_grid(32, dtype=torch.float64)
    w, u, v, _, _ = analytic_flow(x, y)
    c0 = torch.sin(2 * math.pi * x) + torch.cos(2 * math.pi * 2 * y)
    c_x, c_y = 2 * math.pi * torch.cos(2 * math.pi * x), -4 * math.pi * torch.sin(2 * math.pi * 2 * y)
    laplacian = -4 * math.pi**2 * (torch.sin(2 * math.pi * x) + 4 * torch.cos(2 * math.pi * 2 * y))
    kappa, tau = 0.05, 1e-6  # the flow is fast (|u| ~ 30): the O(tau) error needs a short interval
    rate = -(u * c_x + v * c_y) + kappa * laplacian
    _, c = passive_scalar_2d(w[None], c0[None], 0.0, kappa, t_end=tau, record_every=tau, forcing=None, dt=tau / 4)
    assert relative_l2((c[0, 0] - c0) / tau, rate) < 1e-4


def test_advection_conserves_scalar_mean_and_variance():
    w0 = smooth_initial_vorticity(2, 32, 4) * 5
    c0 = smooth_initial_vorticity(2, 32, 5)
    _, c = passive_scalar_2d(w0, c0, 0.0, 0.0, t_end=0.2, record_every=0.1, forcing=None, dt=2e-3)
    assert relative_l2(c[:, -1], c0) > 0.1  # the flow really moved the scalar
    assert (c.mean(dim=(-2, -1)) - c0.mean(dim=(-2, -1))[:, None]).abs().max() < 1e-14
    variance = (c**2).mean(dim=(-2, -1))
    assert ((variance - (c0**2).mean(dim=(-2, -1))[:, None]).abs() / variance).max() < 1e-4


def test_scalar_does_not_change_the_flow():
    w0 = gaussian_random_field(2, 16, seed=3, dtype=torch.float64)
    w, _ = passive_scalar_2d(w0, torch.randn_like(w0), 1e-3, 1e-3, t_end=1.0)
    assert torch.allclose(w, navier_stokes_2d(w0, 1e-3, t_end=1.0), rtol=0, atol=1e-13)


def test_kolmogorov_forcing_drives_the_exact_viscous_shear_flow():
    # From rest the forced flow is a shear u(y) along x, whose advection of its own vorticity
    # vanishes: w(t) = f (1 - exp(-nu k^2 t)) / (nu k^2), k = 8 pi, f = 0.1 sin(8 pi y).
    viscosity, n = 1e-2, 32
    w = navier_stokes_2d(torch.zeros(1, n, n, dtype=torch.float64), viscosity, 2.0, record_every=1.0, forcing="kolmogorov")
    y = torch.arange(n, dtype=torch.float64) / n
    decay = viscosity * (8 * math.pi) ** 2
    for index, t in enumerate((1.0, 2.0)):
        expected = 0.1 * torch.sin(8 * math.pi * y) * (1 - math.exp(-decay * t)) / decay
        assert torch.allclose(w[0, index], expected.expand(n, n), atol=1e-4 * float(expected.abs().max()))
