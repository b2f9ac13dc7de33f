"""PINO residuals vanish on exact solutions (to the expected order) and not on perturbed fields."""

import math

import pytest
import torch

from zoo.pde import burgers_1d, darcy_2d, gaussian_random_field, navier_stokes_2d, threshold_coefficient
from zoo.pde.navier_stokes import fno_forcing, periodic_grid
from zoo.losses.physics import (
    DarcyPhysics,
    NavierStokesPhysics,
    burgers_residual,
    darcy_residual,
    dirichlet_boundary,
    navier_stokes_residual,
    stream_function,
)

TWO_PI = 2 * math.pi


def grid(n, dtype=torch.float64):
    return torch.arange(n, dtype=dtype) / n


def norm(u):
    return u.square().mean().sqrt().item()


# ---- Burgers: the Cole-Hopf solution u = -2 nu phi_x / phi with phi_t = nu phi_xx.


def cole_hopf(x, t, nu, a=2.0, b=1.0):
    decay = b * torch.exp(-nu * TWO_PI**2 * t)[:, None]
    return 2 * nu * TWO_PI * decay * torch.sin(TWO_PI * x) / (a + decay * torch.cos(TWO_PI * x))


@pytest.mark.parametrize("nu", [0.05, 0.2])
def test_burgers_residual_vanishes_on_cole_hopf_at_second_order_in_time(nu):
    x = grid(128)
    errors = []
    t_end = 0.02 / nu  # about one e-folding of the decay nu (2 pi)^2 t
    for steps in (20, 40):
        dt = t_end / steps
        u = cole_hopf(x, dt * torch.arange(steps + 1, dtype=torch.float64), nu)
        errors.append(norm(burgers_residual(u, dt=dt, viscosity=nu)))
        # Relative to u_t + u u_x, the terms the viscous term balances, the residual is tiny.
        assert errors[-1] < 2e-3 * norm(burgers_residual(u, dt=dt, viscosity=0.0))
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1)


def test_burgers_residual_sees_an_error_alternating_from_frame_to_frame():
    # (u[n+1] - u[n-1]) / 2 dt cannot see it; the midpoint residual must.
    nu, dt, x = 0.05, 0.01, grid(64)
    u = cole_hopf(x, dt * torch.arange(11, dtype=torch.float64), nu)
    alternating = 1e-3 * (-1.0) ** torch.arange(11, dtype=torch.float64)[:, None] * torch.ones(64, dtype=torch.float64)
    residual = burgers_residual(u + alternating, dt=dt, viscosity=nu)
    assert norm(residual) > 0.5 * 2e-3 / dt


def test_burgers_residual_is_large_on_a_perturbed_solution():
    nu, dt, x = 0.05, 0.01, grid(128)
    u = cole_hopf(x, dt * torch.arange(21, dtype=torch.float64), nu)
    exact = norm(burgers_residual(u, dt=dt, viscosity=nu))
    perturbed = u + 0.02 * norm(u) * torch.sin(3 * TWO_PI * x)
    assert norm(burgers_residual(perturbed, dt=dt, viscosity=nu)) > 100 * exact


# ---- Navier-Stokes: a manufactured solution whose advection term does not vanish.


def manufactured_vorticity(n, times):
    """w = e^{-t} (cos 2 pi x + sin 4 pi y) and the forcing that makes it an exact solution.

    psi = e^{-t} (cos(2 pi x) / (4 pi^2) + sin(4 pi y) / (16 pi^2)), so u = psi_y =
    e^{-t} cos(4 pi y) / (4 pi), v = -psi_x = e^{-t} sin(2 pi x) / (2 pi) and
    u w_x + v w_y = e^{-2t} (3/2) sin(2 pi x) cos(4 pi y); lap w = -e^{-t} (4 pi^2 cos 2 pi x +
    16 pi^2 sin 4 pi y); f = w_t + u . grad w - nu lap w.
    """
    x = grid(n)[:, None]
    y = grid(n)[None, :]
    decay = torch.exp(-times)[:, None, None]
    w = decay * (torch.cos(TWO_PI * x) + torch.sin(2 * TWO_PI * y))
    advection = decay**2 * 1.5 * torch.sin(TWO_PI * x) * torch.cos(2 * TWO_PI * y)
    lap = -decay * (4 * math.pi**2 * torch.cos(TWO_PI * x) + 16 * math.pi**2 * torch.sin(2 * TWO_PI * y))
    return w, lambda nu: -w + advection - nu * lap


