"""The multi-physics corpus table: its size, its seed streams, and what each system's recipe stores."""

import math

import pytest
import torch

from zoo.data.corpus import (
    ROOT_SEED,
    SYSTEMS,
    KolmogorovForcing,
    RandomField,
    System,
    check_seed_streams,
    corpus_systems,
    dataset_seed,
    navier_stokes_system,
)
from zoo.data.generate import sample_seed
from zoo.models.multiscale import spectral_resample
from zoo.pde import navier_stokes_2d


def test_corpus_meets_the_issue_16_size():
    corpus = corpus_systems()
    assert len(corpus) >= 8
    assert all(system.frames >= 20 for system in SYSTEMS.values())
    assert sum(system.pairs("train") for system in corpus) >= 50_000
    assert all(system.trajectories["test"] >= 32 and system.trajectories["val"] >= 1 for system in SYSTEMS.values())


def test_downstream_systems_are_outside_the_corpus_and_have_trajectory_pools():
    corpus, downstream = corpus_systems(), corpus_systems(downstream=True)
    assert len(downstream) >= 3
    assert all(system.trajectories["train"] >= 256 and system.trajectories["test"] >= 32 for system in downstream)
    corpus_recipes = [(s.recipe.equation, s.recipe.description["parameters"]) for s in corpus]
    corpus_field_counts = {len(s.fields) for s in corpus}
    for system in downstream:
        assert (system.recipe.equation, system.recipe.description["parameters"]) not in corpus_recipes
    # one different physics, one field count the corpus lacks
    assert any(s.recipe.equation not in {e for e, _ in corpus_recipes} for s in downstream)
    assert any(len(s.fields) not in corpus_field_counts for s in downstream)


def test_every_sample_seed_of_the_table_is_used_once():
    seeds = [
        sample_seed(dataset_seed(ROOT_SEED, system.name, split), i)
        for system in SYSTEMS.values()
        for split, count in system.trajectories.items()
        for i in range(count)
    ]
    assert len(seeds) == len(set(seeds))
    check_seed_streams(ROOT_SEED)  # the interval argument agrees


def test_seed_streams_differ_per_split_system_and_root():
    keys = [(root, name, split) for root in (0, 1, ROOT_SEED) for name in SYSTEMS for split in ("train", "val", "test")]
    assert len({dataset_seed(*key) for key in keys}) == len(keys)


def test_overlapping_seed_streams_are_refused():
    system = SYSTEMS["ns_nu1e-3_fno"]
    with pytest.raises(ValueError, match="overlap"):
        check_seed_streams(ROOT_SEED, [system, system])


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_each_system_stores_finite_fields_of_its_declared_shape(name):
    system = SYSTEMS[name]
    recipe = system.recipe_with(solve_resolution=32, store_resolution=32, records=2)
    fields = recipe.solve(0, 2, dataset_seed(ROOT_SEED, name, "test"))
    assert list(fields) == system.fields == list(recipe.fields)
    for value in fields.values():
        assert value.shape == (2, 3, 32, 32) and value.dtype == torch.float32
        assert torch.isfinite(value).all()
        assert (value[:, -1] - value[:, 0]).abs().max() > 0  # it evolves
    assert system.recipe.description["grid"]["shape"] == [64, 64]


def test_stored_frames_are_the_solve_grid_frames_truncated_spectrally():
    fine = navier_stokes_system(viscosity=1e-3, forcing="fno", solve_resolution=32, store_resolution=32, record_every=0.5, records=2)
    coarse = navier_stokes_system(viscosity=1e-3, forcing="fno", solve_resolution=32, store_resolution=16, record_every=0.5, records=2)
    w_fine, w_coarse = fine.solve(3, 5, seed=7)["vorticity"], coarse.solve(3, 5, seed=7)["vorticity"]
    assert w_coarse.shape == (2, 3, 16, 16)
    torch.testing.assert_close(w_coarse, spectral_resample(w_fine, 16), rtol=0, atol=1e-6)


