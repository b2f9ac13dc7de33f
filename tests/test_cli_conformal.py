"""``zoo eval NAME --data TEST --calibration CALIB``: conformal band coverage from the command line."""

import json
import math

import numpy as np
import pytest
import torch

from zoo.cli import main
from zoo.eval import band_metrics, conformalize
from zoo.hub import save_pretrained
from zoo.models import AutoregressiveOperator
from zoo.train import seed_everything

FNO_2D = {"in_channels": 1, "out_channels": 1, "modes": [4, 4], "width": 8, "n_layers": 1, "projection_channels": 8}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _trajectories(n: int, seed: int) -> np.ndarray:
    """Decaying random Fourier modes ``(n, T=4, C=1, 8, 8)``: smooth, different per seed."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    k = rng.integers(1, 3, size=(n, 2))
    amplitude = rng.normal(size=(n, 1, 1, 1, 1))
    field = np.sin(k[:, 0, None, None] * x[:, None] + k[:, 1, None, None] * x[None, :])[:, None, None]
    decay = np.exp(-0.3 * np.arange(4))[None, :, None, None, None]
    return (amplitude * field * decay).astype(np.float32)


@pytest.fixture
def stepper_and_data(tmp_path):
    seed_everything(0)
    stepper = AutoregressiveOperator({"architecture": "FNO", "config": FNO_2D}, history=1, channels=1)
    source = save_pretrained(stepper, tmp_path / "stepper")
    calibration, test = _trajectories(19, seed=1), _trajectories(12, seed=2)
    np.save(tmp_path / "calibration.npy", calibration)
    np.save(tmp_path / "test.npy", test)
    return stepper, source, torch.from_numpy(calibration), torch.from_numpy(test)


def test_printed_coverage_is_band_metrics_figure(tmp_path, capsys, stepper_and_data):
    stepper, source, calibration, test = stepper_and_data
    out = tmp_path / "bands.json"
    code = main(["eval", str(source), "--data", str(tmp_path / "test.npy"), "--calibration", str(tmp_path / "calibration.npy"),
                 "--level", "0.8", "--device", "cpu", "--json", str(out)])
    assert code == 0
    with torch.no_grad():
        expected = band_metrics(conformalize(stepper, calibration, 0.8), test, levels=(0.8,))["levels"]["0.8"]
    printed = capsys.readouterr().out
    overall = next(line for line in printed.splitlines() if line.startswith("overall"))
    assert float(overall.split()[1]) == pytest.approx(expected["coverage"], abs=5e-5)
    first = next(line for line in printed.splitlines() if line.startswith("first step"))
    assert float(first.split()[2]) == pytest.approx(expected["coverage_per_step"][0], abs=5e-5)
    stored = json.loads(out.read_text())
    assert stored["levels"]["0.8"]["coverage"] == pytest.approx(expected["coverage"], rel=1e-6)
    assert stored["calibration_functions"] == 19 and stored["test_functions"] == 12

    # Independent of conformalize: step 1's band is the ceil(0.8 (n + 1) P)-th smallest pooled |error|.
    with torch.no_grad():
        errors = lambda data: (stepper.rollout(data[:, 0], 3)[:, :, None] - data[:, 1:]).abs()  # C = 1
        pooled = errors(calibration)[:, 0].flatten().sort().values
        lam = pooled[math.ceil(0.8 * (19 + 1) * 64) - 1]
        coverage = float((errors(test)[:, 0] <= lam).double().mean())
    assert stored["levels"]["0.8"]["coverage_per_step"][0] == pytest.approx(coverage, abs=1e-9)


@pytest.mark.parametrize("options, message", [
    (["--level", "1.5"], "level must lie strictly between 0 and 1"),
    (["--level", "0.99"], "calibration"),
])
def test_bad_arguments_are_one_line_with_the_error_status(tmp_path, capsys, stepper_and_data, options, message):
    _, source, _, _ = stepper_and_data
    code = main(["eval", str(source), "--data", str(tmp_path / "test.npy"), "--calibration", str(tmp_path / "calibration.npy"),
                 "--device", "cpu", *options])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error


def test_finetune_on_arrays_reports_band_coverage_calibrated_on_validation(tmp_path, capsys):
    from test_finetune_arrays import BACKBONE, HISTORY, finetune, travelling_waves

    seed_everything(0)
    stepper = str(save_pretrained(AutoregressiveOperator(BACKBONE, history=HISTORY, channels=1), tmp_path / "stepper"))
    train, test = travelling_waves(24, seed=1), travelling_waves(5, seed=2)
    np.save(tmp_path / "mine.npy", train)
    np.save(tmp_path / "held_out.npy", test)
    out = tmp_path / "runs"
    assert finetune(stepper, tmp_path / "mine.npy", "--eval-data", str(tmp_path / "held_out.npy"), "--out", str(out),
                    "--validation", "0.45") == 0
    metrics = json.loads((out / "finetuned" / "metrics.json").read_text())
    bands = metrics["conformal"]
    validation = metrics["data"]["splits"]["validation"]
    assert bands["calibration_trajectories"] == len(validation) >= 9 and bands["test_trajectories"] == 5

    # Independently: per rollout step, lambda is the ceil(0.9 (n + 1) P)-th smallest pooled |error|.
    from zoo.hub import from_pretrained

    model = from_pretrained(out / "finetuned" / "model").eval()
    errors = lambda u: (model.rollout(u[:, :HISTORY], 6 - HISTORY) - u[:, HISTORY:]).abs()  # noqa: E731  (C = 1)
    with torch.no_grad():
        calibration, tested = errors(torch.from_numpy(train[validation])), errors(torch.from_numpy(test))
    n, points = calibration.shape[0], calibration[0, 0].numel()
    lam = calibration.transpose(0, 1).flatten(1).sort(dim=1).values[:, math.ceil(0.9 * (n + 1) * points) - 1]
    inside = (tested <= lam[None, :, None, None]).double()
    assert bands["coverage"] == pytest.approx(float(inside.mean()), abs=1e-9)
    assert bands["half_width_per_step"] == pytest.approx(lam.tolist(), rel=1e-6)
    printed = capsys.readouterr().out
    assert f"test coverage {bands['coverage']:.3f}" in printed


def test_a_one_step_map_is_calibrated_on_first_to_last_frame_pairs(tmp_path, capsys, stepper_and_data):
    from zoo.models import FNO

    _, _, calibration, test = stepper_and_data
    seed_everything(0)
    model = FNO(**FNO_2D)
    source = save_pretrained(model, tmp_path / "fno")
    out = tmp_path / "bands.json"
    assert main(["eval", str(source), "--data", str(tmp_path / "test.npy"), "--calibration", str(tmp_path / "calibration.npy"),
                 "--device", "cpu", "--json", str(out)]) == 0
    pairs = lambda u: (u[:, 0], u[:, -1])  # noqa: E731  the default pairs: first frame to last
    with torch.no_grad():
        expected = band_metrics(conformalize(model.eval(), pairs(calibration), 0.9), pairs(test), levels=(0.9,))
    stored = json.loads(out.read_text())
    assert stored["levels"]["0.9"]["coverage"] == pytest.approx(expected["levels"]["0.9"]["coverage"], rel=1e-6)
    assert stored["levels"]["0.9"]["half_width"] == pytest.approx(expected["levels"]["0.9"]["half_width"], rel=1e-6)
    assert "first step" not in capsys.readouterr().out  # one step: the overall line only
