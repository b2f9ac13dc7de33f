"""examples/finetune_new_equation.py, small: the NS checkpoint gets new heads for vorticity + scalar."""

import json
import math


def test_quick_run_finetunes_both_inits_and_reports_each_channel(example, tmp_path):
    mod = example("finetune_new_equation")
    results = mod.main(["--quick", "--out", str(tmp_path), "--data", str(tmp_path / "data")])

    assert results["protocol"]["channels"] == ["scalar", "vorticity"]
    assert [(r["init"], r["train_trajectories"]) for r in results["runs"]] == [
        ("new heads", 2), ("warm heads", 2), ("scratch", 2)]
    for run in results["runs"]:
        assert run["loss_last"] < run["loss_first"], run["init"]
        for channel in ("scalar", "vorticity"):
            errors = run["errors"][channel]
            assert len(errors["per_step"]) == 2  # t = 11, 12
            assert all(math.isfinite(e) and e > 0 for e in errors["per_step"])
            # Relative L2 of the whole rollout lies between its best and worst frame.
            assert min(errors["per_step"]) - 1e-6 <= errors["trajectory"] <= max(errors["per_step"]) + 1e-6
    # The checkpoint itself, on the vorticity channel, is the reference the fine-tuned models are held to.
    assert 0 < results["zero_shot_vorticity"]["trajectory"] < 0.1
    assert results["checkpoint"]["name"] == "fno-ns2d-nu1e-3" and len(results["checkpoint"]["weights_sha256"]) == 64
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["runs"] == results["runs"]
    for name in ("error_vs_step_scalar", "error_vs_step_vorticity", "training_loss", "scalar_fields"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000

