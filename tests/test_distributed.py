"""Under torchrun with 2 CPU processes (gloo): data-parallel training matches a single process step
for step, and slab-parallel spectral layers match the single-process layer."""

import json
import pathlib
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from train_problems import heat_pairs, one_thread, save_neuralop_pairs
from zoo.cli import main
from zoo.layers import SpectralConv
from zoo.models import FNO, create_model
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


def test_slab_parallel_spectral_layers_match_the_single_process_layer(tmp_path):
    worker = pathlib.Path(__file__).with_name("domain_parallel_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(worker), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for name, modes, width in (("even", (5, 4), 12), ("padded", (3, 5), 12)):
        # The single-process reference, drawn from the same seed as the worker.
        torch.manual_seed(0)
        conv = SpectralConv(3, 2, modes).double()
        x = torch.randn(2, 3, 16, width, dtype=torch.float64, requires_grad=True)
        output_grad = torch.randn(2, 2, 16, width, dtype=torch.float64)
        y = conv(x)
        (y * output_grad).sum().backward()
        gathered = {key: torch.cat([r[name][key] for r in ranks], dim=2) for key in ("output", "input_grad")}
        torch.testing.assert_close(gathered["output"], y.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(gathered["input_grad"], x.grad, rtol=1e-12, atol=1e-12)
        for r in ranks:  # summed over the slabs: every rank holds the full weight gradient
            torch.testing.assert_close(r[name]["weight_grad"], conv.weight.grad, rtol=1e-12, atol=1e-12)
    torch.manual_seed(1)
    model = FNO(2, 1, modes=[4, 3], width=6, n_layers=2, projection_channels=8, grid_features=False).double()
    x = torch.randn(2, 2, 16, 10, dtype=torch.float64)
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(torch.cat([r["fno"]["output"] for r in ranks], dim=2), expected, rtol=1e-12, atol=1e-12)
