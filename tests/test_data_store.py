"""zoo's sharded data format and generation: resumable, deterministic, and loud about bad files."""

import json

import pytest
import torch

from zoo.data.generate import generate
from zoo.data.equations import navier_stokes_recipe
from zoo.data.store import MANIFEST, DataFileError, read_directory, read_shard, shard_name, write_shard
from zoo.pde import gaussian_random_field, navier_stokes_2d


def small_recipe():
    return navier_stokes_recipe(viscosity=1e-3, resolution=16, steps=2, record_every=0.5)


def test_generated_samples_are_the_solver_applied_to_the_seeded_fields(tmp_path):
    generate(tmp_path, small_recipe(), samples=3, seed=7, shard_size=2, progress=False)
    fields, manifest = read_directory(tmp_path)
    assert fields["vorticity"].shape == (3, 3, 16, 16)
    assert manifest["times"] == [0.0, 0.5, 1.0] and manifest["seed"] == 7
    from zoo.data.generate import sample_seed

    w0 = gaussian_random_field(1, 16, generator=torch.Generator().manual_seed(sample_seed(7, 2)), dtype=torch.float64)
    expected = navier_stokes_2d(w0.float(), 1e-3, 1.0, record_every=0.5, dt=manifest["solver"]["dt"])
    assert torch.allclose(fields["vorticity"][2, 0], w0[0].float())
    assert torch.allclose(fields["vorticity"][2, 1:], expected[0], atol=1e-6)


def test_samples_do_not_depend_on_the_shard_size(tmp_path):
    generate(tmp_path / "a", small_recipe(), samples=4, seed=0, shard_size=4, progress=False)
    generate(tmp_path / "b", small_recipe(), samples=3, seed=0, shard_size=1, progress=False)
    a, _ = read_directory(tmp_path / "a")
    b, _ = read_directory(tmp_path / "b")
    assert torch.allclose(a["vorticity"][:3], b["vorticity"], atol=1e-6)


def test_interrupted_generation_resumes_only_missing_shards(tmp_path):
    generate(tmp_path, small_recipe(), samples=4, seed=0, shard_size=2, progress=False)
    kept = (tmp_path / shard_name(0)).stat().st_mtime_ns
    before, _ = read_directory(tmp_path)
    (tmp_path / shard_name(1)).unlink()
    with pytest.raises(DataFileError, match="1 of 2 shards missing"):
        read_directory(tmp_path)
    generate(tmp_path, small_recipe(), samples=4, seed=0, shard_size=2, progress=False)
    after, _ = read_directory(tmp_path)
    assert (tmp_path / shard_name(0)).stat().st_mtime_ns == kept
    assert torch.equal(before["vorticity"], after["vorticity"])
    assert not list(tmp_path.glob(".*tmp"))


def test_a_directory_holding_another_data_set_is_not_overwritten(tmp_path):
    generate(tmp_path, small_recipe(), samples=2, seed=0, shard_size=2, progress=False)
    with pytest.raises(DataFileError, match=r"differs in \['seed'\]"):
        generate(tmp_path, small_recipe(), samples=2, seed=1, shard_size=2, progress=False)


def metadata(shape):
    return {"fields": {"u": ["sample", "time", "x"][: len(shape)]}}


def test_truncated_shard_is_named(tmp_path):
    path = tmp_path / "s.safetensors"
    write_shard(path, {"u": torch.zeros(4, 3, 8)}, metadata((4, 3, 8)))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataFileError, match=r"s\.safetensors: not a readable safetensors file"):
        read_shard(path)


@pytest.mark.parametrize(
    "tensors, axes, message",
    [
        ({"v": torch.zeros(2, 3)}, ["sample", "x"], "field 'u' listed in the metadata is missing"),
        ({"u": torch.zeros(2, 3, 4)}, ["sample", "x"], r"field 'u' has shape \(2, 3, 4\), expected axes"),
        ({"u": torch.tensor([[0.0, float("nan")]])}, ["sample", "x"], "field 'u' holds 1 NaN/Inf"),
    ],
)
def test_bad_shard_contents_are_named(tmp_path, tensors, axes, message):
    path = tmp_path / "bad.safetensors"
    write_shard(path, tensors, {"fields": {"u": axes}})
    with pytest.raises(DataFileError, match=f"bad.safetensors: {message}"):
        read_shard(path)


def test_manifest_and_shard_headers_are_plain_json(tmp_path):
    generate(tmp_path, small_recipe(), samples=1, seed=0, shard_size=1, progress=False)
    manifest = json.loads((tmp_path / "dataset.json").read_text())
    _, shard_meta = read_shard(tmp_path / shard_name(0))
    assert manifest["equation"] == shard_meta["equation"] == "navier_stokes_2d"
    assert shard_meta["shard"]["start"] == 0 and manifest["zoo_version"]


def test_a_data_set_grows_or_shrinks_by_sample_count_keeping_finished_shards(tmp_path):
    generate(tmp_path, small_recipe(), samples=3, seed=0, shard_size=2, progress=False)
    first = (tmp_path / shard_name(0)).stat().st_mtime_ns
    generate(tmp_path, small_recipe(), samples=4, seed=0, shard_size=2, progress=False)
    grown, manifest = read_directory(tmp_path)
    assert manifest["samples"] == 4 and grown["vorticity"].shape[0] == 4
    assert (tmp_path / shard_name(0)).stat().st_mtime_ns == first  # kept; shard 1 was redone for 2..4
    reference = navier_stokes_recipe(viscosity=1e-3, resolution=16, steps=2, record_every=0.5).solve(3, 4, 0)
    assert torch.allclose(grown["vorticity"][3:], reference["vorticity"], atol=1e-6)


def test_data_sets_of_different_seeds_share_no_sample(tmp_path):
    # torch's CPU generator keeps 32 bits of a seed: the seed must reach those bits.
    generate(tmp_path / "train", small_recipe(), samples=4, seed=0, shard_size=4, progress=False)
    generate(tmp_path / "test", small_recipe(), samples=4, seed=1, shard_size=4, progress=False)
    train, _ = read_directory(tmp_path / "train")
    test, _ = read_directory(tmp_path / "test")
    initial_train, initial_test = train["vorticity"][:, 0].flatten(1), test["vorticity"][:, 0].flatten(1)
    assert torch.cdist(initial_test, initial_train).min() > 0.1 * initial_train.norm(dim=1).min()


def test_sample_seeds_are_distinct_within_and_across_nearby_seeds():
    from zoo.data.generate import sample_seed

    seeds = {sample_seed(seed, index) for seed in range(20) for index in range(1000)}
    assert len(seeds) == 20 * 1000
    assert all(0 <= value < 2**32 for value in seeds)
    assert sample_seed(0, 5) == 5


def test_a_data_set_made_with_the_old_seeding_is_refused_with_a_hint(tmp_path):
    generate(tmp_path, small_recipe(), samples=2, seed=3, shard_size=2, progress=False)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    del manifest["seeding"]
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DataFileError, match="ignored the seed"):
        generate(tmp_path, small_recipe(), samples=2, seed=3, shard_size=2, progress=False)
