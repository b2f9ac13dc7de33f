"""``zoo data generate corpus NAME`` / ``kolmogorov`` and ``zoo data corpus``: the corpus and Kolmogorov sets from the command line."""

import json

import pytest
import torch

from zoo.cli import main
from zoo.data import load_fields
from zoo.data.corpus import ROOT_SEED, SPLITS, SYSTEMS, dataset_seed
from zoo.data.kolmogorov import kolmogorov_recipe


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_tiny_corpus_system_is_its_split_of_the_corpus_and_info_reads_it(tmp_path, capsys):
    out = tmp_path / "burgers"
    assert main(["data", "generate", "corpus", "burgers", "--split", "val", "--samples", "2", "--resolution", "16",
                 "--records", "2", "--quiet", str(out)]) == 0
    data = load_fields(out)
    assert data.trajectories.shape == (2, 3, 2, 16, 16) and data.channels == SYSTEMS["burgers"].fields
    seed = dataset_seed(ROOT_SEED, "burgers", "val")  # the split's own stream, not the train one
    expected = SYSTEMS["burgers"].recipe_with(solve_resolution=16, store_resolution=16, records=2).solve(0, 2, seed)
    for c, name in enumerate(data.channels):
        assert torch.equal(data.trajectories[:, :, c], expected[name])
    capsys.readouterr()
    assert main(["data", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["equation"] == "burgers_2d" and info["seed"] == seed and info["shards_present"] == 1


def test_a_tiny_kolmogorov_set_matches_its_recipe_and_info_reads_it(tmp_path, capsys):
    out = tmp_path / "kolmogorov"
    settings = dict(reynolds=100.0, steps=2, record_every=0.1, resolution=8, solve_resolution=16, spin_up=0.2,
                    spin_up_resolution=16, settle=0.1)
    assert main(["data", "generate", "kolmogorov", "--reynolds", "100", "--steps", "2", "--resolution", "8",
                 "--solve-resolution", "16", "--spin-up", "0.2", "--spin-up-resolution", "16", "--settle", "0.1",
                 "--samples", "2", "--seed", "5", "--quiet", str(out)]) == 0
    data = load_fields(out)
    assert data.trajectories.shape == (2, 3, 1, 8, 8)
    assert torch.equal(data.trajectories[:, :, 0], kolmogorov_recipe(**settings).solve(0, 2, 5)["vorticity"])
    capsys.readouterr()
    assert main(["data", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"]["reynolds"] == 100.0 and info["parameters"]["drag"] == 0.1 and info["seed"] == 5


def test_unknown_corpus_systems_are_one_line_naming_the_choices(tmp_path, capsys):
    assert main(["data", "generate", "corpus", "burger", "--split", "train", "--samples", "1", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "burgers" in error
    assert main(["data", "corpus", str(tmp_path), "--systems", "wav"]) == 2
    assert "wave" in capsys.readouterr().err


def test_the_command_line_names_every_corpus_system_and_split(capsys):
    from zoo.cli.data import SPLITS as CLI_SPLITS

    assert CLI_SPLITS == SPLITS
    assert main(["data", "corpus", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(SYSTEMS)
