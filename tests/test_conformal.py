"""Conformal bands: exact finite-sample coverage on constructed exchangeable data, per-step
calibration, UQNO's domain guarantee, the width-model path, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import zoo
from zoo.eval.conformal import (
    band_metrics,
    conformalize,
    domain_quantile,
    pointwise_quantile,
    predict,
    rollout_windows,
)
from zoo.train.residual_width import fit_width_model
from zoo.train import TrainConfig


class Zero(nn.Module):
    """A one-step map predicting zero: its error is the target itself."""

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(u)


class ZeroStepper(nn.Module):
    """A time stepper (history 1) predicting zero at every step."""

    history, channels = 1, 1

    def rollout(self, u: torch.Tensor, steps: int) -> torch.Tensor:
        return torch.zeros(u.shape[0], steps, *u.shape[2:])


def binomial_tolerance(p: float, draws: int) -> float:
    return 4 * math.sqrt(p * (1 - p) / draws)


def test_pointwise_coverage_is_the_exact_finite_sample_rank():
    # Each grid point its own group: classical split conformal with n = 19 functions. For continuous
    # exchangeable scores, P(covered) = ceil((n + 1) level) / (n + 1) = 18 / 20 at level 0.87.
    generator = torch.Generator().manual_seed(0)
    n, repetitions, level = 19, 400, 0.87
    covered = []
    for _ in range(repetitions):
        data = torch.randn(n + 1, 1, 8, 8, generator=generator)
        bands = conformalize(Zero(), (data[:n], data[:n]), level, per=("channel", "point"))
        _, lower, upper = bands.predict(data[n:])
        covered.append(((data[n:] >= lower) & (data[n:] <= upper)).double().flatten())
    coverage = float(torch.cat(covered).mean())
    expected = 18 / 20
    assert abs(coverage - expected) < binomial_tolerance(expected, repetitions * 64)
    assert coverage >= level


def test_pooled_pointwise_band_covers_at_least_the_level_and_matches_the_gaussian_quantile():
    generator = torch.Generator().manual_seed(1)
    level, n = 0.9, 40
    data = 2.0 * torch.randn(n, 1, 16, 16, generator=generator)
    bands = conformalize(Zero(), (data, data), level)
    # 10,240 pooled draws of |N(0, 4)|: the level (n+1)/n * 0.9 = 0.9225 quantile is 2 * 1.7637.
    assert float(bands.half_width_factor) == pytest.approx(2 * 1.7637, rel=0.03)
    coverages = []
    for _ in range(300):
        test = 2.0 * torch.randn(1, 1, 16, 16, generator=generator)
        _, lower, upper = bands.predict(test)
        coverages.append(float(((test >= lower) & (test <= upper)).double().mean()))
    assert sum(coverages) / len(coverages) >= level


@pytest.mark.parametrize("dependent", [False, True])
def test_pooled_band_over_covers_by_at_most_level_over_n(dependent):
    # Pooled rank ceil(level (n+1) P) of n P scores. Independent points: the band is the quantile at
    # level (n+1)/n, coverage level + level/n = 0.9 + 0.045 at n = 20. Points equal within a function
    # (P copies of one score): classical split conformal, coverage ceil(level (n+1)) / (n+1) = 19/21.
    generator = torch.Generator().manual_seed(5)
    n, points, level, repetitions = 20, 32, 0.9, 400
    covered = []
    for _ in range(repetitions):
        draws = torch.randn(n + 1, 1, 1 if dependent else points, generator=generator).expand(n + 1, 1, points)
        bands = conformalize(Zero(), (draws[:n], draws[:n]), level)
        _, lower, upper = bands.predict(draws[n:])
        covered.append(float(((draws[n:] >= lower) & (draws[n:] <= upper)).double().mean()))
    coverage = sum(covered) / repetitions
    expected = 19 / 21 if dependent else level * (n + 1) / n
    # Each repetition's coverage is one function's: independent across repetitions; its spread bounds the error.
    spread = torch.tensor(covered).std().item()
    assert abs(coverage - expected) < 4 * spread / math.sqrt(repetitions) + 1 / (n * points)
    assert coverage >= level


def test_per_step_bands_follow_an_error_growing_with_the_step():
    generator = torch.Generator().manual_seed(2)
    steps, level = 5, 0.9
    growth = torch.arange(1.0, steps + 1).view(1, steps, 1, 1, 1)

    def trajectories(n: int) -> torch.Tensor:
        return torch.cat([torch.zeros(n, 1, 1, 8, 8), growth * torch.randn(n, steps, 1, 8, 8, generator=generator)], 1)

    bands = conformalize(ZeroStepper(), trajectories(99), level)
    # |N(0, s^2)| has its 0.9 quantile at 1.6449 s.
    torch.testing.assert_close(bands.half_width_factor.flatten(), 1.6449 * growth.flatten(), rtol=0.05, atol=0)
    figures = band_metrics(bands, trajectories(200), levels=[level])["levels"]["0.9"]
    per_step = torch.tensor(figures["coverage_per_step"])
    assert ((per_step - level).abs() < 0.02).all()
    pooled = band_metrics(conformalize(ZeroStepper(), trajectories(99), level, per=("channel",)), trajectories(200),
                          levels=[level])["levels"]["0.9"]["coverage_per_step"]
    assert pooled[0] > 0.99 and pooled[-1] < 0.8  # one width for all steps: early over-, late under-covered


def test_rollout_band_has_the_calibrated_width_per_step():
    bands = conformalize(ZeroStepper(), torch.randn(20, 4, 1, 4, 4), 0.9)
    mean, lower, upper = bands.rollout(torch.randn(3, 1, 1, 4, 4), 2)
    assert mean.shape == lower.shape == upper.shape == (3, 2, 1, 4, 4)
    torch.testing.assert_close((upper - lower) / 2, bands.half_width_factor[:2].expand(3, 2, 1, 4, 4))
    with pytest.raises(ValueError, match="calibrated for 3 rollout steps"):
        bands.rollout(torch.randn(3, 1, 1, 4, 4), 4)


def heterogeneous_functions(n: int, generator: torch.Generator) -> torch.Tensor:
    """Functions ``(n, 1, 1, 16)`` whose error scale varies from function to function (log-normal)."""
    scale = torch.exp(torch.randn(n, 1, 1, 1, generator=generator))
    return scale * torch.randn(n, 1, 1, 16, generator=generator)


def test_domain_mode_holds_on_one_minus_delta_of_functions_where_the_pointwise_band_does_not():
    # P(a new function has >= 90% of its domain inside) = ceil(0.9 * 50) / 50 = 0.9 exactly.
    generator = torch.Generator().manual_seed(3)
    n, level, delta, repetitions = 49, 0.9, 0.1, 3000
    passed, passed_pointwise = [], []
    for _ in range(repetitions):
        scores = heterogeneous_functions(n + 1, generator).abs()
        calibration, test = scores[:n, None], scores[n:, None]
        for quantile, out in ((domain_quantile(calibration, level, delta), passed),
                              (pointwise_quantile(calibration, level), passed_pointwise)):
            out.append(float((test <= quantile).double().mean() >= level))
    rate = sum(passed) / repetitions
    assert abs(rate - 0.9) < binomial_tolerance(0.9, repetitions) and rate >= 1 - delta - 0.01
    assert sum(passed_pointwise) / repetitions < 0.8


def test_domain_mode_metrics_report_the_guarantee():
    generator = torch.Generator().manual_seed(4)
    calibration, test = heterogeneous_functions(49, generator), heterogeneous_functions(400, generator)
    bands = conformalize(Zero(), (calibration, calibration), 0.9, mode="domain", delta=0.1)
    figures = band_metrics(bands, (test, test), levels=[0.9])
    assert figures["mode"] == "domain" and figures["test_functions"] == 400
    assert figures["levels"]["0.9"]["domain_coverage"] >= 0.85


def test_rollout_windows_are_the_frames_each_step_was_predicted_from():
    context = torch.arange(2.0).view(1, 2, 1, 1, 1)
    predictions = torch.arange(2.0, 5.0).view(1, 3, 1, 1, 1)
    windows = rollout_windows(context, predictions)
    assert windows.flatten().tolist() == [0, 1, 1, 2, 2, 3]


def tiny_field_operator() -> nn.Module:
    torch.manual_seed(0)
    backbone = {"architecture": "FNO", "config": {"in_channels": 1, "out_channels": 1, "modes": [3, 3], "width": 8,
                                                   "n_layers": 2, "projection_channels": 16}}
    return zoo.create_model("FieldOperator", backbone=backbone)


def known_error_pairs(model: nn.Module, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``a`` and targets whose error against ``model`` has the known size ``0.05 + |a|`` per point."""
    a = torch.randn(n, 1, 8, 8, generator=generator)
    with torch.no_grad():
        return a, model(a) + (0.05 + a.abs()) * torch.randn(n, 1, 8, 8, generator=generator)


