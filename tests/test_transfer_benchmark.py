"""benchmarks/transfer.py: the sample-efficiency interpolation, disjoint test seeds, nested subsets, a quick run."""

import json
import math
import sys
from pathlib import Path

import pytest

from train_problems import one_thread
from zoo.data.corpus import ROOT_SEED, corpus_systems, dataset_seed
from zoo.data.generate import sample_seed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import transfer  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def test_sample_efficiency_against_a_hand_computed_case():
    # Scratch halves its error from N=16 to N=64: on the log-log line error = 0.2 * (N/16)^(-1/2), so it
    # reaches 0.15 at N = 16 * (0.2/0.15)^2 = 28.444..., a factor 28.444/16 = 1.7778 over N=16.
    result = transfer.sample_efficiency([4, 16, 64], [0.4, 0.2, 0.1], target=0.15)
    assert result["n_scratch"] == pytest.approx(16 * (0.2 / 0.15) ** 2)
    assert result["factor"] == pytest.approx((0.2 / 0.15) ** 2)
    assert transfer.sample_efficiency([4, 16, 64], [0.4, 0.2, 0.1], target=0.05)["note"].startswith("beyond the measured range")
    assert transfer.sample_efficiency([4, 16], [0.4, 0.2], target=0.5)["note"].startswith("below the measured range")
    exact = transfer.sample_efficiency([4, 16, 64], [0.4, 0.2, 0.1], target=0.1)  # a measured point
    assert exact["factor"] == pytest.approx(4.0)


def test_test_seeds_are_disjoint_from_training_in_the_corpus_seed_streams():
    for system in corpus_systems(downstream=True):
        seeds = {split: [sample_seed(dataset_seed(ROOT_SEED, system.name, split), i) for i in range(count)]
                 for split, count in system.trajectories.items()}
        assert len(seeds["test"]) >= 32
        transfer.check_disjoint(seeds, system.name)  # raises on a shared seed
        assert not set(seeds["test"]) & set(seeds["train"])
        manifest = Path("/work/data/corpus") / system.name / "test" / "dataset.json"
        if manifest.exists():  # the data on disk came from the same stream
            assert transfer.sample_seeds(manifest) == seeds["test"]
    with pytest.raises(ValueError, match="share 1 sample seed"):
        transfer.check_disjoint({"train": [1, 2, 3], "test": [3, 4]}, "x")


def test_training_subsets_are_nested_and_seeded():
    small, large = transfer.training_subset(256, 4, seed=1), transfer.training_subset(256, 16, seed=1)
    assert large[:4] == small and len(set(large)) == 16
    assert transfer.training_subset(256, 16, seed=2) != large
    with pytest.raises(ValueError, match="train pool holds 8"):
        transfer.training_subset(8, 16, seed=0)


@pytest.mark.slow
def test_quick_run_writes_results_and_reuses_runs(tmp_path):
    assert transfer.main(["--quick", "--out", str(tmp_path), "--quiet"]) == 0
    results = json.loads((tmp_path / "transfer-quick.json").read_text())
    entry = results["systems"]["quick"]
    assert set(entry["arms"]) == {"scratch", "scratch_fno", "finetuned", "finetuned_ns_fno"}
    assert all(set(table) == {"2", "4"} for table in entry["arms"].values())
    assert entry["zero_shot"] is None  # the quick source does not know "density"
    efficiency = entry["sample_efficiency"]["one_step_relative_l2"]
    assert efficiency["factor"] is None or math.isfinite(efficiency["factor"])
    assert (tmp_path / "transfer-quick.png").stat().st_size > 0
    metrics = tmp_path / "quick" / "N2" / "finetuned" / "seed0" / "finetuned" / "metrics.json"
    before = metrics.stat().st_mtime_ns
    assert transfer.main(["--quick", "--out", str(tmp_path), "--quiet"]) == 0  # every run reused
    assert metrics.stat().st_mtime_ns == before
    table = (tmp_path / "transfer-quick.md").read_text()
    assert "| finetuned |" in table and "N = 4" in table


@pytest.mark.slow
def test_report_only_tabulates_finished_runs_and_trains_nothing(tmp_path):
    assert transfer.main(["--quick", "--out", str(tmp_path), "--quiet", "--arms", "scratch", "--report-only"]) == 0
    results = json.loads((tmp_path / "transfer-quick.json").read_text())
    assert results["systems"]["quick"]["arms"] == {"scratch": {}}
    assert not (tmp_path / "quick" / "N2").exists()
