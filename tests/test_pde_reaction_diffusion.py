"""Gray-Scott against its homogeneous steady states, the linear diffusion limit, the reaction ODE and refined solves."""

import math

import pytest
import torch
from scipy.integrate import solve_ivp

from zoo.pde.navier_stokes import periodic_grid
from zoo.pde.reaction_diffusion import gray_scott_2d

TAU = 2 * math.pi
FEED, KILL = 0.04, 0.05  # F >= 4 (F + k)^2: two nontrivial homogeneous steady states exist


def relative_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


def spot(n, batch=1):
    """A smooth patch of autocatalyst in a sea of substrate, the usual seed of Gray-Scott patterns."""
    x, y = periodic_grid(n, dtype=torch.float64)
    g = torch.exp(-((x - 0.5) ** 2 + (y - 0.4) ** 2) / 0.01) + 0.5 * torch.exp(-((x - 0.2) ** 2 + (y - 0.7) ** 2) / 0.005)
    return (1 - 0.5 * g).expand(batch, n, n).clone(), (0.25 * g).expand(batch, n, n).clone()


def test_homogeneous_steady_states_stay_put():
    root = math.sqrt(1 - 4 * (FEED + KILL) ** 2 / FEED)
    b_star = [(1 + s * root) * FEED / (2 * (FEED + KILL)) for s in (1, -1)]
    states = [(1.0, 0.0)] + [((FEED + KILL) / b, b) for b in b_star]
    a0 = torch.stack([torch.full((16, 16), a, dtype=torch.float64) for a, _ in states])
    b0 = torch.stack([torch.full((16, 16), b, dtype=torch.float64) for _, b in states])
    a, b = gray_scott_2d(a0, b0, FEED, KILL, 1e-3, 5e-4, t_end=20.0, record_every=10.0)
    assert (a - a0[:, None]).abs().max() < 1e-13 and (b - b0[:, None]).abs().max() < 1e-13


def test_uniform_state_follows_the_reaction_ode():
    a0, b0, t_end = 0.6, 0.3, 10.0
    reference = solve_ivp(
        lambda t, s: [-s[0] * s[1] ** 2 + FEED * (1 - s[0]), s[0] * s[1] ** 2 - (FEED + KILL) * s[1]],
        (0, t_end), [a0, b0], rtol=1e-12, atol=1e-14,
    ).y[:, -1]
    errors = []
    for dt in (0.2, 0.1):
        a, b = gray_scott_2d(
            torch.full((1, 8, 8), a0, dtype=torch.float64), torch.full((1, 8, 8), b0, dtype=torch.float64),
            FEED, KILL, 1e-3, 5e-4, t_end, record_every=t_end, dt=dt,
        )
        assert a.std() < 1e-14  # stays uniform
        errors.append(math.hypot(float(a.mean()) - reference[0], float(b.mean()) - reference[1]))
    assert errors[1] < 1e-4
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1)


def test_linear_diffusion_limit_is_exact():
    # F = 0: with b = 0, a only diffuses; with a = 0, b diffuses and decays at rate k.
    n, d_a, d_b, kill, t = 16, 2e-3, 1e-3, 0.05, 5.0
    x, y = periodic_grid(n, dtype=torch.float64)
    pattern = torch.cos(TAU * (x + 2 * y)) + 0.5 * torch.sin(TAU * 3 * x)
    zero = torch.zeros_like(pattern)
    a, b = gray_scott_2d(torch.stack([pattern, zero]), torch.stack([zero, pattern]), 0.0, kill, d_a, d_b, t, record_every=t, dt=0.01)

    def diffused(d, decay):
        return (torch.cos(TAU * (x + 2 * y)) * math.exp(-d * TAU**2 * 5 * t) + 0.5 * torch.sin(TAU * 3 * x) * math.exp(-d * TAU**2 * 9 * t)) * math.exp(-decay * t)

    # Crank-Nicolson errs by (D |k|^2 dt)^3 / 12 per step: up to ~1e-5 over these 500 steps.
    assert relative_l2(a[0, -1], diffused(d_a, 0.0)) < 1e-5 and relative_l2(b[1, -1], diffused(d_b, kill)) < 1e-5
    assert a[1].abs().max() == 0 and b[0].abs().max() == 0


def test_second_order_in_time_on_a_growing_pattern():
    a0, b0 = spot(32)
    solve = lambda dt: torch.stack(gray_scott_2d(a0, b0, 0.035, 0.06, 1e-3, 5e-4, 40.0, record_every=40.0, dt=dt))  # noqa: E731
    reference = solve(1 / 32)
    errors = [relative_l2(solve(dt), reference) for dt in (0.5, 0.25)]
    assert relative_l2(reference[1, :, -1], b0) > 0.3  # the pattern really changed
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.15)


@pytest.mark.parametrize(
    "a0, kwargs, message",
    [
        (torch.zeros(2, 8, 6), {}, r"shape \(B, n, n\)"),
        (torch.full((2, 8, 8), math.nan), {}, "non-finite"),
        (torch.zeros(2, 8, 8), dict(diffusivity_a=-1.0), "diffusivity_a must be finite and non-negative"),
        (torch.zeros(2, 8, 8), dict(feed=-0.1), "feed must be finite and non-negative"),
        (torch.zeros(2, 8, 8), dict(t_end=1.5, record_every=1.0), "multiple of record_every"),
        (torch.zeros(2, 8, 8), dict(b0=torch.zeros(2, 8, 8, dtype=torch.float64)), "must match a0"),
        (torch.ones(2, 8, 8), dict(dt=1.0), "Heun's limit"),
    ],
)
def test_bad_input_is_named(a0, kwargs, message):
    arguments = dict(b0=torch.ones(2, 8, 8), feed=0.04, kill=0.06, diffusivity_a=1e-3, diffusivity_b=5e-4, t_end=1.0) | kwargs
    with pytest.raises(ValueError, match=message):
        gray_scott_2d(a0, **arguments)
