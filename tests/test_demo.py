"""``zoo demo`` runs end to end on a checkpoint directory, offline, and writes its plots."""

import torch

from zoo.cli import main
from zoo.hub import save_pretrained
from zoo.models import AutoregressiveOperator


def test_demo_prints_error_and_speedup_and_writes_plots(tmp_path, capsys):
    torch.manual_seed(0)
    backbone = {"architecture": "FNO", "config": {"in_channels": 10, "out_channels": 1, "modes": [4, 4], "width": 8, "n_layers": 2}}
    save_pretrained(AutoregressiveOperator(backbone, history=10, field_std=[0.9]), tmp_path / "tiny")
    assert main(["demo", "--checkpoint", str(tmp_path / "tiny"), "--fine", "0", "--t-end", "13", "--out", str(tmp_path / "plots")]) == 0
    printed = capsys.readouterr().out
    assert "64x64: relative L2 over t = 11..13" in printed and "x faster" in printed
    for name in ("vorticity_t13_64.png", "rollout_error.png", "energy_spectrum_t13.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"
