"""Darcy solver: second-order convergence to a manufactured solution, and the coefficient law."""

import math

import numpy as np
import pytest
import torch

from zoo.pde.darcy import darcy_2d, threshold_coefficient


def manufactured(n):
    """u = sin(pi x) sin(2 pi y) e^x (zero on the boundary), smooth a, and f = -div(a grad u) by hand."""
    x = np.linspace(0, 1, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    pi = math.pi
    u = np.sin(pi * X) * np.sin(2 * pi * Y) * np.exp(X)
    u_x = (pi * np.cos(pi * X) + np.sin(pi * X)) * np.sin(2 * pi * Y) * np.exp(X)
    u_xx = (-(pi**2) * np.sin(pi * X) + 2 * pi * np.cos(pi * X) + np.sin(pi * X)) * np.sin(2 * pi * Y) * np.exp(X)
    u_y = 2 * pi * np.sin(pi * X) * np.cos(2 * pi * Y) * np.exp(X)
    u_yy = -4 * pi**2 * u
    a = 2 + np.sin(2 * pi * X + 1) * np.cos(3 * pi * Y)
    a_x = 2 * pi * np.cos(2 * pi * X + 1) * np.cos(3 * pi * Y)
    a_y = -3 * pi * np.sin(2 * pi * X + 1) * np.sin(3 * pi * Y)
    return a, -(a_x * u_x + a * u_xx + a_y * u_y + a * u_yy), u


def test_manufactured_solution_converges_at_second_order():
    errors = []
    for n in (17, 33, 65):
        a, f, u = manufactured(n)
        errors.append(np.abs(darcy_2d(torch.from_numpy(a)[None], torch.from_numpy(f))[0].numpy() - u).max())
    assert errors[-1] < 2e-3
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1) and errors[1] / errors[2] == pytest.approx(4.0, rel=0.1)


def test_constant_coefficient_matches_the_poisson_series_solution():
    # -lap u = 1 on the unit square: u = sum over odd j, k of 16 / (pi^4 j k (j^2 + k^2)) sin(j pi x) sin(k pi y).
    n = 65
    u = darcy_2d(torch.full((1, n, n), 2.0, dtype=torch.float64), 1.0)[0].numpy()
    x = np.linspace(0, 1, n)
    odd = np.arange(1, 200, 2)
    sx = np.sin(np.pi * odd[:, None] * x[None])  # (modes, n)
    weights = 16 / (np.pi**4 * odd[:, None] * odd[None] * (odd[:, None] ** 2 + odd[None] ** 2))
    series = np.einsum("jk,jx,ky->xy", weights, sx, sx) / 2.0
    assert np.abs(u - series).max() / series.max() < 2e-3
    assert np.abs(u[n // 2, n // 2] - 0.0736713532814 / 2) < 1e-4  # centre value of -lap u = 1, over a = 2


def test_batch_solves_are_independent_and_boundary_is_zero():
    a = threshold_coefficient(3, 17, seed=0)
    u = darcy_2d(a, 1.0)
    assert torch.allclose(u[1], darcy_2d(a[1:2], 1.0)[0])
    assert u[:, 0].abs().max() == 0 and u[:, :, -1].abs().max() == 0 and (u[:, 1:-1, 1:-1] > 0).all()


def test_threshold_coefficient_takes_two_values_in_balanced_proportions():
    a = threshold_coefficient(200, 32, seed=1)
    assert set(a.unique().tolist()) == {3.0, 12.0}
    assert (a == 12).double().mean().item() == pytest.approx(0.5, abs=0.05)


def test_bad_coefficient_is_named():
    with pytest.raises(ValueError, match="positive everywhere"):
        darcy_2d(torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match=r"shape \(B, n, n\)"):
        darcy_2d(torch.ones(8, 8))
    with pytest.raises(ValueError, match="forcing must be"):
        darcy_2d(torch.ones(2, 8, 8), torch.ones(3, 8, 8))


def test_reflections_and_transpose_of_the_coefficient_reflect_and_transpose_the_solution():
    # With f = 1 and u = 0 on the boundary the square's symmetries map solutions to solutions;
    # the 5-point scheme keeps this exactly (the reason augmenting Darcy data by them is sound).
    a = threshold_coefficient(1, 19, seed=3)
    u = darcy_2d(a, 1.0)
    for symmetry in (lambda f: f.flip(-2), lambda f: f.flip(-1), lambda f: f.transpose(-1, -2)):
        assert not torch.equal(symmetry(a), a)
        assert torch.allclose(darcy_2d(symmetry(a), 1.0), symmetry(u), rtol=0, atol=1e-13)


def test_refining_the_grid_shrinks_the_change_of_the_solution():
    # A two-valued coefficient with curved interfaces, 12 / 3 as in the FNO benchmark, sampled at
    # each grid's nodes: solutions on n and 2n - 1 nodes, compared at the common nodes, must
    # approach each other as the grid refines (the refinement check behind solving at 421 nodes).
    # Interfaces cut the cells, so convergence is about first order: the changes shrink 1.6x and
    # 1.8x per halving here (2x would be first order), 2.8x from 129 to 257 nodes.
    def coefficient(n):
        x = np.linspace(0, 1, n)
        X, Y = np.meshgrid(x, x, indexing="ij")
        level = np.sin(2 * np.pi * X + 0.3) * np.cos(3 * np.pi * Y + 0.2) + 0.5 * np.sin(5 * np.pi * X * Y) - 0.1
        return torch.from_numpy(np.where(level >= 0, 12.0, 3.0))[None]

    solutions = {n: darcy_2d(coefficient(n), 1.0)[0] for n in (17, 33, 65, 129)}
    changes = [float((solutions[n][:, :] - solutions[2 * n - 1][::2, ::2]).norm() / solutions[2 * n - 1][::2, ::2].norm())
               for n in (17, 33, 65)]
    assert changes[0] > changes[1] * 1.5 > changes[2] * 1.5 * 1.5
    assert changes[2] < 0.02
