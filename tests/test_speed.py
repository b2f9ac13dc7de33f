"""zoo.eval.speed: the operator-vs-solver timing that model cards and benchmarks/operator_vs_solver.py report."""

import pytest
import torch

import zoo
from zoo.data.equations import navier_stokes_recipe
from zoo.eval.speed import median_seconds, ns2d_operator_vs_solver
from zoo.hub.schema import check_evaluation

HISTORY = 10


@pytest.fixture(scope="module")
def trajectories():
    """Two fresh 32x32 trajectories at t = 1..20 (seed 7: in no data set the recipes use)."""
    recipe = navier_stokes_recipe(viscosity=1e-3, resolution=32, steps=20, dt=0.02)
    return recipe.solve(0, 2, seed=7)["vorticity"][:, 1:]


def test_the_pretrained_fno_is_timed_with_its_accuracy_and_the_record_fits_a_card(trajectories):
    record = ns2d_operator_vs_solver(zoo.from_pretrained("fno-ns2d-nu1e-3"), trajectories, history=HISTORY, viscosity=1e-3, dt=0.02)
    assert record["grid"] == [32, 32] and record["samples"] == 2
    assert record["model_seconds"] > 0 and record["solver_seconds"] > 0
    assert "dt=0.02" in record["solver"] and "float32" in record["solver"] and record["device"].startswith("CPU")
    # zero-shot at half the training grid, 10 steps: the FNO's card reports about 0.01 over 40
    assert record["relative_l2"] < 0.05
    evaluation = {"resolutions": [{"grid": [64, 64], "zero_shot": False, "metrics": {"relative_l2": 0.01}}], "speed": [record]}
    assert check_evaluation(evaluation, "test")["speed"][0] is record


class Persistence(torch.nn.Module):
    """Predicts that nothing changes: its rollout error is the trajectory's own change."""

    def rollout(self, w, steps):
        return w[:, -1:].expand(-1, steps, -1, -1)


def test_the_error_is_the_relative_l2_of_the_whole_rollout(trajectories):
    record = ns2d_operator_vs_solver(Persistence(), trajectories, history=HISTORY, viscosity=1e-3, dt=0.02)
    truth, last = trajectories[:, HISTORY:], trajectories[:, HISTORY - 1 : HISTORY]
    expected = ((truth - last).flatten(1).norm(dim=1) / truth.flatten(1).norm(dim=1)).mean()
    assert record["relative_l2"] == pytest.approx(float(expected), rel=1e-4)


def test_a_trajectory_too_short_for_the_history_is_refused(trajectories):
    with pytest.raises(ValueError, match=r"\(B, T > 10, n, n\)"):
        ns2d_operator_vs_solver(Persistence(), trajectories[:, :10], history=HISTORY, viscosity=1e-3, dt=0.02)


def test_median_seconds_runs_the_warm_up_untimed_and_takes_the_median():
    calls = []
    seconds = median_seconds(lambda: calls.append(1), torch.device("cpu"), repeats=3, warmup=2)
    assert len(calls) == 5 and 0 <= seconds < 0.1
