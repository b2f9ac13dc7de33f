"""examples/multiresolution.py, quick version: every regime trains, is evaluated at every grid, and
the mixed regime really sees all three grids."""

from __future__ import annotations

import json
import math
from pathlib import Path


def test_multiresolution_quick(example, tmp_path, monkeypatch):
    mod = example("multiresolution")
    # Step costs proportional to the grid's cells instead of timings, which under load can leave a
    # regime one or two steps (the example itself measures them).
    monkeypatch.setattr(mod, "step_seconds", lambda sizes, train, windows, seed: {g: 1e-4 * g * g for g in sizes.grids})
    results = mod.main(["--quick", "--out", str(tmp_path), "--data", str(tmp_path / "data")])

    grids = [str(g) for g in mod.QUICK.grids]
    mix = "mix " + "/".join(grids)
    for budget in ("equal_time", "equal_steps"):
        rows = results[budget]
        assert list(rows) == [f"{g} only" for g in grids] + [mix]
        for name, row in rows.items():
            assert list(row["relative_l2"]) == grids
            assert all(0 < e < 10 and math.isfinite(e) for e in row["relative_l2"].values()), (budget, name, row)
            assert row["loss_last"] < row["loss_first"], f"{budget}/{name} did not lower its training loss"
            # Every batch is one grid, and only the regime's own grids are trained on.
            assert sum(row["batches_per_grid"].values()) == row["steps"]
        assert all(rows[mix]["batches_per_grid"][g] > 0 for g in grids)

    # Equal steps: every regime trains base_steps; equal wall-clock: the time the base grid takes for
    # them, shared out by the measured per-step cost of each regime's grids.
    base_steps = mod.QUICK.base_steps
    assert {row["steps"] for row in results["equal_steps"].values()} == {base_steps}
    seconds = results["step_seconds"]
    for name, row in results["equal_time"].items():
        cost = sum(seconds[str(g)] for g in row["grids"]) / len(row["grids"])
        assert row["steps"] == round(base_steps * seconds[grids[-1]] / cost)

    assert results["reference"]["checkpoint"]["name"] == "fno-ns2d-nu1e-3"
    assert all(math.isfinite(e) for e in results["reference"]["relative_l2"].values())
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["equal_time"][mix]["relative_l2"] == results["equal_time"][mix]["relative_l2"]
    for plot in results["plots"]:
        assert Path(plot).parent == tmp_path and Path(plot).stat().st_size > 0
