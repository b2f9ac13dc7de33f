"""examples/test_time_physics.py, small: the PDE residual alone fine-tunes the checkpoint on one new flow."""

import json
import math

import pytest
import torch


def test_quick_run_lowers_the_residual_and_reports_error_residual_and_time(example, tmp_path):
    mod = example("test_time_physics")
    results = mod.main(["--quick", "--out", str(tmp_path), "--data", str(tmp_path / "data")])

    (case,) = results["cases"]
    assert case["loss"][-1] < case["loss"][0]  # the residual being minimised goes down
    # The solver's own trajectory nearly satisfies the discrete residual; the checkpoint's rollout less so.
    assert case["solver_residual"] < case["before"]["residual"]
    for state in ("before", "after"):
        assert len(case[state]["per_step"]) == 4  # t = 11..14
        assert all(math.isfinite(e) and e > 0 for e in case[state]["per_step"])
        assert math.isfinite(case[state]["residual"])
    assert case["seconds"] > 0
    (run,) = results["sweep_case_0"]
    assert run["settings"] == {"lr": 1e-5, "steps": 3, "horizon": 4, "spectral": "train"}
    assert len(run["loss"]) == 3
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["cases"] == results["cases"] and saved["checkpoint"]["name"] == "fno-ns2d-nu1e-3"
    # Why: one time unit between frames, the frame-to-frame residual cannot tell the solution from
    # w(t) = w(0); at PINO's 1/128 the space-time residual tells them apart by many decades.
    rows = {row["spacing"]: row for row in results["residual_against_spacing"]["rows"]}
    assert rows[1.0]["frame-to-frame (midpoint, 2nd order)"] > 0.3
    assert rows[1 / 128]["space-time (staggered, 4th order)"] < 1e-5
    assert rows[1 / 128]["space-time (staggered, 4th order)"] < rows[1 / 128]["frame-to-frame (midpoint, 2nd order)"]
    for name in ("error_vs_step", "residual_during_tuning", "error_spectrum", "residual_against_spacing"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_held_out_flows_are_new_fields_of_the_same_law(example, tmp_path):
    held_out = example("held_out")
    from zoo.data import load_fields
    from zoo.data.generate import generate
    from zoo.data.equations import navier_stokes_recipe

    recipe = navier_stokes_recipe(viscosity=1e-3, resolution=32, steps=1, diffusivity=1e-3)
    generate(tmp_path, recipe, samples=2, seed=0, shard_size=2, progress=False)
    stored = load_fields(tmp_path).trajectories
    fresh = held_out.held_out_ns2d(2, resolution=32, steps=1, diffusivity=1e-3)
    assert fresh.channels == load_fields(tmp_path).channels and fresh.trajectories.shape == stored.shape
    # Same law (comparable spread), different fields.
    assert 0.5 < float(fresh.trajectories[:, 0].std() / stored[:, 0].std()) < 2.0
    assert (fresh.trajectories - stored).abs().amax() > 0.1
    # Index by index, the solver path is the generator's: sample 0 comes back exactly.
    torch.testing.assert_close(held_out.held_out_ns2d(1, first=0, resolution=32, steps=1, diffusivity=1e-3).trajectories,
                               stored[:1])
    with pytest.raises(ValueError, match="need samples >= 1"):
        held_out.held_out_ns2d(0, steps=1)
