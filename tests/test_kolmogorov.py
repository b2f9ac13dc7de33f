"""Kolmogorov flow on (0, 2 pi)^2 by the unit-square solver, and its data recipe."""

import math

import pytest
import torch

from zoo.data.kolmogorov import kolmogorov_recipe
from zoo.pde.kolmogorov import DOMAIN_LENGTH, kolmogorov_flow, laminar_vorticity
from zoo.pde.spectral import laplacian, spectral_derivative


def grid_y(n):
    return (DOMAIN_LENGTH * torch.arange(n, dtype=torch.float64) / n).expand(n, n)


def test_laminar_shear_flow_is_steady():
    # nu w'' = -16 nu A cos 4y must cancel the forcing -4 cos 4y: A = -Re / 4 (-125 at Re = 500).
    n, reynolds = 32, 500.0
    w0 = laminar_vorticity(grid_y(n), reynolds)[None]
    assert float(w0.abs().max()) == pytest.approx(125.0)
    w = kolmogorov_flow(w0, reynolds, 0.5, 0.5)
    assert torch.allclose(w[0, -1], w0[0], rtol=0, atol=1e-9 * 125)


def test_laminar_shear_flow_with_drag_is_steady():
    # (-16 / Re - alpha) A = 4: the drag lowers the steady amplitude.
    n, reynolds, drag = 32, 40.0, 0.1
    amplitude = -4.0 / (16.0 / reynolds + drag)
    w0 = (amplitude * torch.cos(4 * grid_y(n)))[None]
    w = kolmogorov_flow(w0, reynolds, 1.0, 1.0, drag=drag)
    assert torch.allclose(w[0, -1], w0[0], rtol=0, atol=1e-9 * abs(amplitude))
    # Without drag the same start relaxes to the drag-free amplitude -Re / 4 at the rate 16 / Re.
    t = 2.0
    relaxed = -reynolds / 4 + (amplitude + reynolds / 4) * math.exp(-16 * t / reynolds)
    w = kolmogorov_flow(w0, reynolds, t, t)
    torch.testing.assert_close(w[0, -1], relaxed * torch.cos(4 * grid_y(n)), rtol=0, atol=1e-5 * abs(amplitude))


def test_initial_rate_is_the_vorticity_equation_on_the_two_pi_domain():
    # Independent of the unit-square mapping: the right-hand side from spectral derivatives on (0, 2 pi)^2.
    n, reynolds, drag, tau = 32, 100.0, 0.1, 1e-5
    x = DOMAIN_LENGTH * torch.arange(n, dtype=torch.float64) / n
    x, y = torch.meshgrid(x, x, indexing="ij")
    psi = torch.sin(x + 2 * y) + 0.5 * torch.cos(3 * x - y) + 0.3 * torch.sin(2 * x)
    w0 = -laplacian(psi, 2, length=DOMAIN_LENGTH)
    u, v = spectral_derivative(psi, [0, 1], length=DOMAIN_LENGTH), -spectral_derivative(psi, [1, 0], length=DOMAIN_LENGTH)
    w_x, w_y = spectral_derivative(w0, [1, 0], length=DOMAIN_LENGTH), spectral_derivative(w0, [0, 1], length=DOMAIN_LENGTH)
    rhs = -(u * w_x + v * w_y) + laplacian(w0, 2, length=DOMAIN_LENGTH) / reynolds - drag * w0 - 4 * torch.cos(4 * y)
    w = kolmogorov_flow(w0[None], reynolds, tau, tau, drag=drag, dt=tau / 4)
    rate = (w[0, -1] - w0) / tau
    assert float((rate - rhs).norm() / rhs.norm()) < 1e-3


def tiny_recipe(**overrides):
    options = dict(reynolds=100.0, steps=3, record_every=0.1, resolution=8, solve_resolution=16, spin_up=0.5, spin_up_resolution=8, settle=0.2)
    return kolmogorov_recipe(**options | overrides)


def test_recipe_samples_depend_on_their_index_alone_and_are_stored_by_stride():
    recipe = tiny_recipe()
    both = recipe.solve(0, 2, 7)["vorticity"]
    second = recipe.solve(1, 2, 7)["vorticity"]
    assert both.shape == (2, 4, 8, 8) and both.dtype == torch.float32
    torch.testing.assert_close(both[1:], second)
    fine = tiny_recipe(resolution=16).solve(1, 2, 7)["vorticity"]
    torch.testing.assert_close(fine[..., ::2, ::2], second)
    assert not torch.equal(both[0], both[1])
    assert recipe.description["parameters"]["viscosity"] == pytest.approx(0.01)
    assert recipe.description["times"] == pytest.approx([0.0, 0.1, 0.2, 0.3])


@pytest.mark.parametrize(
    "overrides, message",
    [(dict(resolution=6), "must divide"), (dict(spin_up_resolution=32), "must not exceed"), (dict(steps=0), "steps >= 1")],
)
def test_recipe_bad_settings_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_recipe(**overrides)


def test_negative_reynolds_or_drag_is_refused():
    with pytest.raises(ValueError, match="reynolds"):
        kolmogorov_flow(torch.zeros(1, 8, 8), -1.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="drag"):
        kolmogorov_flow(torch.zeros(1, 8, 8), 100.0, 0.1, 0.1, drag=-0.1)
    assert math.isfinite(float(kolmogorov_flow(torch.zeros(1, 8, 8), 100.0, 0.1, 0.1).abs().max()))


def test_recipe_solved_in_segments_matches_one_solve(monkeypatch):
    import zoo.data.kolmogorov as module

    whole = tiny_recipe().solve(0, 1, 3)["vorticity"]
    monkeypatch.setattr(module, "_SEGMENT", 2)
    segmented = tiny_recipe().solve(0, 1, 3)["vorticity"]
    assert segmented.shape == whole.shape == (1, 4, 8, 8)
    # Restarting from the stored float32 state only rounds it: agreement to float32 precision.
    torch.testing.assert_close(segmented, whole, rtol=0, atol=1e-5 * float(whole.abs().max()))
