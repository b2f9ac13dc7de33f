"""examples/multiscale.py --quick: the whole pipeline on 64x64 data with a 32x32 coarse grid."""

from __future__ import annotations

import json
import math


def test_multiscale_example_quick(example, tmp_path):
    mod = example("multiscale")
    results = mod.main(["--quick", "--out", str(tmp_path), "--data", str(tmp_path / "data")])

    stage1 = results["training"]["stage1"]["one_step_train_error"]
    assert stage1["after"] < stage1["before"], "training the correction must lower its one-step training error"
    single = results["training"]["single"]
    assert single["steps"] >= 1 and single["budget_s"] > 0

    evaluation = results["evaluation"]
    models = ["coarse zero-shot", "coarse at 32 interpolated", "multiscale, stage 1", "multiscale, joint", "single FNO at 64"]
    shells = 64 // 2 + 1
    assert len(evaluation["truth"]["spectrum"]) == shells
    for name in models:
        row = evaluation[name]
        assert len(row["per_step"]) == 1 and len(row["spectrum"]) == shells
        assert math.isfinite(row["relative_l2"]) and 0 < row["relative_l2"] < 1

    assert results["checkpoint"]["name"] == "fno-ns2d-nu1e-3" and len(results["checkpoint"]["weights_sha256"]) == 64
    assert json.loads((tmp_path / "results.json").read_text())["evaluation"]["multiscale, joint"] == evaluation["multiscale, joint"]
    for name in ("spectra", "rollout_error", "fields", "errors"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
