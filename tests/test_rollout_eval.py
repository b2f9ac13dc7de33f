"""Rollout evaluation: the FNO paper's trajectory metric and per-step errors."""

import torch

from zoo.eval.rollout import rollout_errors, rollout_predictions


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
