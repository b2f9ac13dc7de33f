"""``zoo finetune --data my.npy``: the user's own trajectories in a plain array file.

Every bad file gets one line saying what to do; a good one gives disjoint recorded splits, a model
normalised to the training split, a card naming the data, and test errors in ``metrics.json`` that
a direct computation reproduces.
"""

import hashlib
import json

import h5py
import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from train_problems import one_thread
from zoo.cli import main
from zoo.data.arrays import read_array
from zoo.data.splits import split_trajectories
from zoo.data.store import DataFileError
from zoo.hub import from_pretrained, save_pretrained
from zoo.hub.schema import read_config
from zoo.models import AutoregressiveOperator
from zoo.train import seed_everything

HISTORY = 2
BACKBONE = {"architecture": "FNO", "config": {"in_channels": HISTORY, "out_channels": 1, "modes": [4, 4], "width": 8, "n_layers": 2, "projection_channels": 16}}


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture
def stepper(tmp_path):
    """A one-field time stepper reading 2 frames, with 4x4 modes (grids of at least 8x6)."""
    seed_everything(0)
    return str(save_pretrained(AutoregressiveOperator(BACKBONE, history=HISTORY, channels=1), tmp_path / "stepper"))


def travelling_waves(n, frames=6, size=12, channels=None, seed=0):
    """``(n, frames, [channels,] size, size)`` float32: a smooth pattern moving one cell per frame."""
    rng = np.random.default_rng(seed)
    x = np.arange(size) * 2 * np.pi / size
    shape = (n, frames) + ((channels,) if channels else ()) + (size, size)
    out = np.empty(shape, np.float32)
    for i in range(n):
        a, b, phase = rng.normal(size=3)
        for t in range(frames):
            field = a * np.sin(x[:, None] + 2 * np.pi * t / size + phase) + b * np.cos(x[None, :])
            out[i, t] = field if not channels else np.stack([field * (c + 1) for c in range(channels)])
    return out


def finetune(stepper, data, *options):
    return main(["finetune", "--from", stepper, "--data", str(data), "--epochs", "1", "--patience", "1",
                 "--batch-size", "4", "--device", "cpu", "--quiet", *options])  # fmt: skip


def refused(capsys, code, *fragments):
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("zoo finetune: error: "), err
    for fragment in fragments:
        assert fragment in err, err


# ---- bad data: one line each, saying what to do


def test_wrong_rank_is_refused_with_the_expected_layout(tmp_path, stepper, capsys):
    np.save(tmp_path / "flat.npy", np.zeros((4, 6, 12), np.float32))
    refused(capsys, finetune(stepper, tmp_path / "flat.npy"), "shape (4, 6, 12) (rank 3)", "(N, T, C, H, W)")


def test_channels_last_data_are_refused_with_the_move_that_fixes_them(tmp_path, stepper, capsys):
    np.save(tmp_path / "last.npy", np.moveaxis(travelling_waves(5, channels=2), 2, -1))  # (N, T, H, W, C)
    refused(capsys, finetune(stepper, tmp_path / "last.npy"), "(5, 6, 12, 12, 2) reads as 12 channels on a 12x2 grid",
            "np.moveaxis(a, -1, 2)")


def test_channels_before_time_are_refused_with_the_move_that_fixes_them(tmp_path, stepper, capsys):
    np.save(tmp_path / "nctw.npy", np.moveaxis(travelling_waves(5, channels=2), 2, 1))  # (N, C, T, H, W): reads as 2 frames
    refused(capsys, finetune(stepper, tmp_path / "nctw.npy"), "2 frames per trajectory", "(N, C, T, H, W)", "np.moveaxis(a, 2, 1)")


def test_nan_values_are_refused_naming_the_trajectory(tmp_path, stepper, capsys):
    data = travelling_waves(5)
    data[3, 2, 4, 4] = np.nan
    data[4, 0, 0, 0] = np.inf
    np.save(tmp_path / "nan.npy", data)
    refused(capsys, finetune(stepper, tmp_path / "nan.npy"), "2 NaN/Inf values (the first in trajectory 3)", "drop or repair")


def test_too_few_frames_for_the_models_history_is_refused(tmp_path, stepper, capsys):
    np.save(tmp_path / "short.npy", travelling_waves(5, frames=2))
    refused(capsys, finetune(stepper, tmp_path / "short.npy"), "2 frames per trajectory", "history=2", "at least 3 frames")