def test_stream_function_inverts_minus_laplacian():
    x = grid(32)[:, None]
    y = grid(32)[None, :]
    psi = torch.sin(TWO_PI * x) * torch.cos(2 * TWO_PI * y)
    w = 5 * 4 * math.pi**2 * psi  # -lap psi for wavenumbers (1, 2)
    torch.testing.assert_close(stream_function(w), psi, rtol=0, atol=1e-12)


def test_navier_stokes_residual_vanishes_on_a_manufactured_solution_at_second_order():
    nu, errors = 1e-3, []
    for steps in (10, 20):
        dt = 0.2 / steps
        times = dt * torch.arange(steps + 1, dtype=torch.float64)
        w, forcing = manufactured_vorticity(32, times)
        f = forcing(nu)
        f = (f[1:] + f[:-1]) / 2  # at the midpoints between frames, to second order
        errors.append(norm(navier_stokes_residual(w, dt=dt, viscosity=nu, forcing=f)))
        assert errors[-1] < 1e-3 * norm(f)
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1)


def test_navier_stokes_residual_follows_the_fno_axis_convention():
    # Swapping x and y reverses the advection term u . grad w, which is not zero here.
    nu, dt = 1e-3, 0.01
    w, forcing = manufactured_vorticity(32, dt * torch.arange(11, dtype=torch.float64))
    f = forcing(nu)
    f = (f[1:] + f[:-1]) / 2
    good = norm(navier_stokes_residual(w, dt=dt, viscosity=nu, forcing=f))
    swapped = norm(navier_stokes_residual(w.transpose(-1, -2), dt=dt, viscosity=nu, forcing=f.transpose(-1, -2)))
    assert swapped > 1e3 * good


def test_fno_forcing_has_an_exact_steady_state():
    # w = f / (8 pi^2 nu) depends on x + y only, so its advection vanishes and -nu lap w = f.
    nu = 1e-3
    steady = (fno_forcing(*periodic_grid(64, dtype=torch.float64)) / (8 * math.pi**2 * nu)).expand(5, 64, 64)
    residual = navier_stokes_residual(steady, dt=1.0, viscosity=nu, forcing="fno")
    assert norm(residual) < 1e-12
    perturbed = steady + 0.01 * norm(steady) * torch.randn(64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert norm(navier_stokes_residual(perturbed, dt=1.0, viscosity=nu, forcing="fno")) > 1e3 * norm(residual) + 1e-3


def test_taylor_green_vortex_decays_without_forcing():
    nu, dt = 0.01, 0.005
    x = grid(32)[:, None]
    y = grid(32)[None, :]
    times = dt * torch.arange(9, dtype=torch.float64)
    w = torch.exp(-8 * math.pi**2 * nu * times)[:, None, None] * torch.sin(TWO_PI * x) * torch.sin(TWO_PI * y)
    assert norm(navier_stokes_residual(w, dt=dt, viscosity=nu, forcing=None)) < 1e-4 * norm(8 * math.pi**2 * nu * w)
    wrong_viscosity = navier_stokes_residual(w, dt=dt, viscosity=2 * nu, forcing=None)
    assert norm(wrong_viscosity) > 0.5 * norm(8 * math.pi**2 * nu * w)


# ---- Darcy: a manufactured solution with zero boundary values and a smooth permeability.


def manufactured_darcy(n):
    """u = sin(pi x) sin(pi y), a = 1 + x^2 + y / 2, f = -div(a grad u) by hand."""
    s = torch.linspace(0, 1, n, dtype=torch.float64)
    x, y = s[:, None], s[None, :]
    u = torch.sin(math.pi * x) * torch.sin(math.pi * y)
    a = 1 + x**2 + 0.5 * y
    f = (
        -2 * x * math.pi * torch.cos(math.pi * x) * torch.sin(math.pi * y)
        - 0.5 * math.pi * torch.sin(math.pi * x) * torch.cos(math.pi * y)
        + 2 * math.pi**2 * a * u
    )
    return u, a.expand(n, n), f


def test_darcy_residual_vanishes_on_a_manufactured_solution_at_second_order():
    errors = []
    for n in (33, 65):
        u, a, f = manufactured_darcy(n)
        residual = darcy_residual(u, a, forcing=f)
        assert residual.shape == (n - 2, n - 2)
        errors.append(residual.abs().max().item())
    assert errors[1] < 1e-3 * f.abs().max().item()
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1)


