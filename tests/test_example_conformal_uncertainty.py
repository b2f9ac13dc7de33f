"""examples/conformal_uncertainty.py --quick: conformal bands on four operators (one fine-tuned on a transfer system),
with a width model and an ensemble."""

from __future__ import annotations

import argparse
import itertools
import json

import pytest


def test_conformal_uncertainty_quick_run(example, tmp_path):
    mod = example("conformal_uncertainty")
    out = tmp_path / "out"
    results = mod.main(["--quick", "--out", str(out), "--data", str(tmp_path / "data")])

    assert json.loads((out / "results.json").read_text())["cases"] == results["cases"]
    assert set(results["cases"]) == {"ns2d-nu1e-4", "darcy", "ns2d-nu1e-3", "transfer"}
    setting = mod.QUICK
    transfer = setting.transfer
    frames = dict(transfer.recipe_changes)["records"] + 1
    steps = {"ns2d-nu1e-4": setting.nu1e4_steps - mod.HISTORY, "darcy": 1, "ns2d-nu1e-3": setting.nu1e3_steps - mod.HISTORY,
             "transfer": frames - results["cases"]["transfer"]["finetuning"]["training"]["history"]}
    test_functions = {"darcy": setting.darcy_test, "transfer": transfer.test}
    for name, case in results["cases"].items():
        assert case["checkpoint"]["weights_sha256"]
        bands = [case["plain"]] + ([case["width_model"]] if "width_model" in case else [])
        for band in bands:
            levels = band["pointwise"]["levels"]
            coverage = [levels[f"{p:g}"]["coverage"] for p in setting.levels]
            widths = [levels[f"{p:g}"]["half_width"] for p in setting.levels]
            assert all(0 <= c <= 1 for c in coverage)
            assert coverage == sorted(coverage) and widths == sorted(widths)  # higher levels, wider bands
            assert all(len(levels[f"{p:g}"]["coverage_per_step"]) == steps[name] for p in setting.levels)
            assert band["pointwise"]["test_functions"] == test_functions.get(name, setting.test)
            assert band["pointwise"]["calibration_functions"] == (
                transfer.calibration if name == "transfer" else setting.darcy_calibration if name == "darcy" else setting.calibration)
            domain = next(iter(band["domain"]["levels"].values()))
            assert 0 <= domain["domain_coverage"] <= 1
        assert "width_model" in case or name in ("darcy", "transfer")
    # The transfer case: the multi-physics checkpoint fine-tuned on the corpus system, its re-split spread.
    case = results["cases"]["transfer"]
    assert case["checkpoint"]["name"] == transfer.source
    assert case["finetuning"]["training"]["trajectories"] == transfer.finetune
    resplits = case["resplits"]
    assert resplits["repeats"] == setting.resplits
    assert (resplits["calibration_functions"], resplits["test_functions"]) == (transfer.calibration, transfer.test)
    for p in setting.levels:
        assert 0 <= resplits["levels"][f"{p:g}"]["coverage_mean"] <= 1
    ensemble = results["ensemble_ns2d-nu1e-4"]
    assert [ensemble["levels"][f"{p:g}"]["half_width"] for p in setting.levels] == sorted(
        ensemble["levels"][f"{p:g}"]["half_width"] for p in setting.levels)
    for plot in results["plots"]:
        assert (out / plot).stat().st_size > 0


def test_conformal_uncertainty_refuses_a_corpus_of_other_seeds(example, tmp_path):
    mod = example("conformal_uncertainty")
    split = tmp_path / "corpus" / "gray_scott" / "test"
    split.mkdir(parents=True)
    (split / "dataset.json").write_text(json.dumps({"seed": 1, "samples": 100}))
    args = argparse.Namespace(corpus=tmp_path / "corpus", data=tmp_path / "data")
    with pytest.raises(ValueError, match="needs 3 of seed"):
        mod.corpus_split(args, mod.QUICK.transfer, "test", 3, "quick-")


def test_darcy_case_draws_fno_darcys_law_at_its_training_grid(example):
    from zoo.data.equations import darcy_fno_recipe, darcy_recipe

    setting = example("conformal_uncertainty").FULL
    case = darcy_recipe(resolution=setting.darcy_resolution, solve_factor=setting.darcy_solve_factor).description
    paper = darcy_fno_recipe().description
    for key in ("parameters", "initial_condition", "solver"):
        assert case[key] == paper[key], key
    assert case["grid"]["shape"] == [85, 85]


def test_darcy_case_samples_are_disjoint_from_fno_darcys_splits_and_each_other(example):
    from zoo.data.equations import DARCY_FNO_SPLITS
    from zoo.data.generate import sample_seed

    mod = example("conformal_uncertainty")
    sizes = {"calibration": mod.FULL.darcy_calibration, "test": mod.FULL.darcy_test}
    seeds = {f"example {split}": {sample_seed(mod.DARCY_SEEDS[split], i) for i in range(n)} for split, n in sizes.items()}
    seeds |= {name: {sample_seed(split["seed"], i) for i in range(split["samples"])} for name, split in DARCY_FNO_SPLITS.items()}
    for first, second in itertools.combinations(seeds, 2):
        assert not seeds[first] & seeds[second], (first, second)
