"""``zoo demo`` runs end to end on a checkpoint directory, offline, and writes its plots."""

import pytest
import torch
from tqdm import tqdm

from zoo.cli import main
from zoo.eval.demo import VISCOSITY, _one_thread, _solve
from zoo.hub import save_pretrained
from zoo.models import AutoregressiveOperator
from zoo.pde import gaussian_random_field, navier_stokes_2d


def test_demo_prints_error_and_speedup_and_writes_plots(tmp_path, capsys):
    torch.manual_seed(0)
    backbone = {"architecture": "FNO", "config": {"in_channels": 10, "out_channels": 1, "modes": [4, 4], "width": 8, "n_layers": 2}}
    save_pretrained(AutoregressiveOperator(backbone, history=10, field_std=[0.9]), tmp_path / "tiny")
    threads = torch.get_num_threads()
    assert main(["demo", "--checkpoint", str(tmp_path / "tiny"), "--fine", "0", "--t-end", "13", "--out", str(tmp_path / "plots")]) == 0
    assert torch.get_num_threads() == threads  # the demo's one-thread setting does not leak
    captured = capsys.readouterr()
    assert "64x64: relative L2 over t = 11..13" in captured.out and "x faster" in captured.out
    assert f"plots written to {(tmp_path / 'plots').resolve()}/" in captured.out
    assert "100%" in captured.err and "done" in captured.err  # the progress bar ran to its end
    for name in ("vorticity_t13_64.png", "rollout_error.png", "energy_spectrum_t13.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"


def test_demo_solves_in_steps_exactly_as_in_one_call():
    """The progress bar's one-call-per-time-unit solve gives the solver's own trajectory."""
    w0 = gaussian_random_field(1, 32, seed=3, dtype=torch.float64)
    with tqdm(disable=True) as bar, _one_thread():  # small FFTs: threads only add waiting
        stepped = _solve(w0, 3, bar, 1.0, "solving")
        one_call = navier_stokes_2d(w0, VISCOSITY, 3.0).float()
    assert torch.allclose(stepped, one_call, rtol=0, atol=1e-6)


@pytest.mark.parametrize("arguments", [["--t-end", "10"], ["--full", "--fine", "0"]])
def test_demo_refuses_bad_arguments_before_any_work(arguments, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", *arguments])
    assert exit_.value.code == 2 and "zoo demo: error:" in capsys.readouterr().err
