"""Reading a sample range of a sharded data set touches only the shards that hold it."""

import pytest
import torch

from zoo.data import load_fields
from zoo.data.generate import generate
from zoo.data.equations import burgers_recipe
from zoo.data.store import DataFileError, shard_name


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    directory = tmp_path_factory.mktemp("burgers")
    recipe = burgers_recipe(viscosity=0.1, resolution=32, steps=2, record_every=0.1)
    generate(directory, recipe, samples=10, seed=0, shard_size=4, progress=False)
    return directory


def test_a_range_equals_the_same_slice_of_the_whole(dataset):
    whole = load_fields(dataset).trajectories
    torch.testing.assert_close(load_fields(dataset, samples=(3, 9)).trajectories, whole[3:9])


def test_a_range_needs_only_its_shards(dataset, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("dataset.json", shard_name(0), shard_name(1)):
        (partial / name).write_bytes((dataset / name).read_bytes())
    torch.testing.assert_close(load_fields(partial, samples=(0, 8)).trajectories, load_fields(dataset).trajectories[:8])
    with pytest.raises(DataFileError, match="incomplete"):
        load_fields(partial, samples=(0, 9))


def test_a_range_outside_the_data_set_is_an_error(dataset):
    with pytest.raises(ValueError, match="outside the data set"):
        load_fields(dataset, samples=(5, 11))
