"""``zoo data generate`` writes a loadable data set; ``zoo data info`` describes it."""

import json

import numpy as np
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


def test_generate_to_npy_writes_the_directory_samples_as_one_array(tmp_path, capsys):
    from zoo.data.arrays import read_array

    common = ["--viscosity", "1e-3", "--resolution", "16", "--steps", "2", "--record-every", "0.5", "--seed", "3", "--quiet"]
    # 5 samples: solved in batches of 2 for the file (the bar's steps), in one shard for the directory.
    assert main(["data", "generate", "ns2d", *common, "--samples", "5", str(tmp_path / "ns")]) == 0
    assert main(["data", "generate", "ns2d", *common, "--samples", "5", str(tmp_path / "my.npy")]) == 0
    assert "(5, 3, 1, 16, 16)" in capsys.readouterr().out
    array = read_array(tmp_path / "my.npy")
    # Same samples; batched FFTs may round differently in the last bits (float32 solve).
    torch.testing.assert_close(array.trajectories[:, :, 0], load_fields(tmp_path / "ns").trajectories[:, :, 0], rtol=1e-5, atol=1e-6)
    record = json.loads((tmp_path / "my.npy.json").read_text())
    assert record["shape"] == [5, 3, 1, 16, 16] and record["fields"] == ["vorticity"]
    assert record["parameters"]["viscosity"] == 1e-3 and record["seed"] == 3 and record["times"] == [0.0, 0.5, 1.0]
    # The reader names the channels from that record (fine-tuning cards show it as the PDE) ...
    assert array.channels == ["vorticity"] and array.metadata["generated"] == record
    # ... unless it describes another array (a stale record): then the default names.
    np.save(tmp_path / "my.npy", np.zeros((2, 3, 1, 16, 16), np.float32))
    stale = read_array(tmp_path / "my.npy")
    assert stale.channels == ["u"] and "generated" not in stale.metadata


def test_generate_to_a_file_refuses_what_is_no_plain_trajectory_array(tmp_path, capsys):
    assert main(["data", "generate", "darcy", "--samples", "1", "--resolution", "9", "--quiet", str(tmp_path / "d.npy")]) == 2
    assert main(["data", "generate", "ns2d", "--viscosity", "1e-3", "--steps", "1", "--samples", "1", str(tmp_path / "d.h5")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("zoo data: error: ")]
    assert len(errors) == 2 and "'coefficient'" in errors[0] and "write a data set directory" in errors[0]
    assert "writes one array as .npy" in errors[1]
    assert not list(tmp_path.iterdir())
