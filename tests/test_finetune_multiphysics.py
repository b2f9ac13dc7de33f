"""Fine-tuning a MultiphysicsOperator on the user's arrays: field names reach the model, unknown ones are added.

References: the stepper view against the operator called with names (same weights, same output);
the added field's statistics against the training split computed directly; the card and the
loaded checkpoint against the run's own test metric recomputed through ``zoo.eval``.
"""

import json

import numpy as np
import pytest
import torch

from test_finetune_arrays import travelling_waves
from train_problems import one_thread
from zoo.cli import main
from zoo.data.splits import split_trajectories
from zoo.eval.rollout import time_stepper_metrics
from zoo.hub import from_pretrained, save_pretrained
from zoo.models import MultiphysicsOperator, MultiphysicsStepper, as_stepper
from zoo.train import seed_everything
from zoo.train.arrays import finetune_on_arrays

CONTEXT = 2


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def tiny_operator():
    seed_everything(0)
    return MultiphysicsOperator(["vorticity", "scalar"], field_mean=[0.0, 0.1], field_std=[1.0, 0.5], context=CONTEXT,
                                width=8, depth=1, modes=4, groups=1)


def test_stepper_view_is_the_operator_called_with_names():
    operator = tiny_operator().eval()
    stepper = as_stepper(operator, ["scalar", "vorticity"]).eval()
    x = torch.randn(3, CONTEXT, 2, 12, 12)
    assert stepper.history == CONTEXT and stepper.channels == 2
    torch.testing.assert_close(stepper(x.flatten(1, 2)), operator(x, ["scalar", "vorticity"]))
    with pytest.raises(ValueError, match="unknown field 'height'"):
        as_stepper(operator, ["height"])
    with pytest.raises(ValueError, match="has 3 channels, expected 4"):
        stepper(torch.randn(1, 3, 12, 12))


def test_finetune_adds_unknown_fields_and_evaluates_through_zoo_eval(tmp_path):
    source = save_pretrained(tiny_operator(), tmp_path / "pretrained")
    data = travelling_waves(8, frames=6, size=12, channels=2)
    data[:, :, 1] = 3.0 + 2.0 * data[:, :, 1]  # the new field: another mean and scale
    np.save(tmp_path / "train.npy", data)
    test = travelling_waves(4, frames=6, size=12, channels=2, seed=1)
    test[:, :, 1] = 3.0 + 2.0 * test[:, :, 1]
    np.save(tmp_path / "test.npy", test)
    metrics = finetune_on_arrays(source, tmp_path / "train.npy", eval_data=tmp_path / "test.npy", fields=["vorticity", "height"],
                                 out=tmp_path / "run", max_epochs=2, patience=2, batch_size=4, device="cpu", progress=False)
    model = from_pretrained(tmp_path / "run" / "finetuned" / "model").eval()
    assert isinstance(model, MultiphysicsStepper)
    assert model.data_fields == ["vorticity", "height"] and model.fields == ["vorticity", "scalar", "height"]
    train = data[split_trajectories(8, {"validation": 0.2}, seed=0)["train"], :, 1].astype(np.float64)
    assert model.field_mean[2].item() == pytest.approx(train.mean(), rel=1e-5)
    assert model.field_std[2].item() == pytest.approx(train.std(ddof=1), rel=1e-5)
    assert model.field_std[1].item() == pytest.approx(0.5)  # known fields keep their statistics
    u = torch.from_numpy(test)
    rollout = time_stepper_metrics(model, (u[:, :CONTEXT].flatten(1, 2), u[:, CONTEXT:].flatten(1, 2)))
    assert metrics["test"]["rollout_relative_l2"]["mean"] == pytest.approx(rollout["relative_l2"].mean().item(), abs=1e-5)
    assert metrics["training"]["history"] == CONTEXT and metrics["test"]["rollout_steps"] == 4
    assert "step_10_relative_l2" not in metrics["test"]  # 4 rollout steps: no step 10


def test_separate_validation_file_trains_on_every_trajectory_and_scratch_cli(tmp_path):
    source = save_pretrained(tiny_operator(), tmp_path / "pretrained")
    np.save(tmp_path / "train.npy", travelling_waves(3, frames=13, size=12, channels=1))
    np.save(tmp_path / "val.npy", travelling_waves(2, frames=13, size=12, channels=1, seed=2))
    np.save(tmp_path / "test.npy", travelling_waves(2, frames=13, size=12, channels=1, seed=3))
    metrics = finetune_on_arrays(source, tmp_path / "train.npy", eval_data=tmp_path / "test.npy", validation_data=tmp_path / "val.npy",
                                 fields=["vorticity"], out=tmp_path / "run", max_epochs=1, patience=1, device="cpu", progress=False)
    assert metrics["training"]["trajectories"] == 3 and metrics["validation"]["trajectories"] == 2
    assert metrics["data"]["splits"]["train"] == [0, 1, 2]
    assert set(metrics["test"]["step_10_relative_l2"]) == {"mean", "ci95"}
    main(["finetune", "--from", str(source), "--data", str(tmp_path / "train.npy"), "--eval-data", str(tmp_path / "test.npy"),
          "--fields", "vorticity", "--scratch", "--epochs", "1", "--patience", "1", "--device", "cpu", "--quiet",
          "--out", str(tmp_path / "cli")])
    scratch = json.loads((tmp_path / "cli" / "scratch" / "metrics.json").read_text())
    assert scratch["initialisation"] == "random (scratch)" and scratch["training"]["history"] == CONTEXT
