"""recipes/darcy_fno.py --quick: augmented training with early stopping, curves, zero-shot test grids, resume."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from zoo.hub import from_pretrained
from zoo.models import FNO
from zoo.losses import relative_l2

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "darcy_fno.py"


def load_recipe():
    spec = importlib.util.spec_from_file_location("darcy_fno_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_darcy_fno_recipe_quick_trains_validates_and_tests_every_grid(tmp_path):
    recipe = load_recipe()
    argv = ["--quick", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--coarse-strides", "4"]
    results = recipe.main(argv)
    # 6 training samples on 2 grids, batch 2: 6 steps an epoch, 4 epochs, validated every epoch and at the start.
    assert results["steps"] == 24 and results["protocol"]["augmentation"].startswith("D4")
    assert results["protocol"]["train_grids"] == [[13, 13], [16, 16]]
    assert results["curves"]["validation"]["epoch"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert results["curves"]["train"]["epoch"] == [1, 2, 3, 4]
    # The quick data has 61 nodes: training every 5th (13), tests every 5th, 3rd, 2nd node and all.
    assert [r["grid"] for r in results["test"]] == [[13, 13], [21, 21], [31, 31], [61, 61]]
    assert results["train_error"][0]["samples"] == 6 and all(r["samples"] == 3 for r in results["test"])
    for r in results["test"]:
        low, high = r["metrics"]["relative_l2_ci95"]
        assert 0 < low <= r["metrics"]["relative_l2"] <= high
    assert (tmp_path / "run" / "plots" / "curves.png").is_file()
    assert json.loads((tmp_path / "run" / "evaluation.json").read_text())["steps"] == 24
    # A finished run resumes to its end at once, with the same best validation error.
    resumed = recipe.main([*argv, "--resume"])
    assert resumed["steps"] == 24 and resumed["early_stopping"]["best"] == results["early_stopping"]["best"]

    # Re-evaluating the run's best weights reproduces the figures; publishing writes a loadable checkpoint whose card has them.
    again = recipe.main([*argv, "--evaluate"])
    assert again["test"] == results["test"] and again["early_stopping"] == results["early_stopping"]
    with pytest.raises(SystemExit, match="pass the same --eval-padding"):
        recipe.main([*argv, "--publish", "--eval-padding", "0.2", "--publish-to", str(tmp_path / "fno-darcy")])
    recipe.main([*argv, "--publish", "--publish-to", str(tmp_path / "fno-darcy")])
    model = from_pretrained(tmp_path / "fno-darcy")
    evaluation = json.loads((tmp_path / "fno-darcy" / "evaluation.json").read_text())
    assert [r["metrics"]["relative_l2"] for r in evaluation["resolutions"]] == [r["metrics"]["relative_l2"] for r in results["test"]]
    assert [r["zero_shot"] for r in evaluation["resolutions"]] == [False, True, True, True]
    inputs, truth = recipe.stacked(recipe.pairs(tmp_path / "data" / "test", 5))
    with torch.no_grad():
        errors = relative_l2(model(inputs), truth, reduction="none")
    assert round(float(errors.mean()), 5) == results["test"][0]["metrics"]["relative_l2"]
    card = (tmp_path / "fno-darcy" / "README.md").read_text()
    assert "training_curves.png" in card and "test_error_by_grid.png" in card and "overfits" in card
    assert set(evaluation_sweep := results["grid_sweep"]["relative_l2"]) == {"13", "16", "21", "31", "61"}


def test_padding_jitter_draws_a_padding_per_training_pass_and_keeps_the_eval_one():
    recipe = load_recipe()
    fno = FNO(1, 1, modes=[3, 3], width=4, n_layers=1, domain_padding=0.1)
    recipe.jitter_padding(fno, 0.1, 0.03)
    torch.manual_seed(0)
    drawn = []
    for _ in range(20):
        fno(torch.randn(1, 1, 16, 16))
        drawn.append(fno.domain_padding)
    assert all(0.07 <= p <= 0.13 for p in drawn) and len(set(drawn)) == 20
    fno.eval()
    fno(torch.randn(1, 1, 16, 16))
    assert fno.domain_padding == 0.1
