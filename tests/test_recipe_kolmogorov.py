"""recipes/kolmogorov.py --quick: data, the three loss terms, a rollout and its statistics, saved."""

import importlib.util
import json
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "kolmogorov.py"


def test_markov_recipe_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("kolmogorov_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--quick", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run")])
    assert [entry["step"] for entry in results["training"]] == [1, 2, 3]
    assert set(results["training"][0]) >= {"one_step", "pushforward", "dissipativity"}
    assert results["blew_up_at_step"] is None
    assert results["statistics_vs_test_trajectories"]["spectrum_k_max"] == 8
    assert json.loads((tmp_path / "run" / "training.json").read_text())["rollout_steps"] == 8
    assert (tmp_path / "run" / "model.safetensors").is_file()