def test_width_model_from_another_backbone_is_trained_from_scratch_and_learns_the_error_size():
    generator = torch.Generator().manual_seed(6)
    model = tiny_field_operator().eval()
    unet = {"architecture": "UNet2d", "config": {"in_channels": 1, "out_channels": 1, "width": 8, "depth": 2}}
    width, history = fit_width_model(model, known_error_pairs(model, 128, generator), TrainConfig(
        max_steps=60, batch_size=16, lr=5e-3, progress=False, device="cpu", log_every=10), backbone=unet)
    assert type(width.backbone).__name__ == "UNet2d" and history[-1]["loss"] < history[0]["loss"]
    a = torch.randn(100, 1, 8, 8, generator=generator)
    with torch.no_grad():
        log_width = width(a).log().flatten()
    assert float(torch.corrcoef(torch.stack([log_width, (0.05 + a.abs()).log().flatten()]))[0, 1]) > 0.5


def test_width_model_learns_where_the_error_is_and_keeps_the_coverage():
    generator = torch.Generator().manual_seed(5)
    model = tiny_field_operator().eval()

    def pairs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return known_error_pairs(model, n, generator)

    width, history = fit_width_model(model, pairs(128), TrainConfig(max_steps=60, batch_size=16, lr=5e-3,
                                                                   progress=False, device="cpu", log_every=10))
    assert history[-1]["loss"] < history[0]["loss"]
    test = pairs(100)
    with torch.no_grad():
        log_width, log_true = width(test[0]).log().flatten(), (0.05 + test[0].abs()).log().flatten()
    assert float(torch.corrcoef(torch.stack([log_width, log_true]))[0, 1]) > 0.5
    bands = conformalize(model, pairs(99), 0.9, width_model=width)
    figures = band_metrics(bands, test, levels=[0.9])
    plain = band_metrics(conformalize(model, pairs(99), 0.9), test, levels=[0.9])
    assert abs(figures["levels"]["0.9"]["coverage"] - 0.9) < 0.03
    # Even the true scale correlates imperfectly with |error| = scale |N(0, 1)|; ask for most of it.
    error = (test[1] - model(test[0]).detach()).abs().flatten()
    oracle = float(torch.corrcoef(torch.stack([(0.05 + test[0].abs()).flatten(), error]))[0, 1])
    assert figures["width_error_correlation"] > 0.6 * oracle and plain["width_error_correlation"] is None
    # Same coverage, narrower band on average: the width goes where the error is.
    assert figures["levels"]["0.9"]["half_width"] < plain["levels"]["0.9"]["half_width"]


