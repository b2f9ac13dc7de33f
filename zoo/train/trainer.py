"""The training loop: plain code, one hook (the objective), resumable bit-for-bit.

Each step: set the learning rate from the schedule, ``objective(model, batch)`` under optional
bf16 autocast, backward, clip the gradient norm, AdamW step. Every ``log_every`` steps the mean
loss terms go to ``metrics.jsonl``; every ``eval_every`` steps the evaluation metrics (and PNG
plots); every ``checkpoint_every`` steps a checkpoint. Under ``torchrun`` the model is wrapped in
``DistributedDataParallel`` and rank 0 alone writes files.

Exact resume rests on three facts: the data order is a function of ``(seed, step)`` only
(:class:`~zoo.train.batching.BatchPlan`), the learning rate is a function of the step, and the
checkpoint holds the weights, the AdamW moments and every RNG state. Data loaders get their own
generator so that creating one never draws from the global RNG.

Early stopping (``config.early_stopping_patience``) tracks the evaluation metric; the best weights
are kept in memory and in ``out_dir/best/``, and its state (best value and step, evaluations since,
stopped or not) is in every checkpoint, so a resumed run stops where the uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader
from tqdm.auto import tqdm

from zoo.devices import move_to
from zoo.eval.evaluate import as_datasets, evaluate, flatten_metrics
from zoo.eval.plots import plot_loss_curves, plot_rollout_error
from zoo.files import atomic_directory, atomic_write_bytes
from zoo.train.batching import BatchPlan
from zoo.hub.weights import save_weights
from zoo.train.checkpoint import latest_checkpoint, load_best_weights, restore_checkpoint, save_checkpoint, write_model_files
from zoo.train.compile_choice import CompileChoice, choose_compiled
from zoo.train.config import TrainConfig
from zoo.train.distributed import DistributedContext, all_reduce_sum, init_distributed, union_of_keys
from zoo.train.metrics_log import MetricsLog
from zoo.train.run_dir import claimed_run_directory
from zoo.train.objectives import Supervised
from zoo.train.schedules import schedule_factor

# Settings that fix the order of the data: a resumed run must keep them.
DATA_ORDER_SETTINGS = ("batch_size", "seed")


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), Python and NumPy: model initialisation and dropout follow."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


class Trainer:
    """Train ``model`` on ``train_data`` by minimising ``objective``.

    Args:
        model: any ``nn.Module``.
        train_data: a map-style ``Dataset`` (or a list of them, one per grid resolution) whose
            items collate into the objective's batches; or any re-iterable of ready batches
            (e.g. a ``DataLoader``), which must yield the same batches in every pass for an exact
            resume and which is not sharded across processes.
        config: a :class:`TrainConfig`.
        objective: ``objective(model, batch) -> {"loss": ..., ...}`` with an ``evaluate``
            method (:mod:`zoo.train.objectives`); default :class:`Supervised` relative L2.
        eval_data: like ``train_data``; evaluated every ``config.eval_every`` steps.
        param_groups: optimizer groups ``{"params": [...], "lr_scale": float, ...}`` (see
            :mod:`zoo.train.finetune`); default all trainable parameters at full rate.
        metadata: model-card metadata for saved models (:mod:`zoo.hub.schema`); the trainer adds
            its recipe under ``"training"``.
        context: the distributed context (default: from the ``torchrun`` environment).
    """

    def __init__(
        self,
        model: nn.Module,
        train_data: Any,
        config: TrainConfig | None = None,
        *,
        objective: Any = None,
        eval_data: Any = None,
        param_groups: Sequence[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        context: DistributedContext | None = None,
    ) -> None:
        self.config = config = config or TrainConfig()
        self.context = context or init_distributed(config.device)
        self.device = self.context.device
        if config.precision == "bf16" and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"precision='bf16' is not supported on {torch.cuda.get_device_name(self.device)}")
        self.model = model.to(self.device)
        self.objective = objective if objective is not None else Supervised()
        self.train_data, self.eval_data = train_data, eval_data
        self._metadata = dict(metadata or {})
        groups = _optimizer_groups(model, param_groups)
        self.optimizer = torch.optim.AdamW(
            groups,
            lr=config.lr,
            betas=config.betas,
            weight_decay=config.weight_decay,
            # One kernel per parameter instead of a dozen passes over it: 2.5-3x faster steps of
            # the optimizer on CPU (BENCHMARKS.md, "A `zoo train` step"); same update to rounding.
            fused=_fused_adamw_runs(groups),
        )
        self.train_model: nn.Module = model
        if self.context.enabled:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DistributedDataParallel(model, device_ids=device_ids)
        self.compile_choice: CompileChoice | None = None  # made by fit, on its first batch
        datasets = as_datasets(train_data)
        self.plan = None
        if datasets is not None:
            self.plan = BatchPlan(
                [len(d) for d in datasets],
                config.batch_size,
                seed=config.seed,
                rank=self.context.rank,
                world_size=self.context.world_size,
            )
            self._train_set = ConcatDataset(datasets)
        self.out_dir = Path(config.out_dir) if config.out_dir else None
        self.log = MetricsLog(self.out_dir / "metrics.jsonl") if self.out_dir and self.context.is_main else None
        self.step = 0
        self._last_checkpoint = -1
        self.history: list[dict[str, Any]] = []
        if config.early_stopping_patience and (eval_data is None or not config.eval_every):
            raise ValueError("early stopping needs eval_data and eval_every > 0 (the evaluations it watches)")
        # best: lowest early_stopping_metric so far and its step; since: evaluations without improving it
        self.early_stopping = {"best": math.inf, "best_step": 0, "since": 0, "stopped": False}
        self._best_state: dict[str, torch.Tensor] | None = None

    # ---- the loop

    def fit(self, *, resume: bool = False, overwrite: bool = False) -> list[dict[str, Any]]:
        """Train until ``config.max_steps``; with ``resume`` continue from the latest checkpoint.

        With an ``out_dir`` the run holds that folder's lock while it trains, and a fresh run
        (no ``resume``) refuses a folder that already holds a run unless ``overwrite``, which moves
        the old run aside (:mod:`zoo.train.run_dir`). Returns the metric records of this call
        (rank 0; other ranks get an empty list).
        """
        if self.out_dir is None or not self.context.is_main:
            return self._fit(resume=resume)
        with claimed_run_directory(self.out_dir, resume=resume, overwrite=overwrite):
            return self._fit(resume=resume)

    def _fit(self, *, resume: bool) -> list[dict[str, Any]]:
        config = self.config
        if not (resume and self._resume()):
            seed_everything(config.seed)
        if self.out_dir and self.context.is_main:
            atomic_write_bytes(self.out_dir / "train_config.json", json.dumps(config.to_dict(), indent=2).encode())
        batches = self._train_batches()
        if self.compile_choice is None and self.step < config.max_steps:
            first = move_to(next(batches), self.device)
            batches = itertools.chain([first], batches)
            self._choose_compiled(first)
        running: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        started, last_eval = time.perf_counter(), -1
        progress = tqdm(
            total=config.max_steps,
            initial=self.step,
            disable=not (config.progress and self.context.is_main),
            dynamic_ncols=True,
            desc="train",
        )
        if config.early_stopping_patience and self.step == 0:
            self._log_eval()  # the starting weights compete too: a fine-tuned model never ends worse than its start
        while self.step < config.max_steps and not self.early_stopping["stopped"]:
            batch = move_to(next(batches), self.device)
            lr = self._set_learning_rate()
            terms = self.train_step(batch)
            self.step += 1
            progress.update()
            for key, value in terms.items():
                running[key] = running.get(key, 0) + value
                counts[key] = counts.get(key, 0) + 1
            if self.step % config.log_every == 0 or self.step == config.max_steps:
                record = self._log_train(running, counts, lr, time.perf_counter() - started)
                progress.set_postfix(loss=f"{record['loss']:.4g}", lr=f"{lr:.2e}")
                running, counts = {}, {}
            if config.eval_every and self.step % config.eval_every == 0:
                self._log_eval()
                last_eval = self.step
            if config.checkpoint_every and self.step % config.checkpoint_every == 0 or (self.early_stopping["stopped"] and self.out_dir):
                self.save_checkpoint()
        progress.close()
        if self.eval_data is not None and last_eval != self.step and not self.early_stopping["stopped"]:
            self._log_eval()
        if self.out_dir and self._last_checkpoint != self.step:
            self.save_checkpoint()
        if self._best_state is not None:  # the checkpoints keep the last weights, the model the best ones
            self.model.load_state_dict(self._best_state)
        if self.out_dir:
            if self.context.is_main:
                atomic_directory(
                    self.out_dir / "model",
                    lambda directory: write_model_files(self.model, directory, metadata=self.metadata()),
                )
                self._write_reports()
        return self.history

    def train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """One optimisation step on ``batch``; returns the objective's terms and the gradient norm."""
        self.train_model.train()
        with self.autocast():
            terms = self.objective(self.train_model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
        # The norm is taken after DDP's all-reduce, so every rank sees the same value and a
        # non-finite gradient stops all of them at the same step.
        grad_norm = nn.utils.clip_grad_norm_(parameters, self.config.grad_clip or math.inf)
        if not torch.isfinite(grad_norm):
            raise FloatingPointError(
                f"non-finite gradient norm at step {self.step + 1} (loss {terms['loss'].item():.4g}); "
                "lower lr, add warm-up or clipping, or train in fp32"
            )
        self.optimizer.step()
        return {**{k: v.detach().float() for k, v in terms.items()}, "grad_norm": grad_norm.detach()}

    def _choose_compiled(self, batch: Any) -> None:
        """Train compiled or eager as ``config.compile`` says (``"auto"``: whichever is faster on
        ``batch``); every process takes the compiled model only if all measured it faster."""

        def step(module: nn.Module) -> None:
            with self.autocast():
                terms = self.objective(module, batch)
            module.zero_grad(set_to_none=True)
            terms["loss"].backward()

        datasets = as_datasets(self.train_data) or []
        chosen, choice = choose_compiled(
            self.train_model, step, setting=self.config.compile, remaining_steps=self.config.max_steps - self.step,
            batch_shapes=len({_shapes(d[0]) for d in datasets if len(d)}) or 1,
        )
        agreed = all_reduce_sum(torch.tensor(float(choice.compiled), device=self.device), self.context)
        if choice.compiled and int(agreed) < self.context.world_size:
            chosen, choice = self.train_model, dataclasses.replace(choice, compiled=False, reason=choice.reason + "; another process measured eager faster")
        self.train_model, self.compile_choice = chosen, choice
        if self.context.is_main:
            if choice.eager_s is not None:
                self._record(choice.record(self.step))
            if self.config.progress or choice.eager_s is not None:
                tqdm.write(choice.message(), file=sys.stderr)

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16")

    def evaluate(self) -> dict[str, float | list[float]]:
        """Evaluation metrics on ``eval_data`` (computed on rank 0; other ranks get ``{}``)."""
        if self.eval_data is None or not self.context.is_main:
            return {}
        results = evaluate(
            self.model,
            self.objective.evaluate,
            self.eval_data,
            batch_size=self.config.eval_batch_size,
            device=self.device,
            autocast=self.autocast(),
        )
        return flatten_metrics(results)

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the current step (rank 0) under ``out_dir/checkpoints``."""
        if self.out_dir is None:
            raise ValueError("set config.out_dir to save checkpoints")
        self._last_checkpoint = self.step
        if not self.context.is_main:
            return None
        return save_checkpoint(
            self.out_dir / "checkpoints",
            step=self.step,
            model=self.model,
            optimizer=self.optimizer,
            trainer_state={"config": self.config.to_dict(), "early_stopping": self.early_stopping},
            metadata=self.metadata(),
            keep=self.config.keep_checkpoints,
            best_state=self._best_state,
        )

    def metadata(self) -> dict[str, Any]:
        """What the saved model's card says about it: the caller's metadata plus the recipe."""
        config = self.config
        recipe = {
            "optimizer": f"AdamW(betas={list(config.betas)}, weight_decay={config.weight_decay})",
            "lr": config.lr,
            "schedule": f"{config.schedule}, {config.warmup_steps} warm-up steps",
            "steps": self.step,
            "batch_size": config.batch_size,
            "precision": config.precision,
            "compiled": bool(self.compile_choice and self.compile_choice.compiled),
            "processes": self.context.world_size,
        }
        training = {**recipe, **self._metadata.get("training", {})}
        return {**self._metadata, "training": training}

    # ---- internals

    def _resume(self) -> bool:
        if self.out_dir is None:
            raise ValueError("resume needs config.out_dir, where the checkpoints are")
        path = latest_checkpoint(self.out_dir / "checkpoints")
        if path is None:
            if self.context.is_main:
                print(f"zoo: no checkpoint under {self.out_dir / 'checkpoints'}; starting from step 0", file=sys.stderr)
            return False
        state = restore_checkpoint(path, model=self.model, optimizer=self.optimizer)
        saved = state.get("config", {})
        changed = [k for k in DATA_ORDER_SETTINGS if k in saved and saved[k] != getattr(self.config, k)]
        if changed:
            raise ValueError(
                f"cannot resume from {path} with different {changed}: "
                + ", ".join(f"{k} was {saved[k]}, now {getattr(self.config, k)}" for k in changed)
            )
        self.step = self._last_checkpoint = state["step"]
        self.early_stopping.update(state.get("early_stopping", {}))
        if self.config.early_stopping_patience:
            current = {k: v.clone() for k, v in self.model.state_dict().items()}
            if load_best_weights(self.model, path, state):
                self._best_state = {k: v.clone() for k, v in self.model.state_dict().items()}
            self.model.load_state_dict(current)
        if self.log is not None:
            self.log.truncate_after(self.step)
        return True

    def _set_learning_rate(self) -> float:
        config = self.config
        factor = schedule_factor(
            self.step,
            schedule=config.schedule,
            total_steps=config.max_steps,
            warmup_steps=config.warmup_steps,
            min_factor=config.min_lr_factor,
            step_size=config.step_size,
            gamma=config.gamma,
        )
        for group in self.optimizer.param_groups:
            group["lr"] = config.lr * group["lr_scale"] * factor
        return config.lr * factor

    def _train_batches(self) -> Iterator[Any]:
        if self.plan is not None:
            epoch, start = divmod(self.step, self.plan.batches_per_epoch)
            while True:
                loader = DataLoader(
                    self._train_set,
                    batch_sampler=list(self.plan.epoch(epoch, start=start)),
                    num_workers=self.config.num_workers,
                    # Its own generator: a loader must not draw from the global RNG.
                    generator=torch.Generator().manual_seed(self.config.seed + epoch),
                    pin_memory=self.device.type == "cuda",
                )
                yield from loader
                epoch, start = epoch + 1, 0
        skip = self.step
        while True:
            seen = 0
            for batch in self.train_data:
                seen += 1
                if skip:
                    skip -= 1
                    continue
                yield batch
            if seen == 0:
                raise ValueError("train_data yielded no batches")

    def _log_train(self, running: dict[str, torch.Tensor], counts: dict[str, int], lr: float, elapsed: float) -> dict[str, Any]:
        # Terms may be missing on some ranks (a batch without labelled samples has no data
        # loss): reduce sums and counts over the union of keys, so each mean is exact.
        keys = union_of_keys(running, self.context)
        zero = torch.zeros((), device=self.device)
        totals = torch.stack([torch.stack([running.get(k, zero), zero + counts.get(k, 0)]) for k in keys])
        totals = all_reduce_sum(totals, self.context)
        means = (totals[:, 0] / totals[:, 1]).tolist()
        record = {"step": self.step, "split": "train", "lr": lr, **dict(zip(keys, means)), "time_s": elapsed}
        if self.plan is not None:
            record["epoch"] = self.step / self.plan.batches_per_epoch
        self._record(record)
        return record

    def _log_eval(self) -> None:
        metrics = self.evaluate()
        if metrics:
            self._record({"step": self.step, "split": "eval", **metrics})
            self._write_reports()
        if self.config.early_stopping_patience:
            self._watch(metrics)

    def _watch(self, metrics: dict[str, Any]) -> None:
        """Early stopping: keep the best weights, stop after ``patience`` evaluations without improving."""
        name, state = self.config.early_stopping_metric, self.early_stopping
        improved = torch.zeros((), device=self.device)
        if self.context.is_main:
            if name not in metrics or not isinstance(metrics[name], float):
                raise ValueError(f"early_stopping_metric {name!r} is not an evaluation metric; have {sorted(metrics)}")
            improved += metrics[name] < state["best"]
        improved = bool(all_reduce_sum(improved, self.context) > 0)  # rank 0 decides for all
        if improved:
            state.update(best=metrics.get(name, math.nan), best_step=self.step, since=0)
            self._best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if self.out_dir and self.context.is_main:
                digest: list[str] = []
                atomic_directory(
                    self.out_dir / "best",
                    lambda directory: digest.append(save_weights(self._best_state, directory / "training_weights.safetensors")),
                )
                state["best_sha256"] = digest[0]  # checked when a resumed run reloads them
        else:
            state["since"] += 1
            state["stopped"] = state["since"] >= self.config.early_stopping_patience
        if self.config.progress and self.context.is_main:
            epoch = f" (epoch {self.step / self.plan.batches_per_epoch:.4g})" if self.plan is not None else ""
            tqdm.write(
                f"step {self.step}{epoch}: validation {name} {metrics[name]:.4g}"
                + (" (best)" if improved else f", best {state['best']:.4g} at step {state['best_step']}")
                + (f"; stopping: no improvement in {state['since']} evaluations" if state["stopped"] else "")
            )

    def _record(self, record: dict[str, Any]) -> None:
        if not self.context.is_main:
            return
        self.history.append(record)
        if self.log is not None:
            self.log.append(record)

    def _write_reports(self) -> None:
        if self.log is None:
            return
        records = self.log.records()
        self.log.write_csv(self.out_dir / "metrics.csv")
        plot_loss_curves(records, self.out_dir / "plots" / "loss.png")
        evals = [r for r in records if r["split"] == "eval"]
        for key, errors in (evals[-1].items() if evals else []):
            if key.startswith("rollout_") and isinstance(errors, list):
                name = key.replace("@", "_at_")
                plot_rollout_error(errors, self.out_dir / "plots" / f"{name}.png", title=f"step {evals[-1]['step']}")


def _shapes(sample: Any) -> tuple:
    """The shapes of every tensor in a dataset's ``sample`` (nested tuples, lists and dicts), in order."""
    if isinstance(sample, torch.Tensor):
        return (tuple(sample.shape),)
    items = sample.values() if isinstance(sample, dict) else sample if isinstance(sample, (tuple, list)) else ()
    return tuple(shape for item in items for shape in _shapes(item))


def _fused_adamw_runs(groups: list[dict[str, Any]]) -> bool | None:
    """Whether AdamW's fused kernel takes these parameters (floating point, on CPU or CUDA)."""
    params = [p for group in groups for p in group["params"]]
    return True if all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params) else None


def _optimizer_groups(model: nn.Module, param_groups: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    groups = param_groups if param_groups is not None else [{"params": list(model.parameters())}]
    result = []
    for group in groups:
        params = [p for p in group["params"] if p.requires_grad]
        if params:
            result.append({**group, "params": params, "lr_scale": float(group.get("lr_scale", 1.0))})
    if not result:
        raise ValueError("the model has no trainable parameters (all frozen?)")
    return result
