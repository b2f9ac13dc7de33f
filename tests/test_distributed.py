"""Data-parallel training under torchrun (2 CPU processes, gloo) matches a single process step for step."""

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from train_problems import heat_pairs, one_thread, save_neuralop_pairs
from zoo.cli import main
from zoo.models import create_model
from zoo.train import seed_everything


def write_run(tmp_path):
    save_neuralop_pairs(tmp_path / "train.pt", heat_pairs(40, seed=0))
    save_neuralop_pairs(tmp_path / "test.pt", heat_pairs(8, seed=1))
    config = {
        "model": {
            "architecture": "FNO",
            "config": {"in_channels": 1, "out_channels": 1, "modes": [8], "width": 12, "n_layers": 2, "projection_channels": 24},
        },
        "data": {"train": str(tmp_path / "train.pt"), "eval": str(tmp_path / "test.pt")},
        # 40 samples, global batch 8: 5 steps per epoch; 8 steps cross an epoch boundary.
        "trainer": {"max_steps": 8, "batch_size": 8, "lr": 5e-3, "warmup_steps": 2, "log_every": 1, "eval_every": 4, "device": "cpu"},
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config))
    return path


def train_losses(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in records if r["split"] == "train"]


def test_two_process_ddp_matches_a_single_process_run(tmp_path):
    config = write_run(tmp_path)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "zoo", "train", str(config), "--out-dir", str(tmp_path / "ddp"), "--quiet",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with one_thread():
        assert main(["train", str(config), "--out-dir", str(tmp_path / "single"), "--quiet"]) == 0

    single = load_file(str(tmp_path / "single" / "model" / "model.safetensors"))
    ddp = load_file(str(tmp_path / "ddp" / "model" / "model.safetensors"))
    assert single.keys() == ddp.keys()
    for name in single:
        torch.testing.assert_close(ddp[name], single[name], rtol=1e-5, atol=1e-6, msg=name)
    # Training moved the weights far more than the tolerance, so the match is not trivial.
    seed_everything(0)
    initial = create_model("FNO", **json.loads(config.read_text())["model"]["config"]).state_dict()
    assert max((single[k] - initial[k]).abs().max().item() for k in single) > 1e-2
    # Rank 0 logged the mean loss over both processes' halves of each global batch.
    assert train_losses(tmp_path / "ddp") == pytest.approx(train_losses(tmp_path / "single"), rel=1e-5)
    assert json.loads((tmp_path / "ddp" / "model" / "config.json").read_text())["metadata"]["training"]["processes"] == 2