def test_darcy_residual_is_large_on_a_perturbed_solution():
    u, a, f = manufactured_darcy(65)
    exact = norm(darcy_residual(u, a, forcing=f))
    s = torch.linspace(0, 1, 65, dtype=torch.float64)
    bump = torch.sin(3 * math.pi * s)[:, None] * torch.sin(2 * math.pi * s)[None, :]
    assert norm(darcy_residual(u + 0.01 * bump, a, forcing=f)) > 30 * exact


def test_dirichlet_boundary_lists_each_boundary_node_once():
    field = torch.arange(20.0).reshape(4, 5)
    ring = dirichlet_boundary(field)
    assert sorted(ring.tolist()) == [0, 1, 2, 3, 4, 5, 9, 10, 14, 15, 16, 17, 18, 19]


def test_darcy_physics_loss_is_small_for_the_solution_and_penalises_interior_and_boundary_errors():
    u, a, f = manufactured_darcy(33)
    loss = DarcyPhysics(forcing=f.float())
    inputs, prediction = a[None, None].float(), u[None, None].float()
    exact = loss(inputs, prediction).item()
    assert exact < 1e-5
    s = torch.linspace(0, 1, 33)
    interior_bump = torch.sin(3 * math.pi * s)[:, None] * torch.sin(2 * math.pi * s)[None, :]
    assert loss(inputs, prediction + 0.05 * interior_bump).item() > 100 * exact
    # A constant shift leaves -div(a grad u) alone and only breaks the boundary condition.
    shifted = loss(inputs, prediction + 0.1).item()
    assert shifted == pytest.approx(exact + 0.01 / (prediction + 0.1).square().mean().item(), rel=1e-3)


# ---- on the output of zoo's own solvers


def test_navier_stokes_residual_vanishes_on_solver_output_at_second_order():
    nu, w0 = 1e-3, gaussian_random_field(1, 32, seed=0, dtype=torch.float64)
    errors = []
    for record_every in (0.02, 0.01):
        w = torch.cat([w0[:, None], navier_stokes_2d(w0, nu, t_end=0.2, record_every=record_every)], dim=1)
        errors.append(norm(navier_stokes_residual(w, dt=record_every, viscosity=nu)))
        w_t = (w[:, 1:] - w[:, :-1]) / record_every
        assert errors[-1] < 1e-3 * norm(w_t)
        perturbed = w + 0.01 * norm(w) * torch.randn(w.shape, dtype=w.dtype, generator=torch.Generator().manual_seed(1))
        assert norm(navier_stokes_residual(perturbed, dt=record_every, viscosity=nu)) > 100 * errors[-1]
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.15)
    # Without the solver's 2/3 rule, the grid-scale energy of a random field leaves a residual.
    assert norm(navier_stokes_residual(w, dt=0.01, viscosity=nu, dealias=False)) > 100 * errors[1]
    loss = NavierStokesPhysics(viscosity=nu, dt=0.01)
    assert loss(w[:, :1], w[:, 1:]).item() == pytest.approx(errors[1] ** 2, rel=1e-3)


def test_burgers_residual_vanishes_on_solver_output_at_second_order():
    # A smooth (band-limited) start: grid-scale modes of a rough one decay within a fraction of a
    # record (nu k^2 ~ 1600 at k = 2 pi 64), a transient no difference over records resolves.
    nu, x = 0.01, grid(128)
    u0 = (0.3 * torch.sin(TWO_PI * x) + 0.1 * torch.cos(2 * TWO_PI * x + 1.0))[None]
    errors = []
    for record_every in (0.01, 0.005):
        u = torch.cat([u0[:, None], burgers_1d(u0, nu, 0.2, record_every=record_every)], dim=1)
        errors.append(norm(burgers_residual(u, dt=record_every, viscosity=nu)))
        assert errors[-1] < 1e-3 * norm((u[:, 1:] - u[:, :-1]) / record_every)
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.15)


def test_darcy_residual_is_round_off_on_solver_output():
    # The solver discretises with the same conservative stencil: the residual is round-off.
    a = threshold_coefficient(2, 33, seed=0)
    u = darcy_2d(a, forcing=1.0)
    assert norm(darcy_residual(u, a, forcing=1.0)) < 1e-10
    assert dirichlet_boundary(u).abs().max().item() == 0.0
    s = torch.linspace(0, 1, 33, dtype=torch.float64)
    bump = torch.sin(math.pi * s)[:, None] * torch.sin(2 * math.pi * s)[None, :]
    assert norm(darcy_residual(u + 0.01 * norm(u) * bump, a, forcing=1.0)) > 1e-3
