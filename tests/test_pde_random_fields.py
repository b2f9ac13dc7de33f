"""Random-field samplers: their laws against independently summed spectra, determinism, errors."""

import math

import numpy as np
import pytest
import torch

from zoo.pde.random_fields import cosine_random_field, gaussian_random_field


def periodic_variance(resolution, dim, alpha, tau, sigma):
    """Pointwise variance of the FNO law: sum over k != 0 of 2 sigma^2 (4 pi^2 |k|^2 + tau^2)^(-alpha)."""
    k = np.fft.fftfreq(resolution, 1.0 / resolution)
    grids = np.meshgrid(*[k] * dim, indexing="ij")
    k2 = sum(g**2 for g in grids)
    terms = 2 * sigma**2 * (4 * math.pi**2 * k2 + tau**2) ** (-alpha)
    return terms.sum() - terms.flat[0]


def test_fno_vorticity_law_has_the_paper_data_std_at_64():
    # The paper's data has std(w0) ~ 0.26 at 64x64 (facts.md); its law is 2 sigma^2 (-lap + 49)^-2.5.
    expected = periodic_variance(64, 2, 2.5, 7.0, 7.0**1.5)
    assert math.sqrt(expected) == pytest.approx(0.26, abs=0.005)
    w = gaussian_random_field(2000, 64, seed=0, dtype=torch.float64)
    # Each field has few effective degrees of freedom (the spectrum is red): average over many.
    assert w.var().item() == pytest.approx(expected, rel=0.05)
    assert w.mean().abs().item() < 0.01


@pytest.mark.parametrize("dim, alpha, tau", [(1, 2.0, 5.0), (2, 2.0, 3.0), (3, 2.5, 4.0)])
def test_periodic_field_spectrum_matches_its_law_per_mode(dim, alpha, tau):
    resolution = 8
    w = gaussian_random_field(4000, resolution, dim=dim, alpha=alpha, tau=tau, seed=1, dtype=torch.float64)
    power = (torch.fft.fftn(w, dim=tuple(range(1, dim + 1)), norm="forward").abs() ** 2).mean(0).numpy()
    k = np.fft.fftfreq(resolution, 1.0 / resolution)
    k2 = sum(g**2 for g in np.meshgrid(*[k] * dim, indexing="ij"))
    sigma = tau ** (alpha - dim / 2)
    # Re(xi a e^{ikx}) with E|xi|^2 = 2 puts power a^2 / 2 at k and at -k (a real field's mirror),
    # plus the mirror's own draw: E|u_hat(k)|^2 = (a_k^2 + a_{-k}^2) / 2 = a_k^2 for this symmetric law.
    law = 2 * sigma**2 * (4 * math.pi**2 * k2 + tau**2) ** (-alpha)
    law.flat[0] = 0.0
    assert np.allclose(power, law, rtol=0.15, atol=1e-12 * law.max())


def test_seed_and_generator_determine_the_field_on_any_dtype():
    a = gaussian_random_field(3, 16, seed=5, dtype=torch.float64)
    b = gaussian_random_field(3, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float32)
    assert torch.allclose(a.float(), b, atol=1e-7)
    assert not torch.allclose(a, gaussian_random_field(3, 16, seed=6, dtype=torch.float64))


def test_cosine_field_has_neumann_law_and_zero_mean():
    resolution, alpha, tau = 16, 2.0, 3.0
    a = cosine_random_field(3000, resolution, alpha=alpha, tau=tau, seed=0)
    import scipy.fft

    coefficients = scipy.fft.dctn(a, type=2, axes=(1, 2), norm="ortho") / resolution
    k = np.arange(resolution)
    law = tau ** (2 * (alpha - 1)) * (math.pi**2 * (k[:, None] ** 2 + k[None] ** 2) + tau**2) ** (-alpha)
    law[0, 0] = 0.0
    assert np.allclose((coefficients**2).mean(0), law, rtol=0.15, atol=1e-12)
    assert np.abs(a.mean(axis=(1, 2))).max() < 1e-12
    # A cosine series has zero normal derivative at the walls: the field is even about them.
    assert np.abs(a[:, 0] - a[:, 1]).mean() < np.abs(a[:, 7] - a[:, 8]).mean()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(batch=2, resolution=8, alpha=0.9), "alpha must exceed"),
        (dict(batch=2, resolution=8, tau=0.0), "tau must be positive"),
        (dict(batch=0, resolution=8), "batch >= 1"),
        (dict(batch=2, resolution=8, seed=1, generator=torch.Generator()), "either generator or seed"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gaussian_random_field(**kwargs)
