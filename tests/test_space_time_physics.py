"""The space-time PINO residual of the Kolmogorov equation (zoo.losses.space_time) against the solver and polynomials."""

import pytest
import torch

from train_problems import one_thread
from zoo.losses.space_time import KolmogorovPhysics, kolmogorov_residual, staggered_time_stencils
from zoo.models.space_time import SpaceTimeFNO
from zoo.pde.kolmogorov import kolmogorov_flow
from zoo.pde.random_fields import gaussian_random_field

REYNOLDS, DRAG = 500.0, 0.1


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def test_staggered_stencils_are_exact_on_cubics_and_fourth_order_on_smooth_functions():
    frames, window = 9, 1.0
    derivative, interpolation = staggered_time_stencils(frames)
    t = torch.linspace(0, window, frames, dtype=torch.float64)
    mid = (t[1:] + t[:-1]) / 2
    h = window / (frames - 1)
    for p in range(4):  # the symmetric inside stencils are exact up to cubics
        torch.testing.assert_close(derivative @ t**p / h, p * mid ** max(p - 1, 0) if p else torch.zeros_like(mid), atol=1e-11, rtol=0)
        torch.testing.assert_close(interpolation @ t**p, mid**p, atol=1e-12, rtol=0)
    errors = []
    for n in (9, 17, 33):
        d, _ = staggered_time_stencils(n)
        t = torch.linspace(0, 1, n, dtype=torch.float64)
        errors.append(float((d @ torch.sin(3 * t) * (n - 1) - 3 * torch.cos(3 * (t[1:] + t[:-1]) / 2)).abs().max()))
    assert 12 < errors[0] / errors[1] < 20 and 12 < errors[1] / errors[2] < 20  # 2^4 = 16


def test_staggered_derivative_sees_every_pattern_but_a_constant():
    derivative, _ = staggered_time_stencils(12)
    assert torch.linalg.matrix_rank(derivative) == 11  # null space: the constants only
    alternating = torch.tensor([(-1.0) ** i for i in range(12)], dtype=torch.float64)
    assert (derivative @ alternating).abs().min() > 0.5
    # The fourth-order central difference at the frames is blind to it: why the residual is staggered.
    central = -alternating[4:] + 8 * alternating[3:-1] - 8 * alternating[1:-3] + alternating[:-4]
    assert central.abs().max() == 0


def solver_window(frames: int, window: float = 0.25, n: int = 32, dt: float = 0.25 / 1024):
    w0 = 4 * gaussian_random_field(1, n, seed=0, dtype=torch.float64)
    w = kolmogorov_flow(w0, REYNOLDS, window, window / (frames - 1), drag=DRAG, dt=dt)
    return torch.cat([w0[:, None], w], dim=1)


def test_solver_windows_have_a_small_residual_converging_at_fourth_order_and_perturbed_ones_a_large_one():
    fine = solver_window(17)  # one solve; every 2nd frame is the coarser window
    rms = {}
    for stride in (1, 2):
        window = fine[:, ::stride]
        rms[stride] = float(kolmogorov_residual(window, window=0.25, reynolds=REYNOLDS, drag=DRAG).square().mean().sqrt())
    assert 10 < rms[2] / rms[1] < 20  # fourth order: 16, until the solver's own O(dt^2) error
    rate = float((fine[:, 1:] - fine[:, :-1]).square().mean().sqrt()) / (0.25 / 16)
    assert rms[1] < 1e-4 * rate
    perturbed = fine + 0.01 * fine.std() * torch.randn(fine.shape, generator=torch.Generator().manual_seed(0), dtype=fine.dtype)
    wrong = float(kolmogorov_residual(perturbed, window=0.25, reynolds=REYNOLDS, drag=DRAG).square().mean().sqrt())
    assert wrong > 1e4 * rms[1]


def test_on_a_grid_of_three_halves_the_products_are_exact_and_the_residual_is_back_on_the_fields_modes():
    window = solver_window(9, n=16, dt=0.25 / 512)
    residual = {grid: kolmogorov_residual(window, window=0.25, reynolds=REYNOLDS, drag=DRAG, grid=grid) for grid in (16, 24, 32)}
    assert residual[24].shape == (1, 8, 16, 16)
    # Products of fields with |k| < 8 have |k| < 16: exact on 24 points and on 32 alike.
    torch.testing.assert_close(residual[24], residual[32], atol=1e-9 * float(residual[24].abs().max()), rtol=0)
    # On the fields' own grid the solver's 2/3 rule drops products a 16-point window carries.
    assert (residual[16] - residual[24]).abs().max() > 0.01 * residual[24].abs().max()
    with pytest.raises(ValueError, match="must not be coarser"):
        kolmogorov_residual(window, window=0.25, reynolds=REYNOLDS, drag=DRAG, grid=8)
    with pytest.raises(ValueError, match="at least 5 frames"):
        kolmogorov_residual(window[:, :4], window=0.25, reynolds=REYNOLDS, drag=DRAG)


def test_residual_on_fewer_modes_is_the_low_modes_of_the_full_residual():
    window = solver_window(9, n=16, dt=0.25 / 512)
    full = kolmogorov_residual(window, window=0.25, reynolds=REYNOLDS, drag=DRAG, grid=24)
    low = kolmogorov_residual(window, window=0.25, reynolds=REYNOLDS, drag=DRAG, grid=24, modes=4)
    full_hat, low_hat = torch.fft.rfft2(full), torch.fft.rfft2(low)
    k = torch.fft.fftfreq(16, 1 / 16).abs()
    kept = (k[:, None] < 4) & (torch.arange(9)[None, :] < 4)
    torch.testing.assert_close(low_hat[..., kept], full_hat[..., kept])
    assert low_hat[..., ~kept].abs().max() < 1e-9 * full_hat.abs().max()


def test_physics_loss_is_zero_initial_term_for_the_input_and_trains_a_space_time_model():
    window = solver_window(9, n=16, dt=0.25 / 512).float()
    loss = KolmogorovPhysics(window=0.25, reynolds=REYNOLDS, drag=DRAG)
    pde, initial = loss.terms(window[:, :1], window)
    persistence, _ = loss.terms(window[:, :1], window[:, :1].expand_as(window).clone())
    assert initial == 0 and pde < 1e-2 * persistence
    torch.manual_seed(0)
    model = SpaceTimeFNO(frames=9, window=0.25, modes=(4, 4), width=8, n_layers=2, projection_channels=16, scale=4.0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = float(loss(window[:, :1], model(window[:, :1])))
    for _ in range(5):
        value = loss(window[:, :1], model(window[:, :1]))
        optimiser.zero_grad()
        value.backward()
        optimiser.step()
    assert float(loss(window[:, :1], model(window[:, :1]))) < before
    assert model(torch.randn(2, 1, 24, 24)).shape == (2, 9, 24, 24)  # any grid
