"""Rollout evaluation: the FNO paper's trajectory metric and per-step errors."""

import pytest
import torch

from zoo.eval.rollout import rollout_errors, rollout_metrics, rollout_predictions

METRIC = rollout_metrics  # the original, before a test wraps it


class ShiftStepper(torch.nn.Module):
    """A known time stepper: the next frame is the last one rolled by one cell."""

    def rollout(self, u, steps):
        frames, last = [], u[:, -1:]
        for _ in range(steps):
            last = torch.roll(last, 1, dims=-1)
            frames.append(last)
        return torch.cat(frames, dim=1)


def test_exact_stepper_has_zero_error_and_chunks_do_not_matter():
    base = torch.randn(5, 1, 8, 8)
    trajectories = torch.cat([torch.roll(base, t, dims=-1) for t in range(6)], dim=1)
    predictions = rollout_predictions(ShiftStepper(), trajectories, history=2, batch_size=2)
    torch.testing.assert_close(predictions, trajectories[:, 2:])
    errors = rollout_errors(predictions, trajectories[:, 2:])
    assert errors["trajectory"].item() == 0.0
    assert errors["per_step"].shape == (4,)


def test_trajectory_error_is_relative_l2_of_the_whole_trajectory():
    truth = torch.ones(2, 3, 4, 4)
    prediction = truth.clone()
    prediction[0, 2] = 2.0  # sample 0: error norm 4 over truth norm sqrt(48); sample 1 exact
    errors = rollout_errors(prediction, truth)
    torch.testing.assert_close(errors["trajectory"], torch.tensor(4 / 48**0.5 / 2))
    torch.testing.assert_close(errors["per_step"], torch.tensor([0.0, 0.0, 0.5]))


def test_card_figures_and_zoo_eval_come_from_one_metric_and_agree(tmp_path, monkeypatch):
    """recipes/evaluate_ns2d.py writes a card's figures with rollout_errors; `zoo eval` calls
    evaluate_resolutions. Both must go through rollout_metrics and give the same numbers."""
    import zoo.eval.rollout as rollout
    from train_problems import heat_fields
    from zoo.eval.resolutions import evaluate_resolutions
    from zoo.models import AutoregressiveOperator

    torch.manual_seed(0)
    fno = {"in_channels": 2, "out_channels": 1, "modes": [6], "width": 8, "n_layers": 2, "projection_channels": 16}
    stepper = AutoregressiveOperator({"architecture": "FNO", "config": fno}, history=2).eval()
    fields = heat_fields(5, 32, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5], seed=3).float()  # (N, T, X)
    torch.save({"input": fields[:, 0], "output": fields}, tmp_path / "trajectories.pt")
    calls = []
    monkeypatch.setattr(rollout, "rollout_metrics", lambda *a, **k: calls.append(1) or METRIC(*a, **k))

    card = rollout.rollout_errors(rollout.rollout_predictions(stepper, fields, history=2), fields[:, 2:])
    assert len(calls) == 1
    (row,) = evaluate_resolutions(stepper, [str(tmp_path / "trajectories.pt")], subsample=[1], batch_size=2)
    assert len(calls) == 1 + 3  # one call per evaluation batch of 2, 2 and 1 trajectories
    assert row["metrics"]["relative_l2"] == pytest.approx(card["trajectory"].item(), rel=1e-6)
    assert row["metrics"]["rollout_relative_l2"] == pytest.approx(card["per_step"].tolist(), rel=1e-6)
    assert card["trajectory"].item() > 0.05  # an untrained stepper: the agreement is not of two zeros