class ScaleOfInput(nn.Module):
    """A width model that reads the error's scale off the input (the input is that scale)."""

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a.abs()


def test_function_correlation_sees_which_functions_err_more_where_the_pointwise_one_is_capped():
    # Function f errs with scale s_f (uniform over its grid), s_f spread over a decade; the width
    # model knows s_f exactly. Pointwise, |error| = s_f |N(0, 1)| correlates with s_f only up to the
    # Gaussian ceiling; across functions, the RMS over 64 points estimates s_f to about 9%.
    generator = torch.Generator().manual_seed(11)

    class Zero(nn.Module):
        in_channels = out_channels = 1

        def forward(self, a: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(a)

    def pairs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        scale = 10 ** torch.rand(n, 1, 1, 1, generator=generator)
        return scale.expand(n, 1, 8, 8).clone(), scale * torch.randn(n, 1, 8, 8, generator=generator)

    bands = conformalize(Zero(), pairs(200), 0.9, width_model=ScaleOfInput())
    figures = band_metrics(bands, pairs(100), levels=[0.9])
    assert figures["function_width_error_correlation"] > 0.97
    assert figures["width_error_correlation"] <= figures["width_error_correlation_ceiling"] + 0.05 < 0.8
    assert band_metrics(conformalize(Zero(), pairs(200), 0.9), pairs(100), levels=[0.9])["function_width_error_correlation"] is None


def test_width_model_reads_each_rollout_window():
    seen = []

    class Recorder(nn.Module):
        def forward(self, u: torch.Tensor) -> torch.Tensor:
            seen.append(u.clone())
            return torch.ones_like(u)

    trajectories = torch.randn(4, 3, 1, 2, 2)
    run = predict(ZeroStepper(), trajectories, width_model=Recorder())
    assert run.width.shape == run.mean.shape == (4, 2, 1, 2, 2)
    torch.testing.assert_close(seen[0].view(4, 2, 1, 2, 2), run.inputs)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: conformalize(Zero(), (torch.zeros(20, 1, 2), torch.zeros(20, 1, 2)), 1.0), "strictly between 0 and 1"),
        (lambda: conformalize(Zero(), (torch.zeros(5, 1, 2), torch.zeros(5, 1, 2)), 0.9), "at least 9 calibration"),
        (lambda: conformalize(Zero(), (torch.zeros(5, 1, 2), torch.zeros(5, 1, 2)), 0.5, mode="domain", delta=0.1),
         "at least 9 calibration"),
        (lambda: conformalize(Zero(), (torch.zeros(20, 1, 2), torch.zeros(20, 1, 2)), 0.5, mode="band"), "mode must"),
        (lambda: conformalize(Zero(), (torch.zeros(20, 1, 2), torch.zeros(20, 1, 2)), 0.5, per=("time",)), "unknown axes"),
        (lambda: conformalize(Zero(), (torch.zeros(20, 1, 2), torch.zeros(20, 1, 2)), 0.5, mode="domain",
                              per=("point",)), "drop 'point'"),
        (lambda: conformalize(Zero(), (torch.zeros(20, 1, 2), torch.zeros(19, 1, 2))), "one N"),
        (lambda: conformalize(Zero(), (torch.zeros(20, 1, 2), torch.zeros(20, 2, 2))), "differ in shape"),
        (lambda: conformalize(Zero(), torch.zeros(20, 1, 2)), "a pair"),
        (lambda: conformalize(ZeroStepper(), torch.zeros(20, 3, 2, 4, 4)), "C=1"),
        (lambda: conformalize(ZeroStepper(), torch.zeros(20, 1, 1, 4, 4)), "need more than the model's history"),
        (lambda: conformalize(Zero(), (torch.zeros(20, 1, 2), torch.zeros(20, 1, 2)),
                              width_model=lambda u: torch.zeros_like(u)), "non-positive"),
        (lambda: conformalize(Zero(), (torch.zeros(20, 1, 2), torch.zeros(20, 1, 2)),
                              width_model=lambda u: torch.ones(u.shape[0], 3)), "one width per output"),
        (lambda: conformalize(Zero(), (torch.zeros(20, 1, 2), torch.zeros(20, 1, 2))).rollout(torch.zeros(1, 1, 1, 2), 1),
         "use bands.predict"),
        (lambda: conformalize(ZeroStepper(), torch.zeros(20, 2, 1, 2, 2)).predict(torch.zeros(1, 1, 2, 2)),
         "use bands.rollout"),
        (lambda: fit_width_model(Zero(), (torch.zeros(4, 1, 2), torch.zeros(4, 1, 2)), TrainConfig()), "FieldOperator"),
    ],
)
def test_bad_input_is_a_one_line_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_width_model_saves_and_loads_as_a_registered_architecture(tmp_path):
    model = tiny_field_operator().eval()
    a = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    width, _ = fit_width_model(model, (a, a), TrainConfig(max_steps=1, batch_size=4, progress=False, device="cpu"))
    loaded = zoo.from_pretrained(zoo.save_pretrained(width, tmp_path / "width"))
    torch.testing.assert_close(loaded(a), width(a).detach())
    assert bool((loaded(a) > 0).all())


def test_calibrating_a_stored_run_matches_calibrating_the_data():
    trajectories = torch.randn(20, 4, 1, 4, 4, generator=torch.Generator().manual_seed(7))

    def width(u: torch.Tensor) -> torch.Tensor:
        return 1 + u[:, -1:].abs()

    direct = conformalize(ZeroStepper(), trajectories, 0.8, width_model=width)
    stored = conformalize(ZeroStepper(), predict(ZeroStepper(), trajectories), 0.8, width_model=width)
    torch.testing.assert_close(stored.scores, direct.scores)
    torch.testing.assert_close(stored.half_width_factor, direct.half_width_factor)