def test_trajectories_start_from_the_initial_law_and_follow_the_solver():
    law = RandomField(alpha=2.5, tau=7.0)
    forcing = KolmogorovForcing(1.0, 2)
    recipe = navier_stokes_system(viscosity=1e-3, forcing=forcing, solve_resolution=32, store_resolution=32, record_every=0.5, records=2, vorticity=law)
    w = recipe.solve(4, 6, seed=11)["vorticity"]
    w0 = torch.stack([law.sample(torch.Generator().manual_seed(sample_seed(11, i)), 32) for i in (4, 5)]).float()
    torch.testing.assert_close(w[:, 0], w0, rtol=0, atol=1e-6)
    torch.testing.assert_close(w[:, 1:], navier_stokes_2d(w0, 1e-3, 1.0, 0.5, forcing=forcing), rtol=0, atol=1e-6)
    assert recipe.description["parameters"]["forcing"] == "1 sin(4 pi y)"


def test_kolmogorov_forcing_is_a_shear_of_its_wavenumber():
    y = torch.linspace(0, 1, 9)
    torch.testing.assert_close(KolmogorovForcing(0.5, 3)(torch.zeros(9), y), 0.5 * torch.sin(6 * math.pi * y))


def test_a_system_counts_consecutive_frame_pairs():
    system = System("x", navier_stokes_system, {"viscosity": 1e-3, "forcing": None, "solve_resolution": 16, "record_every": 1.0, "records": 20},
                    {"train": 10, "test": 4})
    assert system.frames == 21 and system.pairs("train") == 200 and system.pairs("val") == 0


def test_storing_finer_than_solving_is_refused():
    with pytest.raises(ValueError, match="exceeds solve_resolution"):
        navier_stokes_system(viscosity=1e-3, forcing=None, solve_resolution=32, store_resolution=64, record_every=1.0, records=2)


def test_unknown_forcing_names_are_refused():
    with pytest.raises(ValueError, match="unknown forcing 'shear'"):
        navier_stokes_system(viscosity=1e-3, forcing="shear", solve_resolution=16, record_every=1.0, records=2)


def test_generate_corpus_writes_data_cards_and_statistics_and_skips_a_failing_system(tmp_path, monkeypatch):
    import json

    import zoo.data.corpus as corpus
    from zoo.data import load_fields

    def failing(**settings):
        recipe = navier_stokes_system(**settings)

        def solve(start, stop, seed):
            raise FloatingPointError("blew up")

        return corpus.Recipe(recipe.equation, recipe.fields, recipe.description, solve)

    settings = {"viscosity": 1e-3, "forcing": None, "solve_resolution": 16, "store_resolution": 16, "record_every": 0.5, "records": 2}
    tiny = {"broken": System("broken", failing, settings, {"train": 2, "test": 1}),
            "calm": System("calm", navier_stokes_system, settings, {"train": 3, "test": 1}, shard_size=2)}
    monkeypatch.setattr(corpus, "SYSTEMS", tiny)
    with pytest.raises(RuntimeError, match="broken/train: blew up"):
        corpus.generate_corpus(tmp_path, progress=False)
    data = load_fields(tmp_path / "calm" / "train")
    assert data.trajectories.shape == (3, 3, 1, 16, 16) and data.channels == ["vorticity"]
    table = json.loads((tmp_path / "corpus.json").read_text())
    stats = table["systems"]["calm"]["splits"]["train"]
    assert stats["generated"] == 3 and stats["seed"] == dataset_seed(ROOT_SEED, "calm", "train")
    torch.testing.assert_close(stats["fields"]["vorticity"]["std"], float(data.trajectories.double().std(unbiased=False)), rtol=1e-6, atol=0)
    assert table["systems"]["broken"]["splits"]["train"]["generated"] == 0
    assert "| train | vorticity |" in (tmp_path / "calm" / "DATACARD.md").read_text()
