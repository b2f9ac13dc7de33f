"""examples/ensemble_uncertainty.py --quick: a two-member ensemble fine-tuned, its intervals checked."""

from __future__ import annotations

import json


def test_ensemble_uncertainty_quick_run(example, tmp_path):
    mod = example("ensemble_uncertainty")
    out = tmp_path / "out"
    results = mod.main(["--quick", "--out", str(out), "--data", str(tmp_path / "data")])

    assert json.loads((out / "results.json").read_text())["relative_l2"] == results["relative_l2"]
    assert results["checkpoint"]["name"] == "fno-ns2d-nu1e-3" and results["checkpoint"]["weights_sha256"]
    errors = results["relative_l2"]
    # The norm is convex, so the mean of the members errs no more than the members do on average.
    assert errors["ensemble mean"] <= errors["members (mean)"] + 1e-6
    assert errors["members (best)"] <= errors["members (mean)"] <= errors["members (worst)"]
    # Even a few steps at the new viscosity beat the checkpoint trained at nu = 1e-3.
    assert errors["members (mean)"] < errors["zero-shot (pretrained at nu=1e-3)"]

    assert results["variance_scale"] > 0
    steps = mod.QUICK.steps - mod.HISTORY
    for table in (results["coverage_raw"], results["coverage_calibrated"]):
        overall = table["overall"]
        assert all(0 <= c <= 1 for c in overall)
        assert overall == sorted(overall)  # wider nominal intervals cover at least as much
        assert all(len(row) == steps for row in table["per_step"].values())
        assert len(table["curve"]["empirical"]) == len(table["curve"]["nominal"])
    assert -1 <= results["std_error_correlation"]["pointwise"] <= 1
    assert len(results["rms_spread_per_step"]) == steps
    for plot in results["plots"]:
        assert (out / plot.split("/")[-1]).stat().st_size > 0
