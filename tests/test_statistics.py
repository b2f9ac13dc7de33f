"""Attractor statistics against fields and processes whose statistics are known exactly."""

import math

import pytest
import torch

from zoo.eval.spectra import enstrophy_spectrum, kinetic_energy, kinetic_energy_spectrum
from zoo.eval.statistics import (
    autocorrelation,
    compare_statistics,
    dissipation_rate,
    flow_statistics,
    integral_correlation_time,
    pdf_bins,
    spectrum_relative_error,
    vorticity_pdf,
    wasserstein_1,
)


def grid(n, length):
    x = length * torch.arange(n, dtype=torch.float64) / n
    return torch.meshgrid(x, x, indexing="ij")


def test_single_mode_lands_in_its_shell_with_parsevals_energy_on_any_domain():
    # Stream function psi = a cos(3x + 4y) on (0, 2 pi)^2: |k| = 5, u = (psi_y, -psi_x) with
    # <|u|^2> = a^2 |k|^2 / 2, and w = -Laplacian psi = |k|^2 psi with <w^2> = a^2 |k|^4 / 2.
    a, length = 0.3, 2 * math.pi
    x, y = grid(32, length)
    psi = a * torch.cos(3 * x + 4 * y)
    vorticity = 25 * psi
    u, v = -4 * a * torch.sin(3 * x + 4 * y), 3 * a * torch.sin(3 * x + 4 * y)
    energy = 0.5 * (u**2 + v**2).mean()
    k, spectrum = kinetic_energy_spectrum(vorticity, length=length)
    assert int(spectrum.argmax()) == 5
    torch.testing.assert_close(spectrum[5], energy)
    torch.testing.assert_close(spectrum.sum(), energy)
    torch.testing.assert_close(kinetic_energy(vorticity, length=length), energy)
    _, enstrophy = enstrophy_spectrum(vorticity)
    torch.testing.assert_close(enstrophy[5], 0.5 * (vorticity**2).mean())
    torch.testing.assert_close(enstrophy[5], 25 * spectrum[5])  # Z(k) = |k|^2 E(k) on (0, 2 pi)^2


def test_dissipation_of_a_known_field_matches_the_velocity_gradients():
    # u = (sin x cos y, -cos x sin y): <|grad u|^2> = 1 (four terms of mean 1/4 each), w = -2 sin x sin y.
    x, y = grid(16, 2 * math.pi)
    vorticity = -2 * torch.sin(x) * torch.sin(y)
    assert dissipation_rate(vorticity, viscosity=0.01) == pytest.approx(0.01 * 1.0, rel=1e-12)


def test_wasserstein_of_shifted_gaussian_samples_is_the_shift():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(50_000, generator=generator, dtype=torch.float64)
    b = torch.randn(40_000, generator=generator, dtype=torch.float64) + 0.3
    # Sampling error of W1 between two n ~ 5e4 samples of N(0, 1) is ~ 1 / sqrt(n) ~ 5e-3.
    assert wasserstein_1(a, b) == pytest.approx(0.3, abs=0.02)
    assert wasserstein_1(a, a + 0.7) == pytest.approx(0.7, rel=1e-9)  # a translate: exact up to round-off


def test_wasserstein_of_two_points_is_their_distance_and_symmetric():
    a, b = torch.tensor([0.0, 1.0]), torch.tensor([0.5, 3.0, 4.0])
    # F_a - F_b: 1/2 on [0, .5), 1/6 on [.5, 1), 2/3 on [1, 3), 1/3 on [3, 4).
    expected = 0.5 * 0.5 + 0.5 / 6 + 2 * 2 / 3 + 1 / 3
    assert wasserstein_1(a, b) == pytest.approx(expected, rel=1e-12)
    assert wasserstein_1(b, a) == pytest.approx(expected, rel=1e-12)


def ornstein_uhlenbeck(theta, dt, steps, batch, seed):
    """AR(1) samples of an OU process: C(s) = exp(-s / theta) exactly, correlation time theta."""
    generator = torch.Generator().manual_seed(seed)
    phi = math.exp(-dt / theta)
    noise = torch.randn(batch, steps, generator=generator, dtype=torch.float64) * math.sqrt(1 - phi**2)
    x = torch.empty(batch, steps, dtype=torch.float64)
    x[:, 0] = torch.randn(batch, generator=generator, dtype=torch.float64)
    for t in range(1, steps):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def test_autocorrelation_of_an_ou_process_gives_its_correlation_time():
    theta, dt = 2.0, 0.1
    series = ornstein_uhlenbeck(theta, dt, steps=4000, batch=16, seed=1)
    correlation = autocorrelation(series, max_lag=400)
    lags = dt * torch.arange(401, dtype=torch.float64)
    assert torch.allclose(correlation[:40], torch.exp(-lags[:40] / theta), atol=0.05)
    assert integral_correlation_time(correlation, dt) == pytest.approx(theta, rel=0.1)


