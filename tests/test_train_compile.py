"""The trainer's compile setting: forced on or off, or measured ("auto"), the choice logged, and
the measurement leaving the run's result as it would have been without it."""

import json
import time

import pytest
import torch
from torch import nn

from train_problems import heat_pairs, one_thread
from zoo.models import FNO
from zoo.train import compile_choice
from zoo.train.config import TrainConfig
from zoo.train.trainer import Trainer, seed_everything


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def tiny_fno():
    seed_everything(0)
    return FNO(1, 1, modes=[8], width=12, n_layers=2, projection_channels=24)


def config(tmp_path, **overrides):
    values = dict(max_steps=12, batch_size=8, lr=5e-3, log_every=3, progress=False, device="cpu", out_dir=str(tmp_path))
    return TrainConfig(**{**values, **overrides})


def losses(history):
    return [r["loss"] for r in history if r["split"] == "train"]


class FakeCompiled(nn.Module):
    """Stands in for ``torch.compile(model)``: the same computation, minus the model's forward
    hooks (where the test puts a delay that only the eager model pays)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.forward(x)


def slow_eager(model: nn.Module, seconds: float) -> nn.Module:
    model.register_forward_pre_hook(lambda module, args: time.sleep(seconds))
    return model


def test_settings_on_off_and_booleans():
    assert TrainConfig(compile=True).compile == "on"
    assert TrainConfig(compile=False).compile == "off"
    assert TrainConfig().compile == "auto"
    with pytest.raises(ValueError, match="compile setting"):
        TrainConfig(compile="sometimes")


def test_auto_stays_eager_without_measuring_in_a_short_run(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_choice.torch, "compile", lambda model: pytest.fail("a short run must not compile"))
    trainer = Trainer(tiny_fno(), heat_pairs(32), config(tmp_path))
    history = trainer.fit()
    assert not trainer.compile_choice.compiled and "too few" in trainer.compile_choice.reason
    assert all(r["split"] != "compile" for r in history)
    assert trainer.train_model is trainer.model


def test_auto_stays_eager_when_the_run_is_too_short_to_repay_compiling(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_choice, "AUTO_MIN_STEPS", 5)
    monkeypatch.setattr(compile_choice.torch, "compile", lambda model: pytest.fail("a run of seconds must not compile"))
    trainer = Trainer(tiny_fno(), heat_pairs(32), config(tmp_path))
    trainer.fit()
    assert not trainer.compile_choice.compiled and "too short to repay" in trainer.compile_choice.reason


def test_auto_stays_eager_when_batches_come_on_several_grids(tmp_path, monkeypatch):
    # A measured 5x faster compiled step does not count: every new grid would recompile.
    monkeypatch.setattr(compile_choice, "AUTO_MIN_STEPS", 5)
    monkeypatch.setattr(compile_choice, "AUTO_MIN_SECONDS", 0.0)
    monkeypatch.setattr(compile_choice.torch, "compile", lambda model: pytest.fail("a multi-grid run must not compile"))
    trainer = Trainer(tiny_fno(), [heat_pairs(32, 32), heat_pairs(16, 16, seed=1)], config(tmp_path))
    trainer.fit()
    assert not trainer.compile_choice.compiled and "2 shapes" in trainer.compile_choice.reason
    # Two datasets on one grid are one shape: the choice is measured as usual.
    monkeypatch.setattr(compile_choice, "_seconds_per_step", lambda module, step: 1.0 if module is trainer.model else 0.2)
    monkeypatch.setattr(compile_choice.torch, "compile", FakeCompiled)
    trainer = Trainer(tiny_fno(), [heat_pairs(32, 32), heat_pairs(16, 32, seed=1)], config(tmp_path / "one-grid"))
    trainer.fit()
    assert trainer.compile_choice.compiled


@pytest.mark.parametrize("compiled_s, expect_compiled", [(0.2, True), (1.0, False)])
def test_auto_takes_the_faster_and_logs_why(tmp_path, monkeypatch, compiled_s, expect_compiled):
    monkeypatch.setattr(compile_choice, "AUTO_MIN_STEPS", 5)
    monkeypatch.setattr(compile_choice, "AUTO_MIN_SECONDS", 0.0)
    monkeypatch.setattr(compile_choice.torch, "compile", FakeCompiled)
    # The clock is the test's: eager 1 s a step, the "compiled" model compiled_s (a real timing
    # would flip under load). The steps still run, so the measurement's side effects are real.
    def seconds_per_step(module, step):
        step(module)
        return compiled_s if isinstance(module, FakeCompiled) else 1.0

    monkeypatch.setattr(compile_choice, "_seconds_per_step", seconds_per_step)
    trainer = Trainer(tiny_fno(), heat_pairs(32), config(tmp_path))
    history = trainer.fit()
    choice = trainer.compile_choice
    assert choice.compiled == expect_compiled
    assert isinstance(trainer.train_model, FakeCompiled) == expect_compiled
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    (record,) = [r for r in logged if r["split"] == "compile"]
    assert record["compiled"] == expect_compiled and record["step"] == 0
    assert (record["compiled_s_per_step"] * compile_choice.MARGIN < record["eager_s_per_step"]) == expect_compiled
    assert record in history
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert saved["metadata"]["training"]["compiled"] == expect_compiled


def test_measuring_changes_nothing_in_the_run(tmp_path, monkeypatch):
    """Same losses, bit for bit, with and without the measurement (weights, gradients, RNG untouched)."""
    monkeypatch.setattr(compile_choice.torch, "compile", FakeCompiled)
    plain = losses(Trainer(tiny_fno(), heat_pairs(32), config(tmp_path / "off", compile="off")).fit())
    monkeypatch.setattr(compile_choice, "AUTO_MIN_STEPS", 5)
    monkeypatch.setattr(compile_choice, "AUTO_MIN_SECONDS", 0.0)
    measured = losses(Trainer(slow_eager(tiny_fno(), 0.02), heat_pairs(32), config(tmp_path / "auto")).fit())
    assert measured == plain


@pytest.mark.slow  # compiles the tiny FNO (about 30-60 s on 2 shared CPU cores)
def test_auto_with_torch_compile_agrees_with_eager(tmp_path, monkeypatch):
    monkeypatch.setattr(compile_choice, "AUTO_MIN_STEPS", 5)
    monkeypatch.setattr(compile_choice, "AUTO_MIN_SECONDS", 0.0)
    eager = losses(Trainer(tiny_fno(), heat_pairs(32), config(tmp_path / "off", compile="off")).fit())
    trainer = Trainer(tiny_fno(), heat_pairs(32), config(tmp_path / "auto"))
    auto = losses(trainer.fit())
    assert trainer.compile_choice.compile_s is not None  # it measured
    assert auto == pytest.approx(eager, rel=1e-4)
