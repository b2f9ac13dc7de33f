"""The trainer: it learns, it resumes bit-for-bit, it logs, plots and checkpoints what it says."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import Dataset, TensorDataset

from train_problems import cole_hopf_trajectories, heat_fields, heat_pairs, one_thread
from zoo.hub import from_pretrained
from zoo.hub.schema import read_config
from zoo.hub.weights import file_sha256
from zoo.models import FNO
from zoo.train.batching import BatchPlan
from zoo.train.checkpoint import latest_checkpoint
from zoo.losses import relative_l2
from zoo.models.time_stepper import unroll
from zoo.train.objectives import Autoregressive, PartiallyLabelled, PhysicsInformed, Supervised
from zoo.losses.physics import BurgersPhysics
from zoo.train.schedules import schedule_factor
from zoo.train.config import TrainConfig
from zoo.train.trainer import Trainer, seed_everything


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def tiny_fno(in_channels=1, out_channels=1, seed=0):
    seed_everything(seed)
    return FNO(in_channels, out_channels, modes=[8], width=12, n_layers=2, projection_channels=24)


def config(tmp_path=None, **overrides):
    values = dict(max_steps=40, batch_size=8, lr=5e-3, log_every=10, progress=False, device="cpu")
    if tmp_path is not None:
        values["out_dir"] = str(tmp_path)
    return TrainConfig(**{**values, **overrides})


def test_a_tiny_fno_learns_the_heat_equation_to_low_error():
    model = tiny_fno()
    trainer = Trainer(
        model,
        heat_pairs(64, seed=0),
        config(max_steps=150, warmup_steps=10, eval_every=150),
        eval_data=heat_pairs(32, seed=1),
    )
    history = trainer.fit()
    evaluation = [r for r in history if r["split"] == "eval"][-1]
    # An untrained FNO errs by about 100%; the exact operator is one spectral convolution.
    assert evaluation["relative_l2"] < 0.03
    train = [r["loss"] for r in history if r["split"] == "train"]
    assert train[-1] < 0.1 * train[0]


class NoisyInputs(Supervised):
    """Supervised training on inputs jittered with the global RNG, so resume must restore it."""

    def __call__(self, model, batch):
        inputs, targets = batch
        return super().__call__(model, (inputs + 0.01 * torch.randn_like(inputs), targets))


class Interrupt(Exception):
    pass


class FailsAfter(Dataset):
    """Wraps a dataset and raises once ``limit`` items have been read: a run killed mid-way."""

    def __init__(self, data, limit):
        self.data, self.limit, self.reads = data, limit, 0

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        self.reads += 1
        if self.reads > self.limit:
            raise Interrupt
        return self.data[index]


def test_an_interrupted_run_resumed_ends_with_exactly_the_same_weights(tmp_path):
    data = heat_pairs(36, seed=0)  # 4 full batches of 8 per epoch, 4 samples dropped
    settings = dict(max_steps=22, checkpoint_every=5, schedule="cosine", warmup_steps=3, log_every=1)
    reference = tiny_fno()
    Trainer(reference, data, config(tmp_path / "whole", **settings), objective=NoisyInputs()).fit()

    killed = tiny_fno()
    # Dies while reading the batch of step 13 (mid-epoch): the last checkpoint is step 10.
    with pytest.raises(Interrupt):
        Trainer(killed, FailsAfter(data, 12 * 8 + 3), config(tmp_path / "cut", **settings), objective=NoisyInputs()).fit()
    assert latest_checkpoint(tmp_path / "cut" / "checkpoints").name == "step_00000010"

    resumed = tiny_fno(seed=123)  # different initial weights: everything must come from the checkpoint
    Trainer(resumed, data, config(tmp_path / "cut", **settings), objective=NoisyInputs()).fit(resume=True)
    for (name, expected), actual in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(expected, actual), name

    def losses(run):
        lines = (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        return [(r["step"], r["loss"], r["lr"]) for r in map(json.loads, lines)]

    # The log of the resumed run reads as if it had never stopped.
    assert losses("cut") == losses("whole")


def test_resume_refuses_a_different_data_order(tmp_path):
    Trainer(tiny_fno(), heat_pairs(16), config(tmp_path, max_steps=2)).fit()
    with pytest.raises(ValueError, match="batch_size was 8, now 4"):
        Trainer(tiny_fno(), heat_pairs(16), config(tmp_path, max_steps=4, batch_size=4)).fit(resume=True)


def test_checkpoint_holds_safetensors_weights_and_plain_optimizer_state(tmp_path):
    model = tiny_fno()
    Trainer(model, heat_pairs(16), config(tmp_path, max_steps=6, checkpoint_every=2, keep_checkpoints=2)).fit()
    checkpoints = tmp_path / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("step_*")) == ["step_00000004", "step_00000006"]
    path = latest_checkpoint(checkpoints)
    weights = load_file(str(path / "model.safetensors"))
    for name, tensor in model.state_dict().items():
        assert torch.equal(weights[name], tensor)
    optimizer = torch.load(path / "optimizer.pt", weights_only=True)
    assert len(optimizer["state"]) == sum(1 for _ in model.parameters())
    assert json.loads((path / "trainer_state.json").read_text())["step"] == 6
    assert not list(checkpoints.glob(".*"))  # no temporary files left behind
    # Every checkpoint, and the final model, is a Hub checkpoint with the recipe on its card.
    for directory in (path, tmp_path / "model"):
        loaded = from_pretrained(directory)
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())
        assert read_config(directory)["metadata"]["training"]["steps"] == 6


def test_metrics_are_logged_as_jsonl_and_csv_and_plotted(tmp_path):
    trajectories = heat_fields(12, 32, [0.0, 0.5, 1.0, 1.5], seed=0)
    Trainer(
        tiny_fno(),
        TensorDataset(trajectories),
        config(tmp_path, max_steps=4, log_every=2, eval_every=4, batch_size=4),
        objective=Autoregressive(history=1),
        eval_data=TensorDataset(trajectories[:4]),
    ).fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["split"]) for r in records] == [(2, "train"), (4, "train"), (4, "eval")]
    assert len(records[-1]["rollout_relative_l2"]) == 3
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "split", "loss", "lr", "relative_l2"} <= set(header)
    assert "rollout_relative_l2" not in header  # lists stay in the JSONL
    for plot in ("loss.png", "rollout_relative_l2.png"):
        assert (tmp_path / "plots" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_warmup_then_cosine_and_step_schedules():
    cosine = dict(schedule="cosine", total_steps=12, warmup_steps=2, min_factor=0.1)
    assert schedule_factor(0, **cosine) == pytest.approx(0.5)
    assert schedule_factor(1, **cosine) == pytest.approx(1.0)
    assert schedule_factor(2, **cosine) == pytest.approx(1.0)
    # Halfway through the 10 post-warm-up steps the cosine is at the midpoint of [0.1, 1].
    assert schedule_factor(7, **cosine) == pytest.approx(0.55)
    assert schedule_factor(12, **cosine) == pytest.approx(0.1)
    step = dict(schedule="step", total_steps=1000, step_size=100, gamma=0.5)
    assert [schedule_factor(s, **step) for s in (0, 99, 100, 250)] == [1.0, 1.0, 0.5, 0.25]


def test_learning_rate_follows_the_schedule_and_group_scales():
    model = tiny_fno()
    spectral = [p for n, p in model.named_parameters() if "spectral" in n]
    others = [p for n, p in model.named_parameters() if "spectral" not in n]
    groups = [{"params": others}, {"params": spectral, "lr_scale": 0.1}]
    trainer = Trainer(model, heat_pairs(16), config(max_steps=3, schedule="constant", warmup_steps=2, lr=1e-2), param_groups=groups)
    trainer.fit()
    # The last (third) update is past the warm-up: full rate, scaled per group.
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([1e-2, 1e-3])


def test_batch_plan_covers_each_resolution_without_mixing_and_splits_batches_over_ranks():
    sizes = [10, 7]  # two resolutions
    plan = BatchPlan(sizes, 4, seed=3)
    batches = plan.global_batches(epoch=0)
    assert len(batches) == plan.batches_per_epoch == 2 + 1
    flat = [i for b in batches for i in b]
    assert len(set(flat)) == len(flat)
    assert all(all(i < 10 for i in b) or all(i >= 10 for i in b) for b in batches)
    assert plan.global_batches(epoch=1) != batches and plan.global_batches(epoch=0) == batches
    shares = [list(BatchPlan(sizes, 4, seed=3, rank=r, world_size=2).epoch(0)) for r in range(2)]
    assert [a + b for a, b in zip(*shares)] == batches
    assert list(plan.epoch(0, start=2)) == batches[2:]


def test_training_on_two_resolutions_reports_each():
    trainer = Trainer(
        tiny_fno(),
        [heat_pairs(16, size=32, seed=0), heat_pairs(16, size=64, seed=1)],
        config(max_steps=8, eval_every=8),
        eval_data=[heat_pairs(8, size=32, seed=2), heat_pairs(8, size=64, seed=2)],
    )
    evaluation = [r for r in trainer.fit() if r["split"] == "eval"][-1]
    assert set(evaluation) == {"step", "split", "relative_l2@32", "relative_l2@64"}
    # Same initial fields sampled on two grids: a resolution-invariant operator errs alike.
    assert evaluation["relative_l2@32"] == pytest.approx(evaluation["relative_l2@64"], rel=0.05)


def test_bf16_autocast_trains():
    history = Trainer(tiny_fno(), heat_pairs(32), config(max_steps=30, precision="bf16")).fit()
    losses = [r["loss"] for r in history]
    assert math.isfinite(losses[-1]) and losses[-1] < 0.5 * losses[0]


def test_non_finite_gradients_stop_training_with_the_step():
    class Explodes(Supervised):
        def __call__(self, model, batch):
            return {"loss": super().__call__(model, batch)["loss"] * float("inf")}

    with pytest.raises(FloatingPointError, match="step 1"):
        Trainer(tiny_fno(), heat_pairs(16), config(max_steps=2), objective=Explodes()).fit()


def test_training_accepts_an_iterable_of_batches():
    data = heat_pairs(32)
    batches = [(data.tensors[0][i : i + 8], data.tensors[1][i : i + 8]) for i in range(0, 32, 8)]
    history = Trainer(tiny_fno(), batches, config(max_steps=10, log_every=5)).fit()
    assert [r["step"] for r in history] == [5, 10]


# ---- objectives


class Shift(torch.nn.Module):
    """A known time stepper: the next frame is the last one plus one."""

    def forward(self, window):
        return window[:, -1:] + 1


def test_unroll_free_and_teacher_forced():
    initial = torch.zeros(2, 2, 5)  # history of 2 frames
    free = unroll(Shift(), initial, 3)
    assert free[:, :, 0].tolist() == [[1, 2, 3]] * 2
    truth = torch.full((2, 3, 5), 10.0)
    forced = unroll(Shift(), initial, 3, truth=truth)
    # Step 1 starts from the history (0), later steps from the true frames (10).
    assert forced[:, :, 0].tolist() == [[1, 11, 11]] * 2


def test_autoregressive_training_learns_a_time_stepper_over_a_k_step_unroll():
    times = [0.25 * i for i in range(5)]
    train = TensorDataset(heat_fields(48, 32, times, seed=0))
    history = Trainer(
        tiny_fno(),
        train,
        config(max_steps=80, eval_every=80),
        objective=Autoregressive(history=1, teacher_forcing=False),
        eval_data=TensorDataset(heat_fields(16, 32, times, seed=1)),
    ).fit()
    evaluation = history[-1]
    assert evaluation["relative_l2"] < 0.1
    # Errors accumulate along the rollout.
    assert evaluation["rollout_relative_l2"][0] < evaluation["rollout_relative_l2"][-1]


def test_physics_informed_objective_fits_data_only_on_labelled_samples():
    physics = lambda inputs, prediction: prediction.square().mean()  # noqa: E731
    objective = PhysicsInformed(physics, data_loss="mse", data_weight=2.0, physics_weight=0.5)
    model = torch.nn.Identity()
    inputs = torch.tensor([[[1.0, 1.0]], [[2.0, 2.0]]])
    targets = torch.tensor([[[0.0, 0.0]], [[5.0, 5.0]]])
    terms = objective(model, (inputs, targets, torch.tensor([False, True])))
    assert terms["physics"].item() == pytest.approx(2.5)  # mean of 1, 1, 4, 4
    assert terms["data"].item() == pytest.approx(9.0)  # only sample 1: (2 - 5)^2
    assert terms["loss"].item() == pytest.approx(0.5 * 2.5 + 2.0 * 9.0)
    unlabelled = objective(model, inputs)
    assert set(unlabelled) == {"loss", "physics"}


def test_hybrid_training_with_the_residual_on_unlabelled_inputs_beats_the_labels_alone():
    # Burgers u(0) -> u(0.01 .. 0.2): 2 solved trajectories, 64 initial conditions in all.
    trajectories = cole_hopf_trajectories(64, amplitude=1.0, seed=0)
    test = cole_hopf_trajectories(32, amplitude=1.0, seed=9)
    pairs = TensorDataset(trajectories[:, :1], trajectories[:, 1:])
    physics = PhysicsInformed(BurgersPhysics(viscosity=0.02, dt=0.01))
    runs = {
        "labels only": (TensorDataset(*pairs[:2]), Supervised()),
        "hybrid": (PartiallyLabelled(pairs, labelled=[0, 1]), physics),
    }
    errors = {}
    for name, (data, objective) in runs.items():
        seed_everything(0)
        model = FNO(1, 20, modes=[12], width=24, n_layers=3, projection_channels=48)
        Trainer(model, data, config(max_steps=200, batch_size=min(16, len(data)), lr=3e-3), objective=objective).fit()
        with torch.no_grad():
            errors[name] = relative_l2(model(test[:, :1]), test[:, 1:]).item()
    assert errors["hybrid"] < 0.6 * errors["labels only"]  # measured: 0.062 vs 0.144


@pytest.mark.slow  # compiling takes about 30 s on 2 CPU cores
def test_compiled_training_takes_the_same_steps_as_eager():
    runs = [Trainer(tiny_fno(), heat_pairs(32), config(max_steps=10, log_every=1, compile=compiled)).fit() for compiled in (False, True)]
    eager, compiled = ([r["loss"] for r in history] for history in runs)
    assert compiled == pytest.approx(eager, rel=1e-4)


class Persistence(torch.nn.Module):
    """Predicts that the last frame (of ``channels`` channels) stays as it is."""

    def __init__(self, channels):
        super().__init__()
        self.channels = channels

    def forward(self, window):
        return window[:, -self.channels :]


def test_autoregressive_evaluation_with_two_channel_frames_reports_the_error_of_each_step():
    frames = torch.randn(2, 4, 2, 8, generator=torch.Generator().manual_seed(0))  # (B, T, C, X)
    metrics = Autoregressive(history=1, channels=2).evaluate(Persistence(2), frames.flatten(1, 2))
    # Persistence predicts frame 0 at every step: step s errs by ||u_s - u_0|| / ||u_s||.
    expected = torch.stack([(frames[:, s] - frames[:, 0]).flatten(1).norm(dim=1) / frames[:, s].flatten(1).norm(dim=1) for s in (1, 2, 3)], 1)
    torch.testing.assert_close(metrics["rollout_relative_l2"], expected)
    whole = (frames[:, 1:] - frames[:, :1]).flatten(1).norm(dim=1) / frames[:, 1:].flatten(1).norm(dim=1)
    torch.testing.assert_close(metrics["relative_l2"], whole)


def test_physics_informed_rollout_feeds_the_residual_the_whole_predicted_trajectory():
    seen = {}

    def physics(inputs, prediction):
        seen["prediction"] = prediction
        return prediction.square().mean()

    PhysicsInformed(physics, rollout_steps=3)(Shift(), torch.zeros(2, 1, 5))
    assert seen["prediction"][:, :, 0].tolist() == [[1, 2, 3]] * 2


class ScriptedEvaluation(Supervised):
    """Evaluations report ``values`` in turn (one batch each) and keep a copy of the weights they saw."""

    def __init__(self, values):
        super().__init__()
        self.values, self.seen = list(values), []

    def evaluate(self, model, batch):
        self.seen.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"relative_l2": torch.full((len(batch[0]),), self.values[len(self.seen) - 1])}


def assert_same_weights(model, state):
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_early_stopping_stops_after_patience_and_keeps_the_best_weights(tmp_path):
    data, held_out = heat_pairs(16, seed=0), heat_pairs(8, seed=1)
    # Evaluations at steps 0 (the starting weights), 2, 4, 6, 8: best at step 4, then two worse ones.
    objective = ScriptedEvaluation([0.5, 0.4, 0.3, 0.35, 0.32, 0.1])
    settings = dict(max_steps=40, eval_every=2, early_stopping_patience=2, schedule="constant")
    model = tiny_fno()
    trainer = Trainer(model, data, config(tmp_path, **settings), objective=objective, eval_data=held_out)
    trainer.fit()
    assert trainer.step == 8 and len(objective.seen) == 5
    stopping = dict(trainer.early_stopping)
    assert stopping.pop("best_sha256") == file_sha256(tmp_path / "best" / "training_weights.safetensors")
    assert stopping == {"best": pytest.approx(0.3), "best_step": 4, "since": 2, "stopped": True}
    assert not torch.equal(objective.seen[2]["lifting.weight"], objective.seen[4]["lifting.weight"])
    assert_same_weights(model, objective.seen[2])
    assert_same_weights(from_pretrained(tmp_path / "model"), objective.seen[2])

    # Resumed after the stop: no further step, and the best weights again (from out_dir/best).
    resumed = tiny_fno(seed=5)
    again = Trainer(resumed, data, config(tmp_path, **settings), objective=ScriptedEvaluation([]), eval_data=held_out)
    again.fit(resume=True)
    assert again.step == 8
    assert_same_weights(resumed, objective.seen[2])


def test_a_run_killed_after_an_improvement_resumes_with_the_best_weights_of_its_checkpoint(tmp_path):
    data, held_out = heat_pairs(16, seed=0), heat_pairs(8, seed=1)
    settings = dict(max_steps=12, eval_every=2, checkpoint_every=4, early_stopping_patience=10, schedule="constant")
    # Evaluations at steps 0, 2, 4, 6: the best at step 2 is what checkpoint 4 records; the better
    # one at step 6 rewrites best/; the 5th evaluation (step 8, before checkpoint 8) has no value: killed.
    objective = ScriptedEvaluation([0.5, 0.4, 0.45, 0.3])
    with pytest.raises(IndexError):
        Trainer(tiny_fno(), data, config(tmp_path, **settings), objective=objective, eval_data=held_out).fit()
    recorded = json.loads((tmp_path / "checkpoints" / "step_00000004" / "trainer_state.json").read_text())["early_stopping"]
    assert recorded["best_step"] == 2 and recorded["best_sha256"] != file_sha256(tmp_path / "best" / "training_weights.safetensors")

    # The replay scores step 6 worse, so the best stays checkpoint 4's: the weights of step 2.
    resumed = tiny_fno(seed=5)
    replay = ScriptedEvaluation([0.45, 0.46, 0.47, 0.48])  # steps 6, 8, 10, 12
    again = Trainer(resumed, data, config(tmp_path, **settings), objective=replay, eval_data=held_out)
    again.fit(resume=True)
    assert again.step == 12 and again.early_stopping["best_step"] == 2
    assert_same_weights(resumed, objective.seen[1])


def test_early_stopping_keeps_the_starting_weights_when_training_never_beats_them(tmp_path):
    objective = ScriptedEvaluation([0.2, 0.3, 0.4])
    model = tiny_fno()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    settings = dict(max_steps=40, eval_every=2, early_stopping_patience=2)
    Trainer(model, heat_pairs(16), config(**settings), objective=objective, eval_data=heat_pairs(8, seed=1)).fit()
    assert_same_weights(model, start)


def test_early_stopping_needs_evaluations_to_watch():
    with pytest.raises(ValueError, match="early stopping needs eval_data"):
        Trainer(tiny_fno(), heat_pairs(16), config(early_stopping_patience=3))
