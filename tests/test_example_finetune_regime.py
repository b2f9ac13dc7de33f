"""examples/finetune_regime.py: fine-tuning the NS checkpoints to a new regime vs training from scratch."""

import json
import math

import pytest
import torch

from zoo.data import FieldData, TimeWindows


def test_quick_run_fine_tunes_and_trains_from_scratch_on_every_setting(example, tmp_path):
    mod = example("finetune_regime")
    argv = ["--quick", "--out", str(tmp_path), "--data", str(tmp_path / "data")]
    results = mod.main(argv)

    assert json.loads((tmp_path / "results.json").read_text())["regimes"].keys() == results["regimes"].keys()
    assert set(results["checkpoints"]) == set(mod.CHECKPOINTS)
    assert all(len(record["weights_sha256"]) == 64 for record in results["checkpoints"].values())
    budget = mod.QUICK
    for name, regime in results["regimes"].items():
        steps = regime["data"]["steps"] - mod.HISTORY
        for arch in mod.CHECKPOINTS:
            assert math.isfinite(regime["zero_shot"][arch]["relative_l2"])
            assert len(regime["zero_shot"][arch]["per_step"]) == steps
        settings = {(r["architecture"], r["init"], r["trajectories"]) for r in regime["runs"]}
        assert settings == {(a, i, n) for a in mod.CHECKPOINTS for i in mod.INITS for n in budget.trajectories}
        for run in regime["runs"]:
            assert math.isfinite(run["relative_l2"]) and run["relative_l2"] > 0
            assert len(run["per_step"]) == steps
            assert run["weights_sha256"] == results["checkpoints"][run["architecture"]]["weights_sha256"]
            assert run["loss_curve"][-1][0] == budget.steps
            if run["init"] == "pretrained":  # a few steps on the fine-tuning data lower its loss there
                assert run["one_step_error_after"] < run["one_step_error_before"], run
        for plot in regime["plots"]:
            assert (tmp_path / plot).stat().st_size > 0
    # A second run with the same settings and checkpoints reuses every stored result.
    assert mod.main(argv)["regimes"] == results["regimes"]


def test_scratch_models_share_the_architecture_but_not_the_weights_or_normalisation(example):
    mod = example("finetune_regime")
    torch.manual_seed(0)
    fields = 2.0 + 3.0 * torch.randn(2, 12, 1, 32, 32)
    windows = TimeWindows(FieldData(fields, ["vorticity"], torch.arange(12.0)), history=mod.HISTORY, horizon=1)
    for checkpoint in mod.CHECKPOINTS.values():
        pretrained = mod.initial_model(checkpoint, "pretrained", windows, seed=0)
        scratch = mod.initial_model(checkpoint, "scratch", windows, seed=0)
        assert scratch.config["backbone"] == pretrained.config["backbone"]
        assert scratch.config["field_mean"][0] == pytest.approx(float(fields[:, 10:].mean()), rel=1e-4)
        assert scratch.config["field_std"][0] == pytest.approx(float(fields[:, 10:].std()), rel=1e-4)
        weights = pretrained.state_dict()
        assert any(not torch.equal(value, weights[key]) for key, value in scratch.state_dict().items())
        assert scratch.state_dict().keys() == weights.keys()
