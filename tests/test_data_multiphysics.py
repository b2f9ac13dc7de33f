"""Multi-physics corpus windows: discovery of a growing corpus, loading, mixed padded batches."""

import json

import pytest
import torch

from zoo.data.generate import generate
from zoo.data.multiphysics import (
    MultiphysicsWindows,
    declared_fields,
    discover_systems,
    field_statistics,
    load_system,
)
from zoo.data.equations import navier_stokes_recipe
from zoo.data.store import DataFileError, read_directory, shard_name
from zoo.models.multiscale import spectral_resample


def ns(diffusivity=None):
    return navier_stokes_recipe(viscosity=1e-3, resolution=16, steps=8, record_every=0.25, diffusivity=diffusivity)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    generate(root / "ns" / "train", ns(), samples=4, seed=1, shard_size=2, progress=False)
    generate(root / "scalar" / "train", ns(1e-3), samples=4, seed=2, shard_size=2, progress=False)
    generate(root / "scalar" / "val", ns(1e-3), samples=2, seed=3, shard_size=2, progress=False)
    generate(root / "target" / "train", ns(), samples=2, seed=4, shard_size=2, progress=False)
    # a system still being generated: manifest and its first shard only
    generate(root / "growing" / "train", ns(), samples=6, seed=5, shard_size=2, progress=False)
    (root / "growing" / "train" / shard_name(1)).unlink()
    # a system whose generation has just started: manifest, no shard
    generate(root / "empty" / "train", ns(), samples=2, seed=6, shard_size=2, progress=False)
    (root / "empty" / "train" / shard_name(0)).unlink()
    table = {"systems": {"ns": {"fields": ["vorticity"]}, "scalar": {"fields": ["vorticity", "scalar"]},
                         "later": {"fields": ["height", "velocity_x"]}, "target": {"fields": ["vorticity"], "downstream": True}}}
    (root / "corpus.json").write_text(json.dumps(table))
    return root


def test_discovery_skips_downstream_and_unstarted_systems(corpus):
    assert discover_systems(corpus) == ["growing", "ns", "scalar"]
    assert discover_systems(corpus, "val") == ["scalar"]
    assert "target" in discover_systems(corpus, include_downstream=True)
    assert declared_fields(corpus) == ["vorticity", "scalar", "height", "velocity_x"]


def test_load_system_stacks_fields_and_reads_only_finished_shards(corpus):
    system = load_system(corpus / "scalar" / "train")
    fields, manifest = read_directory(corpus / "scalar" / "train")
    assert system.name == "scalar" and system.fields == list(manifest["fields"]) and set(system.fields) == {"vorticity", "scalar"}
    assert system.trajectories.shape == (4, 9, 2, 16, 16)
    for c, name in enumerate(system.fields):
        torch.testing.assert_close(system.trajectories[:, :, c], fields[name])
    assert len(load_system(corpus / "growing" / "train").trajectories) == 2
    assert len(load_system(corpus / "scalar" / "train", max_trajectories=3).trajectories) == 3
    with pytest.raises(DataFileError, match="no finished shard"):
        load_system(corpus / "empty" / "train")


def test_downsampling_is_spectral_truncation(corpus):
    full = load_system(corpus / "ns" / "train")
    coarse = load_system(corpus / "ns" / "train", resolution=8)
    assert coarse.trajectories.shape[-2:] == (8, 8)
    torch.testing.assert_close(coarse.trajectories, spectral_resample(full.trajectories, 8))


def test_field_statistics_pool_every_system_holding_a_field(corpus):
    a, b = load_system(corpus / "ns" / "train"), load_system(corpus / "scalar" / "train")
    stats = field_statistics([a, b])
    vorticity = torch.cat([a.trajectories[:, :, 0].flatten(), b.trajectories[:, :, b.fields.index("vorticity")].flatten()]).double()
    assert stats["vorticity"][0] == pytest.approx(vorticity.mean().item(), abs=1e-6 * vorticity.std().item())
    assert stats["vorticity"][1] == pytest.approx(vorticity.std(unbiased=False).item(), rel=1e-9)
    assert set(stats) == {"vorticity", "scalar"}


def test_every_batch_mixes_all_systems_with_padding_and_true_windows(corpus):
    systems = [load_system(corpus / "ns" / "train"), load_system(corpus / "scalar" / "train")]
    vocabulary = ["scalar", "height", "vorticity"]
    windows = MultiphysicsWindows(systems, vocabulary, context=3, horizon=2)
    batch = windows.batch(5, torch.Generator().manual_seed(0))
    assert batch["x"].shape == (5, 3, 2, 16, 16) and batch["target"].shape == (5, 2, 2, 16, 16)
    assert set(batch["system"].tolist()) == {0, 1}
    for j in range(5):
        s = int(batch["system"][j])
        expected = [[2, -1], [vocabulary.index(f) for f in systems[1].fields]][s]
        assert batch["ids"][j].tolist() == expected
        window = torch.cat([batch["x"][j], batch["target"][j]])  # (5, C, H, W)
        data = systems[s].trajectories[..., : len(systems[s].fields), :, :]
        matches = [(n, t) for n in range(len(data)) for t in range(data.shape[1] - 4)
                   if torch.equal(data[n, t : t + 5], window[:, : len(systems[s].fields)])]
        assert len(matches) == 1  # a real window of that system, consecutive frames in order
        if s == 0:
            assert (window[:, 1] == 0).all()  # the padded channel


def test_batches_are_a_function_of_the_generator(corpus):
    windows = MultiphysicsWindows([load_system(corpus / "ns" / "train"), load_system(corpus / "scalar" / "train")], ["vorticity", "scalar"], context=2)
    a = windows.batch(4, torch.Generator().manual_seed(3))
    b = windows.batch(4, torch.Generator().manual_seed(3))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert windows.windows_per_system() == [4 * 7, 4 * 7]


def test_windows_refuse_what_they_cannot_serve(corpus):
    ns_system = load_system(corpus / "ns" / "train")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        MultiphysicsWindows([ns_system], ["scalar"], context=2)
    with pytest.raises(ValueError, match="frames per trajectory"):
        MultiphysicsWindows([ns_system], ["vorticity"], context=8, horizon=2)
    with pytest.raises(ValueError, match="different grids"):
        MultiphysicsWindows([ns_system, load_system(corpus / "scalar" / "train", resolution=8)], ["vorticity", "scalar"], context=2)
