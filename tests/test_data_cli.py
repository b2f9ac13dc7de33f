"""``zoo data generate`` writes a loadable data set; ``zoo data info`` describes it."""

import json

import torch

from zoo.cli import main
from zoo.data import load_fields
from zoo.data.equations import navier_stokes_recipe


def test_generate_then_info_round_trip(tmp_path, capsys):
    out = tmp_path / "ns"
    argv = ["data", "generate", "ns2d", "--viscosity", "1e-3", "--samples", "2", "--resolution", "16",
            "--steps", "2", "--record-every", "0.5", "--seed", "3", "--diffusivity", "2e-3", "--quiet", str(out)]
    assert main(argv) == 0
    data = load_fields(out)
    assert data.trajectories.shape == (2, 3, 2, 16, 16) and data.channels == ["scalar", "vorticity"]
    expected = navier_stokes_recipe(viscosity=1e-3, resolution=16, steps=2, record_every=0.5, diffusivity=2e-3).solve(0, 2, 3)
    assert torch.equal(data.trajectories[:, :, 1], expected["vorticity"])
    capsys.readouterr()
    assert main(["data", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["equation"] == "navier_stokes_2d_passive_scalar" and info["shards_present"] == 1
    assert info["parameters"]["diffusivity"] == 2e-3 and info["seed"] == 3


def test_the_command_line_offers_every_named_forcing():
    from zoo.cli.data import FORCINGS
    from zoo.pde.navier_stokes import NAMED_FORCINGS

    assert sorted(FORCINGS) == sorted(NAMED_FORCINGS)