def test_too_few_trajectories_for_the_splits_is_refused(tmp_path, stepper, capsys):
    np.save(tmp_path / "two.npy", travelling_waves(2))
    refused(capsys, finetune(stepper, tmp_path / "two.npy"), "2 trajectories cannot be split", "at least 3", "--eval-data")


def test_a_grid_too_coarse_for_the_modes_is_refused(tmp_path, stepper, capsys):
    np.save(tmp_path / "coarse.npy", travelling_waves(5, size=6))
    refused(capsys, finetune(stepper, tmp_path / "coarse.npy"), "grid 6x6 is coarser", "at least 8x6")


def test_a_pickled_npy_is_refused_unread(tmp_path, stepper, capsys):
    np.save(tmp_path / "objects.npy", np.array([{"trajectory": 1}, None], dtype=object), allow_pickle=True)
    refused(capsys, finetune(stepper, tmp_path / "objects.npy"), "pickled (object) array", "np.save")


def test_a_truncated_file_is_refused(tmp_path, stepper, capsys):
    np.save(tmp_path / "whole.npy", travelling_waves(5))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "whole.npy").read_bytes()[:500])
    refused(capsys, finetune(stepper, tmp_path / "cut.npy"), "cut.npy: not a readable .npy file")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors at all")
    refused(capsys, finetune(stepper, tmp_path / "junk.safetensors"), "not a readable safetensors file")


def test_a_missing_safetensors_key_names_the_keys_present(tmp_path, stepper, capsys):
    save_file({"u": travelling_waves(5), "mask": np.ones((5,), np.float32)}, tmp_path / "two.safetensors")
    refused(capsys, finetune(stepper, tmp_path / "two.safetensors"), "holds tensors", "--key")
    refused(capsys, finetune(stepper, tmp_path / "two.safetensors", "--key", "w"), "no tensor 'w'", "'mask'", "'u'")


def test_a_missing_hdf5_key_names_the_datasets_present(tmp_path, stepper, capsys):
    with h5py.File(tmp_path / "runs.h5", "w") as file:
        file["sim/u"] = travelling_waves(5)
    refused(capsys, finetune(stepper, tmp_path / "runs.h5", "--key", "sim/w"), "no dataset 'sim/w'", "sim/u")


def test_a_model_that_is_not_a_time_stepper_is_refused(tmp_path, capsys):
    np.save(tmp_path / "runs.npy", travelling_waves(5))
    refused(capsys, finetune("fno-darcy", tmp_path / "runs.npy"), "fno-darcy is a FieldOperator, not a time stepper", "--config")


def test_field_names_must_match_the_channels(tmp_path, stepper, capsys):
    np.save(tmp_path / "one.npy", travelling_waves(5))
    refused(capsys, finetune(stepper, tmp_path / "one.npy", "--fields", "vorticity,scalar"), "2 field names", "1 channels")


# ---- reading and splitting


def test_every_container_reads_the_same_trajectories(tmp_path):
    data = travelling_waves(3, channels=2)
    np.save(tmp_path / "a.npy", data)
    save_file({"runs": data}, tmp_path / "a.safetensors")
    with h5py.File(tmp_path / "a.h5", "w") as file:
        file["group/runs"] = data
    for path, key in (("a.npy", None), ("a.safetensors", None), ("a.h5", "group/runs")):
        fields = read_array(tmp_path / path, key=key, fields=["vorticity", "scalar"])
        assert torch.equal(fields.trajectories, torch.from_numpy(data)), path
        assert fields.channels == ["vorticity", "scalar"]
    np.save(tmp_path / "four.npy", data[:, :, 0])  # (N, T, H, W) is one channel
    assert read_array(tmp_path / "four.npy").trajectories.shape == (3, 6, 1, 12, 12)


def test_splits_are_disjoint_cover_everything_and_follow_the_seed():
    splits = split_trajectories(20, {"validation": 0.2, "test": 0.25}, seed=3)
    assert (len(splits["validation"]), len(splits["test"]), len(splits["train"])) == (4, 5, 11)
    assert sorted(sum(splits.values(), [])) == list(range(20))
    assert splits == split_trajectories(20, {"validation": 0.2, "test": 0.25}, seed=3)
    assert splits != split_trajectories(20, {"validation": 0.2, "test": 0.25}, seed=4)
    with pytest.raises(DataFileError, match="cannot be split"):
        split_trajectories(2, {"validation": 0.1, "test": 0.1})


# ---- a run


