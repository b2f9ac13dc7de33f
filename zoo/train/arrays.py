"""Fine-tune a pretrained time stepper on the user's own trajectories in one plain array file.

:func:`finetune_on_arrays` is what ``zoo finetune --from NAME --data my.npy`` runs on an array
``(N, T, C, H, W)`` (:mod:`zoo.data.arrays`): seeded disjoint splits (recorded); new heads for
``C`` channels (:func:`zoo.models.adapt.with_channels`) and normalisation statistics of the
training split (:func:`zoo.models.normalisation.normalised_to`, stored in ``config.json``), or
with ``scratch`` the same architecture and statistics from random weights; one-step training with
early stopping on the validation rollout error; test errors from
:func:`zoo.eval.rollout.time_stepper_metrics` (the metric of ``zoo eval`` and the cards) in
``metrics.json``, and the model in Hub layout with its card in ``model/``.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.data.arrays import read_array
from zoo.data.fields import FieldData, TimeWindows
from zoo.data.specs import ConfigError
from zoo.data.splits import split_trajectories
from zoo.data.store import DataFileError
from zoo.eval.rollout import time_stepper_metrics
from zoo.files import atomic_write_text
from zoo.hub import from_pretrained, save_pretrained
from zoo.hub.weights import file_sha256
from zoo.models.adapt import DataMismatchError, check_data_fits, with_channels
from zoo.models.multiphysics import MultiphysicsOperator, with_fields
from zoo.models.multiphysics_stepper import MultiphysicsStepper, as_stepper
from zoo.models.normalisation import normalised_to
from zoo.models.registry import create_model
from zoo.models.time_stepper import is_time_stepper
from zoo.train.checkpoint import merged_copy
from zoo.train.config import TrainConfig
from zoo.train.finetune import finetuning_groups
from zoo.train.objectives import Autoregressive
from zoo.train.trainer import Trainer, seed_everything

RUN_NAMES = {False: "finetuned", True: "scratch"}
METRICS_FILE = "metrics.json"
VALIDATION_STEPS = 4  # default rollout length of the early-stopping metric (see finetune_on_arrays)
REPORTED_STEP = 10  # metrics.json also gives the error of the free rollout's frame at this step


def finetune_on_arrays(
    source: str | Path,
    data: str | Path,
    *,
    eval_data: str | Path | None = None,
    validation_data: str | Path | None = None,
    key: str | None = None,
    fields: Sequence[str] | None = None,
    scratch: bool = False,
    out: str | Path | None = None,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    max_epochs: int = 30,
    patience: int = 5,
    validation_steps: int | None = VALIDATION_STEPS,
    lr: float = 1e-3,
    batch_size: int = 16,
    spectral: str = "train",
    lora_rank: int = 4,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune checkpoint ``source`` on the trajectories in ``data`` (or train it from scratch).

    Args:
        source: a pretrained name (``zoo.list_pretrained()``), a checkpoint directory or a Hub repo id;
            a time stepper (it reads ``history`` past frames).
        data: the training trajectories ``(N, T, C, H, W)`` (``(N, T, H, W)``: ``C = 1``) in
            ``.npy``, ``.safetensors`` or HDF5 (see :func:`zoo.data.arrays.read_array`).
        eval_data: test trajectories in a file of the same form; without it a ``test_fraction`` of
            ``data`` is held out as the test set. Early stopping always watches the validation
            split of ``data``, never the test set.
        validation_data: validation trajectories in a file of the same form; without it a
            ``validation_fraction`` of ``data`` is held out (so with it every trajectory of
            ``data`` trains: what a benchmark over training-set sizes needs).
        key: the tensor (safetensors) or dataset (HDF5) name in both files.
        fields: names of the ``C`` channels, recorded on the card. A
            :class:`~zoo.models.multiphysics.MultiphysicsOperator` reads them: known names keep
            their pretrained encoders, unknown ones are added (:func:`~zoo.models.multiphysics.with_fields`,
            statistics of the training split), and the model steps those fields.
        scratch: train the same architecture, with the same statistics, data and settings, from
            random initialisation: what the pretrained weights bought.
        out: the parent folder; the run goes to ``out/finetuned`` or ``out/scratch`` (default
            ``out = zoo-finetune-<data file stem>``).
        validation_fraction, test_fraction: of the trajectories of ``data`` (each at least one).
        seed: the split's and the training's root seed.
        max_epochs, patience: at most ``max_epochs`` passes over the training windows; stop after
            ``patience`` epochs without a lower validation rollout error.
        validation_steps: the length of the validation rollouts early stopping watches: windows of
            ``history + validation_steps`` frames from each validation trajectory (starts
            ``validation_steps`` frames apart), their free rollouts' relative L2 (``None``: one
            rollout over each whole trajectory). Short, because on a chaotic system long rollouts of
            any model decorrelate from the truth, and a metric near its saturation stops a barely
            trained model; several steps, so that an unstable stepper still shows.
        lr, batch_size: AdamW peak rate (cosine schedule over ``max_epochs``) and batch.
        spectral, lora_rank: how the pretrained spectral weights adapt
            (:func:`~zoo.train.finetune.finetuning_groups`): ``"train"`` (every weight trains),
            ``"freeze"``, or ``"lora"`` (frozen, plus trainable rank-``lora_rank`` updates per
            Fourier mode, merged into plain weights in the saved model); every other weight trains.
            Not with ``scratch``.
        resume: continue an interrupted run from its latest checkpoint (same settings).

    Returns:
        The contents of ``metrics.json``: test one-step and rollout relative L2 (mean and 95%
        interval over test trajectories), per-step rollout error, validation error and early
        stopping, splits, data identity and wall time.
    """
    run = Path(out if out is not None else f"zoo-finetune-{Path(data).stem}") / RUN_NAMES[scratch]
    model = from_pretrained(source)
    if isinstance(model, MultiphysicsOperator) and not is_time_stepper(model):
        history = model.context  # bound to the data's fields by _adapted
    elif not is_time_stepper(model):
        raise ConfigError(
            f"{source} is a {type(model).__name__}, not a time stepper: fine-tuning on trajectory arrays needs a model "
            "that reads past frames (model.history); fine-tune input->output models with zoo finetune --config"
        )
    else:
        history = model.history
    if scratch and spectral != "train":
        raise ConfigError(f"spectral={spectral!r} adapts pretrained spectral weights: a scratch run trains them all (drop it)")
    if validation_steps is not None and validation_steps < 1:
        raise ConfigError(f"validation_steps={validation_steps}: give a positive rollout length, or None for whole trajectories")
    trajectories = _read_checked(data, key, fields, history, source)
    held_out = {} if validation_data is not None else {"validation": validation_fraction}
    if eval_data is not None:
        splits = _splits(trajectories.num_samples, held_out, seed, data)
        test = _read_checked(eval_data, key, fields, history, source)
        _check_same_fields(test, trajectories, eval_data, data)
        test_source = {"file": Path(eval_data).name, "shape": list(test.trajectories.shape), "sha256": file_sha256(eval_data)}
    else:
        splits = _splits(trajectories.num_samples, {**held_out, "test": test_fraction}, seed, data)
        test = trajectories.select(samples=splits["test"])
        test_source = {"file": Path(data).name, "trajectories": splits["test"]}
    train = trajectories.select(samples=splits["train"])
    if validation_data is not None:
        validation = _read_checked(validation_data, key, fields, history, source)
        _check_same_fields(validation, trajectories, validation_data, data)
        splits["validation"] = {"file": Path(validation_data).name, "trajectories": validation.num_samples,
                                "sha256": file_sha256(validation_data)}
    else:
        validation = trajectories.select(samples=splits["validation"])

    train_windows = TimeWindows(train, history, 1, include_static=False)
    model = _adapted(model, train, train_windows, source)
    if scratch:  # same architecture and statistics, fresh weights
        seed_everything(seed)
        model = create_model(type(model).__name__, **model.config)
    channels = model.channels

    batches_per_epoch = max(1, len(train_windows) // batch_size)
    config = TrainConfig(
        max_steps=max_epochs * batches_per_epoch,
        batch_size=min(batch_size, len(train_windows)),
        lr=lr,
        seed=seed,
        log_every=batches_per_epoch,
        eval_every=batches_per_epoch,
        checkpoint_every=batches_per_epoch,
        early_stopping_patience=patience,
        early_stopping_metric="relative_l2",
        out_dir=str(run),
        device=device,
        progress=progress,
        compile="off",  # measuring compiled against eager costs minutes on a CPU: more than many fine-tunes take
    )
    data_record = {
        "file": Path(data).name,
        "key": key,
        "shape": list(trajectories.trajectories.shape),
        "layout": "(N, T, C, H, W)",
        "sha256": file_sha256(data),
        "fields": trajectories.channels,
        "splits": {"seed": seed, **{name: indices for name, indices in splits.items()}},
        "test": test_source,
    }
    metadata = _metadata(source, scratch, data_record, train, model)
    validation_windows = _rollout_windows(validation, history, validation_steps)
    trainer = Trainer(
        model,
        [train_windows],
        config,
        objective=Autoregressive(history, channels=channels),
        eval_data=[validation_windows],
        metadata=metadata,
        # The trainer's own groups when every weight trains, so runs (and resumes) keep one optimizer layout.
        param_groups=None if spectral == "train" else finetuning_groups(model, spectral=spectral, lora_rank=lora_rank),
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    trainer.fit(resume=resume)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    model = trainer.model.eval()
    steps_run = trainer.step
    early = dict(trainer.early_stopping)
    evals = [r for r in trainer.log.records() if r["split"] == "eval"]

    test_metrics = trajectory_errors(model, test, history, channels)
    band_coverage = _band_coverage(model, validation, test)
    metrics = {
        "model": str(source),
        "initialisation": "random (scratch)" if scratch else f"pretrained {source}",
        "test": {
            "source": "--eval-data file" if eval_data is not None else "held-out trajectories of --data",
            "trajectories": test.num_samples,
            "grid": list(test.spatial_shape),
            **test_metrics,
        },
        "conformal": band_coverage,
        "validation": {
            "trajectories": validation.num_samples,
            "metric": (f"relative L2 of {validation_windows.horizon}-step free rollouts from {len(validation_windows)} windows "
                       "of the validation trajectories (early stopping watches it); per_epoch[0]: before training"),
            "best_relative_l2": early["best"],
            "per_epoch": [r["relative_l2"] for r in evals],  # epoch 0: the starting weights
        },
        "early_stopping": {
            "patience_epochs": patience,
            "best_epoch": early["best_step"] // batches_per_epoch,
            "epochs_run": steps_run // batches_per_epoch,
            "max_epochs": max_epochs,
            "stopped_early": early["stopped"],
        },
        "training": {
            "trajectories": train.num_samples,
            "windows": len(train_windows),
            "history": history,
            "batch_size": config.batch_size,
            "steps_per_epoch": batches_per_epoch,
            "lr": lr,
            "schedule": "cosine over max_epochs, AdamW",
            "spectral": spectral if spectral != "lora" else f"lora rank {lora_rank}",
        },
        "data": data_record,
        "compute": {
            "wall_seconds": round(wall, 1),
            "seconds_per_epoch": round(wall / max(1, steps_run // batches_per_epoch), 2),
            "cpu_seconds": round(cpu, 1),  # all threads of this process; wall / cpu shows how shared the machine was
            "torch_threads": torch.get_num_threads(),
            "machine": f"{platform.machine()} {platform.system()}",
            "note": "this call only; a resumed run adds its earlier calls' time",
        },
    }
    metadata = trainer.metadata()
    metadata["training"] = {**metadata["training"], "early_stopping": metrics["early_stopping"], "compute": metrics["compute"]}
    save_pretrained(merged_copy(model) if spectral == "lora" else model, run / "model", metadata=metadata, evaluation=_evaluation(metrics, test_metrics))
    atomic_write_text(run / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    return metrics


def _read_checked(path: str | Path, key: str | None, fields: Sequence[str] | None, history: int, source: str | Path) -> FieldData:
    """The array file's trajectories, with enough frames for ``history`` past frames and one to predict."""
    data = read_array(path, key=key, fields=fields)
    frames = data.trajectories.shape[1]
    if frames < history + 1:
        channels = data.trajectories.shape[2]
        hint = f"; if axis 2 ({channels} long) is time, the layout is (N, C, T, H, W): move it (np.moveaxis(a, 2, 1))" if channels > frames else ""
        raise DataMismatchError(
            f"{path}: {frames} frames per trajectory, but {source} reads history={history} past frames and predicts "
            f"the next: it needs at least {history + 1} frames per trajectory (more give longer rollouts to test){hint}"
        )
    return data


def _adapted(model: nn.Module, train: FieldData, windows: TimeWindows, source: str | Path) -> nn.Module:
    """``model`` with heads for the data's channels, checked against its grid, normalised to the training split.

    A :class:`MultiphysicsOperator` instead gains the data's unknown field names (statistics of the
    training split) and becomes a :class:`MultiphysicsStepper` of those fields.
    """
    if isinstance(model, MultiphysicsOperator):
        model = _with_data_fields(model, train, source)
        x, y = windows[0]
        check_data_fits(model, x[None])
        return model.train()
    channels = train.trajectories.shape[2]
    if channels != model.channels:
        print(f"zoo: {source} predicts {model.channels} channel(s), the data have {channels}: new heads, "
              "the Fourier blocks kept", file=sys.stderr)
        model = with_channels(model, out_channels=channels)
    x, y = windows[0]
    check_data_fits(model, x[None])
    if "field_mean" in model.config:
        model = normalised_to(model, windows)
    return model.train()


def _with_data_fields(model: MultiphysicsOperator, train: FieldData, source: str | Path) -> MultiphysicsStepper:
    """``model`` stepping the fields of ``train``, new names added with the training split's mean and std."""
    u = train.trajectories.double()
    statistics = {name: (u[:, :, c].mean().item(), u[:, :, c].std().clamp_min(1e-12).item())
                  for c, name in enumerate(train.channels) if name not in model.fields}
    if statistics:
        print(f"zoo: {source} does not know the field(s) {sorted(statistics)}: new encoder/decoder rows "
              f"(known: {model.fields})", file=sys.stderr)
        model = with_fields(model, statistics)
    return as_stepper(model, train.channels)


def _check_same_fields(data: FieldData, reference: FieldData, path: str | Path, reference_path: str | Path) -> None:
    if data.trajectories.shape[2] != reference.trajectories.shape[2] or data.channels != reference.channels:
        raise DataFileError(
            f"{path}: fields {data.channels} ({data.trajectories.shape[2]} channels), but {reference_path} has "
            f"{reference.channels}; evaluate on the same fields"
        )


def _splits(count: int, fractions: dict[str, float], seed: int, data: str | Path) -> dict[str, list[int]]:
    if not fractions:
        return {"train": list(range(count))}
    return split_trajectories(count, fractions, seed=seed, source=str(data))


def _rollout_windows(data: FieldData, history: int, steps: int | None = None) -> TimeWindows:
    """Windows of ``history`` frames in and ``steps`` to predict, starting ``steps`` frames apart
    (``steps=None``, or more than a trajectory holds: one window per trajectory, every later frame)."""
    frames = data.trajectories.shape[1]
    if steps is None or steps >= frames - history:
        return TimeWindows(data, history, frames - history, stride=frames, include_static=False)
    return TimeWindows(data, history, steps, stride=steps, include_static=False)



@torch.no_grad()
def trajectory_errors(model: nn.Module, test: FieldData, history: int, channels: int, batch_size: int = 16) -> dict[str, Any]:
    """One-step, rollout and step-10 relative L2 of time stepper ``model`` per trajectory of ``test``: means and 95% intervals."""
    frames = test.trajectories.shape[1]
    one_step, rollout, per_step = [], [], []
    for start in range(0, test.num_samples, batch_size):
        chunk = test.select(samples=slice(start, start + batch_size))
        windows = TimeWindows(chunk, history, 1, include_static=False)
        per_window = []
        for first in range(0, len(windows), 64):
            items = [windows[i] for i in range(first, min(first + 64, len(windows)))]
            batch = (torch.stack([x for x, _ in items]), torch.stack([y for _, y in items]))
            per_window.append(time_stepper_metrics(model, batch)["relative_l2"])
        one_step.append(torch.cat(per_window).view(chunk.num_samples, -1).mean(1))
        whole = _rollout_windows(chunk, history)
        batch = (torch.stack([whole[i][0] for i in range(len(whole))]), torch.stack([whole[i][1] for i in range(len(whole))]))
        errors = time_stepper_metrics(model, batch)
        rollout.append(errors["relative_l2"])
        per_step.append(errors["rollout_relative_l2"])
    one_step, rollout, per_step = torch.cat(one_step).double(), torch.cat(rollout).double(), torch.cat(per_step).double()
    at_step = {}
    if per_step.shape[1] >= REPORTED_STEP:  # a fixed horizon compares models that read different histories
        at_step = {f"step_{REPORTED_STEP}_relative_l2": _mean_and_interval(per_step[:, REPORTED_STEP - 1])}
    return {
        "one_step_relative_l2": _mean_and_interval(one_step),
        "rollout_relative_l2": _mean_and_interval(rollout),
        **at_step,
        "rollout_steps": frames - history,
        "rollout_relative_l2_per_step": [round(v, 6) for v in per_step.mean(0).tolist()],
        "metric": "relative L2 (zoo.eval.rollout.time_stepper_metrics); one-step: mean over every window of a "
        "trajectory; rollout: the whole free rollout from the first history frames as one field",
    }


def _mean_and_interval(values: torch.Tensor) -> dict[str, float | None]:
    """Mean over trajectories and the half-width of its normal 95% interval (``None`` for one trajectory)."""
    half = round(1.96 * values.std().item() / math.sqrt(len(values)), 6) if len(values) > 1 else None
    return {"mean": round(values.mean().item(), 6), "ci95": half}


def _metadata(source: str | Path, scratch: bool, data: dict[str, Any], train: FieldData, model: nn.Module) -> dict[str, Any]:
    grid = list(train.spatial_shape)
    names = ", ".join(train.channels)
    metadata = {
        "task": f"{data['file']}: {model.history} frames of ({names}) -> the next frame, autoregressive",
        "resolution": grid,
        "datasets": [data["file"]],
        "data": data,
        "fields": {
            "input": f"(B, {model.history * model.channels}, {grid[0]}, {grid[1]}): {model.history} frames of ({names}), oldest first, frame-major",
            "output": f"(B, {model.channels}, {grid[0]}, {grid[1]}): the next frame; model.rollout(x, steps) for more",
        },
        "normalisation": "inside the model: per-field mean and std of the training split (config field_mean, field_std)",
        "limitations": [
            f"Trained on {train.num_samples} trajectories of {data['file']}; tested on the trajectories named under data.test.",
        ],
    }
    generated = train.metadata.get("generated")
    if generated:  # what zoo data generate recorded beside the array
        metadata["pde"] = {key: value for key, value in generated.items() if key not in ("file", "layout", "shape", "dtype")}
    if not scratch:
        metadata["base_model"] = str(source)
    else:
        metadata["limitations"].append(f"Trained from random initialisation (the baseline for fine-tuning {source}).")
    return metadata


def _evaluation(metrics: dict[str, Any], test: dict[str, Any]) -> dict[str, Any]:
    """``evaluation.json`` for the card: the test errors at the test grid and the rollout curve."""
    grid = metrics["test"]["grid"]
    history = metrics["training"]["history"]
    return {
        "test_data": {
            "description": f"{metrics['test']['source']} ({metrics['data']['test']['file']}): one-step error over every window "
            f"(one_step_relative_l2) and the {test['rollout_steps']}-step free rollout from the first {history} frames (relative_l2)",
            "samples": metrics["test"]["trajectories"],
        },
        "resolutions": [{
            "grid": grid,
            "zero_shot": False,
            "samples": metrics["test"]["trajectories"],
            "metrics": {"relative_l2": test["rollout_relative_l2"]["mean"], "one_step_relative_l2": test["one_step_relative_l2"]["mean"]},
        }],
        "rollout": [{"grid": grid, "times": list(range(history, history + test["rollout_steps"])), "relative_l2": test["rollout_relative_l2_per_step"]}],
    }


def _band_coverage(model: nn.Module, validation: FieldData, test: FieldData, level: float = 0.9) -> dict[str, Any]:
    """Conformal bands of the free rollout (:func:`zoo.eval.conformalize`, pointwise, per step and
    channel) calibrated on the validation trajectories, and their coverage on the test ones."""
    from zoo.eval.conformal import band_metrics, conformalize

    note = ("calibrated on the validation split, which also chose the early-stopping epoch: the guarantee "
            "assumes calibration functions unseen in training and selection, so coverage may fall slightly short")
    device = next(model.parameters()).device
    with torch.no_grad():
        try:
            bands = conformalize(model, validation.trajectories.to(device), level)
        except ValueError as error:  # too few validation trajectories for the level: the run still reports its errors
            return {"level": level, "skipped": f"{validation.num_samples} validation trajectories: {error}"}
        result = band_metrics(bands, test.trajectories.to(device), levels=(level,))
    figures = result["levels"][f"{level:g}"]
    return {
        "level": level, "mode": result["mode"], "calibration_trajectories": result["calibration_functions"],
        "test_trajectories": result["test_functions"], "coverage": figures["coverage"],
        "coverage_per_step": figures["coverage_per_step"], "half_width": figures["half_width"],
        "relative_half_width": figures["relative_half_width"], "half_width_per_step": figures["half_width_per_step"],
        "note": note,
    }
