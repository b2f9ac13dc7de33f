"""`zoo train`, `zoo finetune` and `zoo eval` on small data files, checked against direct computation."""

import json

import pytest
import torch
import yaml

from train_problems import heat_fields, heat_pairs, one_thread, save_neuralop_pairs
from zoo.cli import main
from zoo.hub import from_pretrained, save_pretrained
from zoo.hub.schema import read_config
from zoo.models import FNO, AutoregressiveOperator
from zoo.losses import relative_l2
from zoo.train import seed_everything


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


FNO_CONFIG = {"in_channels": 1, "out_channels": 1, "modes": [8], "width": 12, "n_layers": 2, "projection_channels": 24}


def write_config(path, **sections):
    path.write_text(yaml.safe_dump(sections))
    return path


def test_train_from_a_yaml_config_writes_a_loadable_model(tmp_path, capsys):
    train = save_neuralop_pairs(tmp_path / "train.pt", heat_pairs(32, seed=0))
    config = write_config(
        tmp_path / "run.yaml",
        model={"architecture": "FNO", "config": FNO_CONFIG},
        data={"train": str(train)},
        trainer={"max_steps": 30, "batch_size": 8, "lr": 5e-3, "device": "cpu"},
        metadata={"task": "heat u(0) -> u(1)"},
    )
    assert main(["train", str(config), "--out-dir", str(tmp_path / "run"), "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["step"] == 30
    model = from_pretrained(tmp_path / "run" / "model")
    x, y = heat_pairs(32, seed=0).tensors
    with torch.no_grad():
        assert relative_l2(model(x), y).item() < 0.5
    assert read_config(tmp_path / "run" / "model")["metadata"]["task"] == "heat u(0) -> u(1)"


def test_a_config_with_an_unknown_key_is_one_clear_error(tmp_path, capsys):
    config = write_config(tmp_path / "run.yaml", model={"architecture": "FNO", "config": FNO_CONFIG}, data={"train": "x.pt"}, trainer={"max_step": 3})
    assert main(["train", str(config)]) == 2
    assert "trainer: unknown trainer settings ['max_step']" in capsys.readouterr().err


def pretrained_fno(tmp_path):
    seed_everything(0)
    return save_pretrained(FNO(**FNO_CONFIG), tmp_path / "pretrained")


def test_finetune_gives_new_heads_for_new_channels_and_records_the_base_model(tmp_path):
    source = pretrained_fno(tmp_path)
    # Two-channel data: u(0) and u(1) -> u(2) and u(3), in neuraloperator's {input, output} trajectory layout.
    fields = heat_fields(24, 32, [0.0, 1.0, 2.0, 3.0], seed=0)
    torch.save({"input": fields[:, 0].double(), "output": fields.double()}, tmp_path / "trajectories.pt")
    config = write_config(
        tmp_path / "pairs.yaml", data={"pairs": {"input_times": [0, 1], "target_times": [2, 3]}}, trainer={"device": "cpu"}
    )
    code = main([
        "finetune", "--from", str(source), "--data", str(tmp_path / "trajectories.pt"), "--config", str(config),
        "--spectral", "lora", "--lora-rank", "2", "--max-steps", "5", "--batch-size", "8",
        "--out-dir", str(tmp_path / "tuned"), "--quiet",
    ])  # fmt: skip
    assert code == 0
    tuned = from_pretrained(tmp_path / "tuned" / "model")
    assert (type(tuned), tuned.in_channels, tuned.out_channels) == (FNO, 2, 2)
    assert read_config(tmp_path / "tuned" / "model")["metadata"]["base_model"] == str(source)


def test_the_command_line_offers_every_spectral_mode():
    from zoo.cli.train import SPECTRAL_CHOICES
    from zoo.train.finetune import SPECTRAL_MODES

    assert SPECTRAL_CHOICES == SPECTRAL_MODES


def test_finetune_on_a_grid_coarser_than_the_modes_is_refused(tmp_path, capsys):
    source = pretrained_fno(tmp_path)
    data = save_neuralop_pairs(tmp_path / "coarse.pt", heat_pairs(8, size=8))
    code = main(["finetune", "--from", str(source), "--data", str(data), "--max-steps", "1", "--quiet", "--device", "cpu"])
    assert code == 2
    assert "grid 8 is coarser than FNO's Fourier modes [8]" in capsys.readouterr().err


def test_eval_prints_relative_l2_at_each_resolution_the_modes_allow(tmp_path, capsys):
    source = pretrained_fno(tmp_path)
    data = save_neuralop_pairs(tmp_path / "test.pt", heat_pairs(10, size=64, seed=3))
    assert main(["eval", str(source), "--data", str(data), "--device", "cpu", "--json", str(tmp_path / "eval.json")]) == 0
    output = capsys.readouterr().out
    rows = json.loads((tmp_path / "eval.json").read_text())["results"]
    # 8 modes need 14 points: 64, 32 and 16 qualify, 8 does not.
    assert [row["grid"] for row in rows] == [[64], [32], [16]]
    model = from_pretrained(source)
    x, y = heat_pairs(10, size=64, seed=3).tensors
    for row in rows:
        step = row["subsample"]
        with torch.no_grad():
            expected = relative_l2(model(x[..., ::step]), y[..., ::step]).item()
        assert row["metrics"]["relative_l2"] == pytest.approx(expected, rel=1e-6)
        assert f"{expected:.4g}" in output


def test_eval_of_a_time_stepper_rolls_out_whole_trajectories(tmp_path, capsys):
    seed_everything(0)
    stepper = AutoregressiveOperator({"architecture": "FNO", "config": FNO_CONFIG}, history=1, channels=1)
    source = save_pretrained(stepper, tmp_path / "stepper")
    fields = heat_fields(6, 32, [0.0, 0.5, 1.0, 1.5, 2.0], seed=1)
    torch.save({"input": fields[:, 0].double(), "output": fields.double()}, tmp_path / "trajectories.pt")
    assert main(["eval", str(source), "--data", str(tmp_path / "trajectories.pt"), "--subsample", "1", "--device", "cpu", "--json", str(tmp_path / "eval.json")]) == 0
    (row,) = json.loads((tmp_path / "eval.json").read_text())["results"]
    with torch.no_grad():
        rollout = stepper.rollout(fields[:, :1], 4)
    assert row["metrics"]["relative_l2"] == pytest.approx(relative_l2(rollout, fields[:, 1:]).item(), rel=1e-5)
    assert len(row["metrics"]["rollout_relative_l2"]) == 4
    assert "last step" in capsys.readouterr().out


def test_train_a_time_stepper_in_physical_units_with_statistics_of_the_data(tmp_path):
    fields = 3.0 + 2.0 * heat_fields(12, 32, [0.25 * i for i in range(6)], seed=2)  # mean 3, not unit scale
    torch.save({"input": fields[:, 0].double(), "output": fields.double()}, tmp_path / "trajectories.pt")
    backbone = {"architecture": "FNO", "config": {**FNO_CONFIG, "in_channels": 2}}
    config = write_config(
        tmp_path / "run.yaml",
        model={"architecture": "AutoregressiveOperator", "config": {"backbone": backbone, "history": 2, "channels": 1}},
        data={"train": str(tmp_path / "trajectories.pt"), "eval": str(tmp_path / "trajectories.pt"), "normalise": True},
        trainer={"max_steps": 4, "batch_size": 8, "device": "cpu"},
    )
    assert main(["train", str(config), "--out-dir", str(tmp_path / "run"), "--quiet"]) == 0
    saved = read_config(tmp_path / "run" / "model")["config"]
    # One-step windows with 2 frames of history: the targets are frames 2..5 of every trajectory.
    targets = fields[:, 2:].double()
    assert saved["field_mean"] == pytest.approx([targets.mean().item()], rel=1e-6)
    assert saved["field_std"] == pytest.approx([targets.std().item()], rel=1e-6)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(records[-1]["rollout_relative_l2"]) == 4  # evaluated on the whole rollout


def test_normalising_a_model_without_statistics_is_one_clear_error(tmp_path, capsys):
    data = save_neuralop_pairs(tmp_path / "train.pt", heat_pairs(8))
    config = write_config(
        tmp_path / "run.yaml",
        model={"architecture": "FNO", "config": FNO_CONFIG},
        data={"train": str(data), "normalise": True},
        trainer={"max_steps": 1, "batch_size": 4, "device": "cpu"},
    )
    assert main(["train", str(config), "--quiet"]) == 2
    assert "data.normalise: FNO holds no normalisation" in capsys.readouterr().err


def test_finetune_a_time_stepper_onto_a_two_field_system(tmp_path):
    import h5py

    seed_everything(0)
    stepper = AutoregressiveOperator({"architecture": "FNO", "config": FNO_CONFIG}, history=1, channels=1)
    source = save_pretrained(stepper, tmp_path / "stepper")
    # A PDEBench "variables" file: two fields (N, T, X), here two heat-equation solutions.
    times = [0.25 * i for i in range(5)]
    with h5py.File(tmp_path / "two_fields.h5", "w") as file:
        file["Vx"] = heat_fields(8, 32, times, seed=1).numpy()
        file["Vy"] = heat_fields(8, 32, times, seed=2).numpy()
        file["t-coordinate"] = times
    data = str(tmp_path / "two_fields.h5")
    code = main(["finetune", "--from", str(source), "--data", data, "--eval-data", data, "--max-steps", "3",
                 "--batch-size", "8", "--device", "cpu", "--out-dir", str(tmp_path / "tuned"), "--quiet"])  # fmt: skip
    assert code == 0
    tuned = from_pretrained(tmp_path / "tuned" / "model")
    assert (tuned.history, tuned.channels, tuned.backbone.in_channels, tuned.backbone.out_channels) == (1, 2, 2, 2)
    records = [json.loads(line) for line in (tmp_path / "tuned" / "metrics.jsonl").read_text().splitlines()]
    assert len(records[-1]["rollout_relative_l2"]) == 4  # rolled out with 2-channel frames