def test_a_run_records_its_data_splits_statistics_and_test_errors(tmp_path, stepper, capsys):
    train, test = travelling_waves(10, seed=1), travelling_waves(4, seed=2)
    np.save(tmp_path / "mine.npy", train)
    np.save(tmp_path / "held_out.npy", test)
    out = tmp_path / "runs"
    assert finetune(stepper, tmp_path / "mine.npy", "--eval-data", str(tmp_path / "held_out.npy"), "--out", str(out)) == 0
    run = out / "finetuned"
    metrics = json.loads((run / "metrics.json").read_text())
    splits = metrics["data"]["splits"]
    assert sorted(splits["train"] + splits["validation"]) == list(range(10)) and len(splits["validation"]) == 2
    assert metrics["data"]["sha256"] == hashlib.sha256((tmp_path / "mine.npy").read_bytes()).hexdigest()

    model = from_pretrained(run / "model").eval()
    # Statistics of the training split's predicted frames (2..5), computed directly.
    targets = train[splits["train"], HISTORY:].astype(np.float64)
    assert model.config["field_mean"][0] == pytest.approx(targets.mean(), rel=1e-5, abs=1e-6)
    assert model.config["field_std"][0] == pytest.approx(targets.std(ddof=1), rel=1e-5)
    card = (run / "model" / "README.md").read_text()
    assert "mine.npy" in card and metrics["data"]["sha256"] in card
    assert read_config(run / "model")["metadata"]["base_model"] == stepper

    # The test errors, recomputed with plain torch norms from the saved model's rollout.
    u = torch.from_numpy(test)
    with torch.no_grad():
        rollout = model.rollout(u[:, :HISTORY], 6 - HISTORY)
        one_step = torch.stack([model(u[:, t - HISTORY : t])[:, 0] for t in range(HISTORY, 6)], 1)
    norm = lambda e, axes: torch.linalg.vector_norm(e, dim=axes)  # noqa: E731
    rollout_l2 = (norm(rollout - u[:, HISTORY:], (1, 2, 3)) / norm(u[:, HISTORY:], (1, 2, 3))).mean()
    one_step_l2 = (norm(one_step - u[:, HISTORY:], (2, 3)) / norm(u[:, HISTORY:], (2, 3))).mean()
    assert metrics["test"]["rollout_relative_l2"]["mean"] == pytest.approx(rollout_l2.item(), rel=1e-4)
    assert metrics["test"]["one_step_relative_l2"]["mean"] == pytest.approx(one_step_l2.item(), rel=1e-4)
    assert metrics["test"]["trajectories"] == 4
    assert "finetuned one-step" in capsys.readouterr().out

    # The baseline: same architecture and statistics, random weights, same data; both runs compared.
    assert finetune(stepper, tmp_path / "mine.npy", "--eval-data", str(tmp_path / "held_out.npy"), "--out", str(out), "--scratch") == 0
    printed = capsys.readouterr().out
    assert "finetuned one-step" in printed and "scratch   one-step" in printed
    scratch = from_pretrained(out / "scratch" / "model")
    assert scratch.config == model.config
    assert "base_model" not in read_config(out / "scratch" / "model")["metadata"]


def test_more_channels_than_the_checkpoint_get_new_heads(tmp_path, stepper):
    np.save(tmp_path / "two_fields.npy", travelling_waves(6, channels=2))
    assert finetune(stepper, tmp_path / "two_fields.npy", "--fields", "vorticity,scalar", "--out", str(tmp_path / "runs")) == 0
    model = from_pretrained(tmp_path / "runs" / "finetuned" / "model")
    assert (model.channels, model.backbone.in_channels, model.backbone.out_channels) == (2, 2 * HISTORY, 2)
    metrics = json.loads((tmp_path / "runs" / "finetuned" / "metrics.json").read_text())
    assert metrics["data"]["fields"] == ["vorticity", "scalar"]
    splits = metrics["data"]["splits"]
    assert sorted(splits["train"] + splits["validation"] + splits["test"]) == list(range(6))


def test_array_files_are_a_data_format_of_run_configurations(tmp_path):
    from zoo.data import load_fields

    np.save(tmp_path / "runs.npy", travelling_waves(3))
    assert torch.equal(load_fields(tmp_path / "runs.npy").trajectories[:, :, 0], torch.from_numpy(travelling_waves(3)))
    (tmp_path / "runs.dat").write_bytes(b"")
    with pytest.raises(DataFileError, match="save plain arrays as .npy or .safetensors"):
        load_fields(tmp_path / "runs.dat")


