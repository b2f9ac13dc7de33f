"""Each recipe's stored fields are its solver applied to its stored inputs."""

import itertools

import pytest
import torch

from zoo.data.equations import burgers_recipe, darcy_recipe, navier_stokes_recipe
from zoo.pde import burgers_1d, darcy_2d


def test_darcy_pressure_solves_the_stored_coefficient():
    fields = darcy_recipe(resolution=9).solve(0, 3, seed=0)
    a, u = fields["coefficient"], fields["pressure"]
    assert a.shape == (3, 9, 9) and u.shape == (3, 1, 9, 9)
    assert set(a.unique().tolist()) <= {3.0, 12.0}
    assert torch.allclose(u[:, 0], darcy_2d(a.double(), 1.0).float(), atol=1e-7)


def test_darcy_solve_factor_keeps_every_kth_node_of_the_fine_solve():
    coarse = darcy_recipe(resolution=5, solve_factor=4).solve(0, 2, seed=1)
    fine = darcy_recipe(resolution=17).solve(0, 2, seed=1)  # same nodes count: 4 * (5 - 1) + 1
    assert torch.equal(coarse["coefficient"], fine["coefficient"][:, ::4, ::4])
    assert torch.equal(coarse["pressure"], fine["pressure"][..., ::4, ::4])


def test_burgers_trajectories_start_from_the_stored_initial_condition():
    u = burgers_recipe(viscosity=0.05, resolution=64, steps=2, record_every=0.1).solve(0, 2, seed=0)["u"]
    assert u.shape == (2, 3, 64)
    assert torch.allclose(u[:, 1:], burgers_1d(u[:, 0], 0.05, 0.2, record_every=0.1), atol=1e-5)


def test_navier_stokes_recipe_records_its_named_forcing_and_refuses_unknown_ones():
    recipe = navier_stokes_recipe(viscosity=1e-3, resolution=16, steps=1, forcing="kolmogorov")
    assert recipe.description["parameters"]["forcing"] == "0.1 sin(8 pi y)"
    with pytest.raises(ValueError, match="unknown forcing 'shear'"):
        navier_stokes_recipe(viscosity=1e-3, resolution=16, steps=1, forcing="shear")


def test_darcy_fno_grids_are_exact_subsamples_of_the_421_node_solve():
    from zoo.data.equations import DARCY_FNO_GRIDS, DARCY_FNO_NODES, darcy_fno_recipe

    for grid, stride in DARCY_FNO_GRIDS.items():
        assert len(range(0, DARCY_FNO_NODES, stride)) == grid and (DARCY_FNO_NODES - 1) % stride == 0
    description = darcy_fno_recipe().description
    assert description["solver"]["resolution"] == DARCY_FNO_NODES and description["grid"]["shape"] == [421, 421]
    assert description["parameters"] == {"forcing": 1.0, "coefficient_values": {"high": 12.0, "low": 3.0}}
    assert set(description["grids"]) == {"85", "141", "211", "421"}


def test_darcy_fno_splits_draw_disjoint_samples():
    from zoo.data.equations import DARCY_FNO_SPLITS
    from zoo.data.generate import sample_seed

    seeds = {name: {sample_seed(split["seed"], i) for i in range(split["samples"])} for name, split in DARCY_FNO_SPLITS.items()}
    assert {name: len(s) for name, s in seeds.items()} == {"train": 1000, "validation": 100, "test": 200}
    for first, second in itertools.combinations(seeds, 2):
        assert not seeds[first] & seeds[second], (first, second)
