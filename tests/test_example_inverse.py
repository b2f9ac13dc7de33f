"""The inverse-problem example (examples/inverse_initial_condition.py) runs end to end in its quick form."""

from __future__ import annotations

import json

import pytest


def test_inverse_example_quick_run_recovers_and_reports(example, tmp_path):
    mod = example("inverse_initial_condition")
    results = mod.main(["--quick", "--out", str(tmp_path), "--data", str(tmp_path / "data")])
    assert results["checkpoint"]["name"] == "fno-ns2d-nu1e-3" and len(results["checkpoint"]["weights_sha256"]) == 64
    # The coarse-step solver reproduces the data to well below the noise; the operator is its surrogate.
    assert results["forward_errors"]["solver, dt = 0.05"] < 1e-3
    for noise in ("noise 1%", "noise 5%"):
        row = results["results"][noise]
        baseline = row["observation (w(t=15) as the estimate)"]["error"]
        for name in ("(a) operator GD", "(c) solver adjoint GD, dt=0.05"):
            curve = row[name]["curve"]
            assert curve["error"][0] == pytest.approx(baseline, rel=1e-5)  # every descent starts at the observation
            assert row[name]["error"] < baseline  # and improves on it
            assert curve["cpu_s"] == sorted(curve["cpu_s"])
    for name in ("results.json", "recovered_1pct.png", "recovered_5pct.png", "error_vs_cpu_time_1pct.png",
                 "error_vs_iteration_5pct.png", "learned_inverse_training.png"):
        assert (tmp_path / name).is_file()
    assert json.loads((tmp_path / "results.json").read_text())["example"] == "inverse_initial_condition"