def test_early_stopping_watches_short_validation_rollouts(tmp_path, stepper, capsys):
    train = travelling_waves(10, frames=8, seed=3)
    np.save(tmp_path / "mine.npy", train)
    out = tmp_path / "runs"
    assert finetune(stepper, tmp_path / "mine.npy", "--validation-steps", "2", "--out", str(out)) == 0
    metrics = json.loads((out / "finetuned" / "metrics.json").read_text())
    validation = torch.from_numpy(train[metrics["data"]["splits"]["validation"]])
    assert metrics["validation"]["metric"].startswith(f"relative L2 of 2-step free rollouts from {3 * len(validation)} windows")

    # The best validation error, recomputed: 2-step rollouts from frames 0-1, 2-3 and 4-5 of each trajectory.
    model = from_pretrained(out / "finetuned" / "model").eval()
    errors = []
    with torch.no_grad():
        for start in (0, 2, 4):
            truth = validation[:, start + HISTORY : start + HISTORY + 2]
            error = model.rollout(validation[:, start : start + HISTORY], 2) - truth
            errors.append(torch.linalg.vector_norm(error, dim=(1, 2, 3)) / torch.linalg.vector_norm(truth, dim=(1, 2, 3)))
    assert metrics["validation"]["best_relative_l2"] == pytest.approx(torch.cat(errors).mean().item(), rel=1e-4)

    assert finetune(stepper, tmp_path / "mine.npy", "--validation-steps", "0", "--out", str(tmp_path / "whole")) == 0
    whole = json.loads((tmp_path / "whole" / "finetuned" / "metrics.json").read_text())
    assert whole["validation"]["metric"].startswith(f"relative L2 of 6-step free rollouts from {len(validation)} windows")
    assert finetune(stepper, tmp_path / "mine.npy", "--validation-steps", "-1", "--out", str(tmp_path / "bad")) != 0
    assert "validation_steps=-1" in capsys.readouterr().err


def test_lora_fine_tuning_trains_low_rank_updates_and_saves_a_plain_model(tmp_path, stepper, capsys):
    np.save(tmp_path / "mine.npy", travelling_waves(10, seed=4))
    pretrained = from_pretrained(stepper)
    assert finetune(stepper, tmp_path / "mine.npy", "--spectral", "lora", "--lora-rank", "2", "--out", str(tmp_path / "runs")) == 0
    run = tmp_path / "runs" / "finetuned"
    tuned = from_pretrained(run / "model")  # merged: a plain checkpoint of the same architecture
    assert json.loads((run / "metrics.json").read_text())["training"]["spectral"] == "lora rank 2"
    before, after = dict(pretrained.named_parameters()), dict(tuned.named_parameters())
    assert before.keys() == after.keys()
    # Each spectral weight moved by a rank <= 2 update per kept mode; the pointwise weights trained freely.
    spectral = [name for name in after if name.endswith("spectral.weight")]
    assert spectral
    for name in spectral:
        update = torch.view_as_complex((after[name] - before[name]).detach().contiguous())  # (*kept, in, out)
        assert update.abs().max() > 0
        # float32 rounding of W + A B (|W| ~ 1) leaves singular values ~3e-8: tolerances well above that
        assert int(torch.linalg.matrix_rank(update.reshape(-1, *update.shape[-2:]), atol=1e-6, rtol=1e-3).max()) <= 2
    assert finetune(stepper, tmp_path / "mine.npy", "--spectral", "lora", "--scratch", "--out", str(tmp_path / "bad")) != 0
    assert "spectral='lora'" in capsys.readouterr().err


def test_resuming_with_other_optimizer_settings_is_one_line(tmp_path, stepper, capsys):
    np.save(tmp_path / "mine.npy", travelling_waves(10, seed=5))
    out = ["--out", str(tmp_path / "runs")]
    assert finetune(stepper, tmp_path / "mine.npy", *out) == 0
    assert finetune(stepper, tmp_path / "mine.npy", *out, "--resume", "--epochs", "2") == 0  # same settings: resumes
    capsys.readouterr()
    assert finetune(stepper, tmp_path / "mine.npy", *out, "--resume", "--epochs", "3", "--spectral", "freeze") == 2
    error = capsys.readouterr().err.strip()
    assert "written with other optimizer settings" in error and "--overwrite" in error and len(error.splitlines()) == 1