def test_integral_correlation_time_of_an_exact_exponential():
    dt, theta = 0.01, 0.5
    exact = torch.exp(-dt * torch.arange(2000, dtype=torch.float64) / theta)
    assert integral_correlation_time(exact, dt) == pytest.approx(theta, rel=1e-3)
    # A correlation that crosses zero is integrated up to the crossing: 1 - s on [0, 1] gives 1/2.
    line = 1 - dt * torch.arange(300, dtype=torch.float64) / 1.005
    assert integral_correlation_time(line, dt) == pytest.approx(0.5025, rel=1e-6)


def test_pdf_integrates_to_one_on_shared_bins():
    values = torch.randn(50_000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    bins = pdf_bins(values, count=80)
    density = vorticity_pdf(values, bins)
    assert float((density * torch.diff(bins)).sum()) == pytest.approx(1.0, abs=1e-4)
    centre = 0.5 * (bins[1:] + bins[:-1])
    peak = density[(centre.abs() < 0.1)].mean()
    assert float(peak) == pytest.approx(1 / math.sqrt(2 * math.pi), rel=0.05)


def random_flow(frames, n, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(frames, n, n, generator=generator, dtype=torch.float64)


def test_a_flow_compared_with_itself_has_zero_distances():
    w = random_flow(12, 16, seed=3)
    distances, model, reference = compare_statistics(w, w, dt=0.1, viscosity=1e-3, length=2 * math.pi)
    assert distances["spectrum_max_relative_error"] == 0
    assert distances["pdf_wasserstein_1_over_std"] == 0
    assert distances["dissipation_relative_error"] == 0
    assert distances["spectrum_k_max"] == 4
    assert len(distances["spectrum_relative_error_per_shell"]) == 4


def test_a_scaled_flow_shows_the_scaling_in_every_distance():
    # w -> 1.1 w: spectra x 1.21 in every shell, dissipation x 1.21, W1 = 0.1 E|w| = 0.1 std sqrt(2 / pi).
    w = random_flow(10, 32, seed=4)
    distances, _, _ = compare_statistics(1.1 * w, w, dt=0.1, viscosity=1e-3, length=1.0, k_max=8)
    assert distances["spectrum_relative_error_per_shell"] == pytest.approx([0.21] * 8, rel=1e-9)
    assert distances["dissipation_relative_error"] == pytest.approx(0.21, rel=1e-9)
    assert distances["pdf_wasserstein_1_over_std"] == pytest.approx(0.1 * math.sqrt(2 / math.pi), rel=0.02)


def test_statistics_pool_trajectories_and_accept_a_single_one():
    w = random_flow(8, 8, seed=5)
    one = flow_statistics(w, dt=0.5, viscosity=0.1, length=1.0)
    two = flow_statistics(torch.stack([w, w]), dt=0.5, viscosity=0.1, length=1.0)
    torch.testing.assert_close(one.energy_spectrum, two.energy_spectrum)
    assert one.energy.shape == (1, 8) and two.energy.shape == (2, 8)
    torch.testing.assert_close(one.energy[0], kinetic_energy(w))
    assert set(one.summary()) == {"dissipation", "mean_energy", "mean_enstrophy", "vorticity_std", "energy_correlation_time"}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: flow_statistics(torch.zeros(4, 8), dt=0.1, viscosity=0.1, length=1.0), "must be \\(T, n, n\\)"),
        (lambda: flow_statistics(torch.full((3, 8, 8), float("nan")), dt=0.1, viscosity=0.1, length=1.0), "non-finite"),
        (lambda: flow_statistics(torch.randn(3, 8, 8), dt=0.0, viscosity=0.1, length=1.0), "dt > 0"),
        (lambda: autocorrelation(torch.ones(10)), "constant"),
        (lambda: spectrum_relative_error(torch.ones(5), torch.ones(5), 7), "k_max"),
        (lambda: compare_statistics(torch.randn(3, 8, 8), torch.randn(3, 16, 16), dt=0.1, viscosity=0.1, length=1.0), "one grid"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_statistics_plots_are_written_as_png(tmp_path):
    from zoo.eval.plots import plot_flow_statistics

    reference = flow_statistics(random_flow(6, 16, seed=6), dt=0.1, viscosity=1e-3, length=2 * math.pi)
    model = flow_statistics(1.1 * random_flow(6, 16, seed=7), dt=0.1, viscosity=1e-3, length=2 * math.pi, bins=reference.bins)
    paths = plot_flow_statistics({"solver": reference, "model": model}, tmp_path, prefix="x-")
    assert sorted(paths) == ["autocorrelation", "energy", "pdf", "spectrum"]
    for path in paths.values():
        assert path.name.startswith("x-") and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
