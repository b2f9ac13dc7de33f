"""Pretrain the multi-physics operator on zoo's corpus (issue #16, section 3), resumably, and publish it.

    OMP_NUM_THREADS=1 python recipes/pretrain_multiphysics.py                 # train (resumes the state)
    python recipes/pretrain_multiphysics.py --minutes 50                      # stop cleanly after 50 min
    python recipes/pretrain_multiphysics.py --publish                         # evaluate on the test splits, publish
    OUT=/dir bash recipes/gpu_pretrain_multiphysics.sh                        # the same on a lent GPU

Training: autoregressive next-frame prediction of :class:`~zoo.models.MultiphysicsOperator` on
every pretraining system found under ``--corpus`` (systems appear as the corpus grows: each run
takes the systems present when it starts), all systems in every batch (padded, with field ids),
at ``--resolution`` (32x32 by spectral truncation of the stored 64x64: about 4x cheaper, and the
operator is resolution invariant). Noise injection: the context frames get Gaussian noise of
``--noise`` times each field's own context standard deviation; pushforward: with probability
``--pushforward`` a sample's first step is taken by the model without gradient and the loss is on
the second (both stabilise rollouts, facts.md). Loss: relative L2 per sample and field, averaged.
AdamW, linear warm-up then cosine decay over ``--total-steps`` (the plan across sessions).

State: ``--state`` (default ``recipes/state/multiphysics/``, small enough to commit) holds
``current/`` = {``model/`` (a zoo.hub checkpoint: config.json + model.safetensors),
``optimizer.safetensors`` (AdamW moments), ``state.json`` (step, systems, settings)}, replaced
atomically every ``--checkpoint-every`` steps, plus ``metrics.jsonl``. Every random draw of step
``s`` comes from a generator seeded with ``sample_seed(seed, s)``, so a run killed at any moment
(kill -9 included) and resumed recomputes exactly the steps it lost. New corpus systems join at
the next start; a field the model has never seen is added with ``with_fields`` (and zero moments).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from zoo.data.generate import sample_seed
from zoo.data.multiphysics import MultiphysicsWindows, SystemTrajectories, declared_fields, discover_systems, field_statistics, load_system
from zoo.hub import load_checkpoint, save_pretrained, write_card
from zoo.models.multiphysics import PADDING, MultiphysicsOperator, with_fields
from zoo.files import atomic_directory
from zoo.train.schedules import schedule_factor

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE = ROOT / "recipes" / "state" / "multiphysics"
DEFAULT_CORPUS = Path("/work/data/corpus")
NAME = "multiphysics-operator-2d"
# The published size: 2.6M parameters, 31 MB of model + AdamW state.
MODEL = {"context": 4, "width": 64, "depth": 6, "modes": 10, "groups": 4, "mlp_ratio": 2.0}
ROLLOUT_STEPS = 10


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE)
    parser.add_argument("--systems", nargs="+", help="train on these systems only (default: every pretraining system found)")
    parser.add_argument("--resolution", type=int, default=32, help="training grid (spectral truncation of the stored data)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument("--total-steps", type=int, default=30000, help="length of the cosine schedule (across sessions)")
    parser.add_argument("--max-steps", type=int, help="stop at this step (default: --total-steps)")
    parser.add_argument("--minutes", type=float, help="stop cleanly (checkpoint) after this many minutes")
    parser.add_argument("--noise", type=float, default=0.01, help="context noise, in units of each field's context std")
    parser.add_argument("--pushforward", type=float, default=0.25, help="probability of a pushforward step per batch")
    parser.add_argument("--checkpoint-every", type=int, default=25)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=json.loads, default={}, help='JSON overrides of the model size, e.g. \'{"width": 16}\'')
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA; spectral transforms stay float32)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-trajectories", type=int, help="cap per system (tests, quick runs)")
    parser.add_argument("--publish", nargs="?", const=NAME, help="evaluate the state's model and publish it to pretrained/NAME")
    parser.add_argument("--publish-to", type=Path, help="directory to publish into (default pretrained/NAME)")
    parser.add_argument("--eval-split", default="test", help="split the published evaluation uses")
    parser.add_argument("--pack", type=Path, help="write the trained systems' train/val splits at --resolution in float16 "
                        "into this corpus directory (for a GPU lease: carry it) and stop")
    parser.add_argument("--pack-mb", type=float, default=30.0, help="size budget of --pack (trajectories per system are capped to fit)")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


# ---- state: model + AdamW moments + step, one directory replaced atomically


def save_state(state_dir: Path, model: MultiphysicsOperator, optimizer: torch.optim.AdamW, info: dict[str, Any]) -> None:
    def write(directory: Path) -> None:
        save_pretrained(model, directory / "model", metadata={"task": "multi-physics next-frame prediction (training state)"})
        save_file(optimizer_tensors(model, optimizer), directory / "optimizer.safetensors")
        (directory / "state.json").write_text(json.dumps(info, indent=2) + "\n")

    atomic_directory(state_dir / "current", write)


def optimizer_tensors(model: torch.nn.Module, optimizer: torch.optim.AdamW) -> dict[str, torch.Tensor]:
    """AdamW's moments and step counts by parameter name (safetensors holds tensors only)."""
    tensors = {}
    for name, parameter in model.named_parameters():
        for key, value in optimizer.state.get(parameter, {}).items():
            tensors[f"{name}/{key}"] = value.detach().to("cpu").contiguous()
    return tensors


def load_optimizer_tensors(model: torch.nn.Module, optimizer: torch.optim.AdamW, tensors: dict[str, torch.Tensor]) -> None:
    """Put saved moments back; rows of new fields (longer vocabulary axis) start at zero."""
    for name, parameter in model.named_parameters():
        state = {}
        for key in ("step", "exp_avg", "exp_avg_sq"):
            saved = tensors.get(f"{name}/{key}")
            if saved is None:
                continue
            if key != "step" and saved.shape != parameter.shape:
                padded = torch.zeros_like(parameter, device="cpu")
                padded[: saved.shape[0]] = saved
                saved = padded
            state[key] = saved.to(parameter.device) if key != "step" else saved
        if state:
            optimizer.state[parameter] = state


def load_state(state_dir: Path) -> tuple[MultiphysicsOperator, dict[str, torch.Tensor], dict[str, Any]] | None:
    for staging in state_dir.glob(".current.*.tmp"):  # left by a run killed while writing its state
        shutil.rmtree(staging, ignore_errors=True)
    current = state_dir / "current"
    if not (current / "state.json").is_file():
        return None
    model = load_checkpoint(current / "model").train()
    return model, load_file(current / "optimizer.safetensors"), json.loads((current / "state.json").read_text())


# ---- data


def load_corpus(args: argparse.Namespace, split: str, resolution: int | None) -> list[SystemTrajectories]:
    names = args.systems or discover_systems(args.corpus, split)
    if not names:
        raise SystemExit(f"no pretraining system with a finished {split} shard under {args.corpus}")
    return [
        load_system(args.corpus / name / split, name=name, resolution=resolution, max_trajectories=args.max_trajectories)
        for name in names
        if (args.corpus / name / split / "dataset.json").is_file()
    ]


# ---- objective and evaluation


def relative_l2_per_field(prediction: torch.Tensor, target: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``||pred - y|| / ||y||`` for every present (sample, field): ``(P,)``, padded channels left out."""
    present = ids != PADDING
    difference = (prediction.float() - target.float())[present].flatten(1)
    return difference.norm(dim=1) / target.float()[present].flatten(1).norm(dim=1)


def training_loss(model, batch: dict[str, torch.Tensor], args: argparse.Namespace, generator: torch.Generator) -> torch.Tensor:
    x, target, ids = batch["x"], batch["target"], batch["ids"]
    if args.noise > 0:
        scale = x.std(dim=(1, 3, 4), keepdim=True)
        x = x + args.noise * scale * torch.randn(x.shape, generator=generator).to(x.device)
    pushforward = target.shape[1] > 1 and float(torch.rand((), generator=generator)) < args.pushforward
    if pushforward:
        with torch.no_grad():
            first = model(x, ids)
        x = torch.cat([x[:, 1:], first[:, None].to(x.dtype)], dim=1)
    prediction = model(x, ids)
    return relative_l2_per_field(prediction, target[:, int(pushforward)], ids).mean()


@torch.no_grad()
def evaluate_systems(model: MultiphysicsOperator, systems: list[SystemTrajectories], *, steps: int = ROLLOUT_STEPS, device="cpu", batch_size: int = 16) -> dict[str, dict[str, Any]]:
    """Per system: relative L2 (per sample over its fields) of each of ``steps`` rollout frames from frames 0..context-1, and persistence's."""
    model.eval()
    results = {}
    for system in systems:
        trajectories = system.trajectories
        if trajectories.shape[1] < model.context + steps:
            raise ValueError(f"{system.name}: {trajectories.shape[1]} frames per trajectory, a {steps}-step rollout needs {model.context + steps}")
        steps_here = steps
        errors, persistence = [], []
        for chunk in trajectories.split(batch_size):
            chunk = chunk.to(device)
            context, truth = chunk[:, : model.context], chunk[:, model.context : model.context + steps_here]
            rollout = model.rollout(context, steps_here, fields=system.fields)
            errors.append(_frame_errors(rollout, truth))
            persistence.append(_frame_errors(context[:, -1:].expand_as(truth), truth))
        per_step = torch.cat(errors).mean(0).tolist()
        baseline = torch.cat(persistence).mean(0).tolist()
        results[system.name] = {
            "one_step": per_step[0], f"step_{steps_here}": per_step[-1], "per_step": per_step,
            "persistence_one_step": baseline[0], f"persistence_step_{steps_here}": baseline[-1], "persistence_per_step": baseline,
            "trajectories": len(trajectories), "grid": list(trajectories.shape[-2:]),
        }
    model.train()
    return results


def _frame_errors(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """``(B, S)`` relative L2 of each sample's frame (all its fields) at each step."""
    difference = (prediction.float() - truth.float()).flatten(2).norm(dim=2)
    return (difference / truth.float().flatten(2).norm(dim=2)).cpu()


# ---- training


def build_model(args: argparse.Namespace, train: list[SystemTrajectories]) -> MultiphysicsOperator:
    statistics = field_statistics(train)
    vocabulary = list(dict.fromkeys(declared_fields(args.corpus) + [f for system in train for f in system.fields]))
    mean = [statistics.get(field, (0.0, 1.0))[0] for field in vocabulary]
    std = [statistics.get(field, (0.0, 1.0))[1] for field in vocabulary]
    torch.manual_seed(args.seed)
    return MultiphysicsOperator(vocabulary, field_mean=mean, field_std=std, **{**MODEL, **args.model})


def train(args: argparse.Namespace) -> dict[str, Any]:
    device = torch.device(args.device)
    began = time.perf_counter()
    train_systems = load_corpus(args, "train", args.resolution)
    restored = load_state(args.state)
    if restored is None:
        model, moments, info = build_model(args, train_systems), {}, {"step": 0, "systems": [], "seconds": 0.0}
    else:
        model, moments, info = restored
    new_fields = {f: s for f, s in field_statistics(train_systems).items() if f not in model.fields}
    if new_fields:
        print(f"adding fields {sorted(new_fields)} to the model's vocabulary", file=sys.stderr)
        model = with_fields(model, new_fields)
    added = sorted(set(s.name for s in train_systems) - set(info["systems"]))
    if info["systems"] and added:
        print(f"new systems join at step {info['step']}: {added}", file=sys.stderr)
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    load_optimizer_tensors(model, optimizer, moments)
    windows = MultiphysicsWindows(train_systems, model.fields, context=model.context, horizon=2 if args.pushforward > 0 else 1)
    val_systems = load_corpus(args, "val", args.resolution) if any((args.corpus / s / "val" / "dataset.json").is_file() for s in windows.names) else []
    val_systems = [s for s in val_systems if s.name in windows.names]
    step, seconds = info["step"], info.get("seconds", 0.0)
    schedule = info.setdefault("schedule", [])  # each change of --total-steps on resume, for the card
    if not schedule or schedule[-1]["total_steps"] != args.total_steps:
        schedule.append({"from_step": step, "total_steps": args.total_steps})
    max_steps = args.max_steps or args.total_steps
    metrics_path = args.state / "metrics.jsonl"
    _truncate_metrics(metrics_path, step)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"model {parameters:,} parameters; systems {windows.names} ({sum(windows.windows_per_system()):,} windows at "
          f"{args.resolution}x{args.resolution}); resuming at step {step}", file=sys.stderr)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16)
    progress = tqdm(total=max_steps, initial=step, disable=args.no_progress, mininterval=30, desc="pretrain", dynamic_ncols=True)
    window_start, running = time.perf_counter(), []

    def checkpoint() -> None:
        now = time.perf_counter()
        info.update(step=step, seconds=seconds + (now - window_start), systems=windows.names, settings=_settings(args), parameters=parameters)
        save_state(args.state, model, optimizer, info)

    while step < max_steps:
        generator = torch.Generator().manual_seed(sample_seed(args.seed, step))
        batch = {k: v.to(device) for k, v in windows.batch(args.batch_size, generator).items()}
        factor = schedule_factor(step, schedule="cosine", total_steps=args.total_steps, warmup_steps=args.warmup_steps, min_factor=0.02)
        for group in optimizer.param_groups:
            group["lr"] = args.lr * factor
        with autocast:
            loss = training_loss(model, batch, args, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if not torch.isfinite(grad_norm):
            raise FloatingPointError(f"non-finite gradient at step {step}; lower --lr or raise --warmup-steps")
        optimizer.step()
        step += 1
        running.append(loss.item())
        progress.update()
        if step % args.checkpoint_every == 0 or step == max_steps:
            record = {"step": step, "split": "train", "loss": sum(running) / len(running), "lr": args.lr * factor,
                      "seconds": seconds + time.perf_counter() - window_start}
            if args.eval_every and step % args.eval_every == 0 and val_systems:
                record["val"] = {name: {k: r[k] for k in ("one_step", f"step_{ROLLOUT_STEPS}") if k in r}
                                 for name, r in evaluate_systems(model, val_systems, device=device).items()}
            _append_metric(metrics_path, record)
            progress.set_postfix(loss=f"{record['loss']:.4f}")
            running = []
            checkpoint()
        if args.minutes and time.perf_counter() - began > 60 * args.minutes:
            break
    if info.get("step") != step:
        checkpoint()
    progress.close()
    return info


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    keep = ("resolution", "batch_size", "lr", "weight_decay", "warmup_steps", "total_steps", "noise", "pushforward", "seed", "device", "bf16")
    return {k: getattr(args, k) for k in keep}


def _schedule_text(schedule: list[dict[str, int]], warmup_steps: int) -> str:
    """The cosine schedule's horizon(s): a resume with another ``--total-steps`` changes it from that step on."""
    horizons = ", then ".join(f"{h['total_steps']} steps from step {h['from_step']}" for h in schedule)
    return f"cosine over {horizons}; {warmup_steps} warm-up"


def _append_metric(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop records of steps after the restored state (they will be recomputed)."""
    if path.is_file():
        kept = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in kept))


# ---- a compact copy of the corpus for a GPU lease (whose transfers are capped at 64 MiB)


def pack(args: argparse.Namespace) -> dict[str, Any]:
    """Write each system's train and val splits at ``--resolution`` as float16 zoo data sets under ``--pack``."""
    from zoo.data.store import write_manifest, write_shard, read_manifest

    names = args.systems or discover_systems(args.corpus, "train")
    systems = [load_system(args.corpus / name / "train", name=name, resolution=args.resolution) for name in names]
    per_trajectory = sum(2 * s.trajectories[0].numel() for s in systems)  # bytes of one trajectory of every system
    cap = max(int(args.pack_mb * 2**20 / per_trajectory), 1)
    written = {}
    for name in names:
        for split in ("train", "val"):
            source = args.corpus / name / split
            if not (source / "dataset.json").is_file():
                continue
            system = load_system(source, name=name, resolution=args.resolution, max_trajectories=cap if split == "train" else None)
            manifest = read_manifest(source) | {"samples": len(system.trajectories), "shard_size": len(system.trajectories),
                                                "packed": f"{args.resolution}x{args.resolution} float16 copy of {source}"}
            target = args.pack / name / split
            fields = {field: system.trajectories[:, :, c].half() for c, field in enumerate(system.fields)}
            write_shard(target / "shard-00000.safetensors", fields, manifest | {"shard": {"index": 0, "count": 1, "start": 0, "stop": manifest["samples"]}})
            write_manifest(target, manifest)
            written[f"{name}/{split}"] = manifest["samples"]
    print(f"packed {written} into {args.pack}", file=sys.stderr)
    return written


# ---- publishing


LIMITATIONS = [
    "Pretrained on the corpus systems listed under Data generation only (2D, periodic, 64x64 stored, "
    "trained at 32x32); other boundary conditions, 3D and non-uniform grids are out of scope.",
    "It reads exactly `context` past frames at the corpus' frame spacing; another time step is a new task to fine-tune.",
    "The model infers viscosity, forcing and regime from its context frames; it is not told them, so a short "
    "context of a new regime can be mistaken for a corpus one.",
    "A field name outside its vocabulary needs `zoo.models.multiphysics.with_fields` and fine-tuning.",
    "Errors past the 10-step horizon are not measured; chaotic systems decorrelate from the truth.",
]


def publish(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate the state's model on every system's ``--eval-split`` at the training grid and at 64x64; publish."""
    from zoo.eval.plots import plot_curves, plot_fields

    restored = load_state(args.state)
    if restored is None:
        raise SystemExit(f"no training state under {args.state}: train first")
    model, _, info = restored
    model.eval()
    out = args.publish_to or ROOT / "pretrained" / args.publish
    names = [name for name in info["systems"] if (args.corpus / name / args.eval_split / "dataset.json").is_file()]
    if not names:
        raise SystemExit(f"no {args.eval_split} split of the trained systems {info['systems']} under {args.corpus}")
    args.systems = names
    training_grid = info["settings"]["resolution"]
    stored = load_corpus(args, args.eval_split, None)
    stored_grid = stored[0].trajectories.shape[-1]
    grids = sorted({training_grid, stored_grid})
    results = {grid: evaluate_systems(model, stored if grid == stored_grid else load_corpus(args, args.eval_split, grid)) for grid in grids}
    plots = out / "plots"
    def mean(grid, key):
        return sum(r[key] for r in results[grid].values()) / len(results[grid])
    steps = ROLLOUT_STEPS
    key = f"step_{steps}"
    evaluation = {
        "test_data": {"description": f"{args.eval_split} splits of {len(names)} corpus systems, rollout of {steps} frames "
                                     f"from frames 0..{model.context - 1}; metrics averaged over systems",
                      "samples": sum(r["trajectories"] for r in results[grids[0]].values()), "seed": "per system, see the corpus data cards"},
        "resolutions": [{"grid": [g, g], "zero_shot": g != training_grid,
                         "metrics": {"one_step_relative_l2": mean(g, "one_step"), f"{key}_relative_l2": mean(g, key)}} for g in grids],
        "baselines": [{"name": "persistence (last context frame)", "resolutions": [
            {"grid": [g, g], "zero_shot": g != training_grid,
             "metrics": {"one_step_relative_l2": mean(g, "persistence_one_step"), f"{key}_relative_l2": mean(g, f"persistence_{key}")}} for g in grids]}],
        "rollout": [{"model": name, "grid": [stored_grid, stored_grid], "times": list(range(1, len(r["per_step"]) + 1)), "relative_l2": r["per_step"]}
                    for name, r in results[stored_grid].items()],
    }
    curves = {}
    for name, r in results[stored_grid].items():
        times = list(range(1, len(r["per_step"]) + 1))
        curves[name] = (times, r["per_step"])
        curves[f"{name}, persistence"] = (times, r["persistence_per_step"])
    plot_curves(curves, plots / "rollout_error_per_system.png", xlabel="rollout step", ylabel=f"relative L2 ({stored_grid}x{stored_grid})", logy=True, title=f"{args.publish}: {args.eval_split} rollouts")
    for system in stored:
        with torch.no_grad():
            prediction = model.rollout(system.trajectories[:1, : model.context], steps, fields=system.fields)
        truth = system.trajectories[0, model.context + steps - 1, 0]
        plot_fields({"last context frame": system.trajectories[0, model.context - 1, 0], "truth": truth, "prediction": prediction[0, -1, 0], "error": prediction[0, -1, 0] - truth}, plots / f"rollout_{system.name}.png",
                    title=f"{system.name}: {system.fields[0]}, step {steps} ({stored_grid}x{stored_grid})")
    records = [json.loads(line) for line in (args.state / "metrics.jsonl").read_text().splitlines() if line.strip()]
    plot_curves({"train loss": ([r["step"] for r in records], [r["loss"] for r in records])}, plots / "training_loss.png",
                xlabel="step", ylabel="relative L2 (training batches)", logy=True)
    corpus_table = _corpus_table(args.corpus, info["systems"])
    settings = info["settings"]
    metadata = {
        "task": f"next frame of any set of named 2D periodic fields from {model.context} past frames; rollouts",
        "resolution": [training_grid, training_grid],
        "license": "mit",
        "tags": ["multi-physics", "foundation-model", "pretraining"],
        "pde": {"name": "multi-physics corpus (issue #16)", "systems": {name: corpus_table[name]["equation"] for name in corpus_table},
                "evaluated": names, "trained_but_not_evaluated (no test split yet)": [n for n in corpus_table if n not in names]},
        "data": {"corpus": str(args.corpus), "systems": corpus_table,
                 f"per_system_{args.eval_split}_errors_{stored_grid}x{stored_grid}": {name: {"one_step": r["one_step"], key: r[key], "persistence_one_step": r["persistence_one_step"],
                                                         f"persistence_{key}": r[f"persistence_{key}"], "trajectories": r["trajectories"]}
                                                  for name, r in results[stored_grid].items()}},
        "fields": {"vocabulary": model.fields, "input": f"(B, {model.context}, C, H, W) plus C field names",
                   "output": "(B, C, H, W), the next frame", "grid": f"any; trained at {training_grid}x{training_grid}, evaluated at " + " and ".join(f"{g}x{g}" for g in grids)},
        "normalisation": "per-field mean/std in config.json (pooled over the corpus' train splits), then per-sample "
                         "reversible normalisation over the context window; both undone on output",
        "training": {"steps": info["step"], "batch_size": settings["batch_size"], "optimizer": f"AdamW(weight_decay={settings['weight_decay']})",
                     "lr": settings["lr"], "schedule": _schedule_text(info.get("schedule") or [{"from_step": 0, "total_steps": settings["total_steps"]}], settings["warmup_steps"]),
                     "noise_injection": settings["noise"], "pushforward_probability": settings["pushforward"],
                     "grid": f"{training_grid}x{training_grid} (spectral truncation of {stored_grid}x{stored_grid})", "device": settings["device"],
                     "compute": f"{info['seconds'] / 3600:.2f} hours of training wall time on {settings['device']} (1 thread on a shared 2-core CPU)" if settings["device"] == "cpu" else f"{info['seconds'] / 3600:.2f} hours on {settings['device']}",
                     "command": "python recipes/pretrain_multiphysics.py (resumable; state in recipes/state/multiphysics)"},
        "finetune": "Load with zoo.from_pretrained; add fields with zoo.models.multiphysics.with_fields(model, {name: (mean, std)}); "
                    "train with the recipe's loss (relative L2 per field) at any grid.",
        "limitations": LIMITATIONS,
    }
    save_pretrained(model, out, metadata=metadata, evaluation=evaluation, name=args.publish)
    if args.publish_to is None:  # a bundled checkpoint: its card is also copied to model_cards/
        write_card(out, ROOT / "model_cards" / f"{args.publish}.md", name=args.publish)
    print(f"published {out}", file=sys.stderr)
    return {"directory": str(out), "evaluation": evaluation, "results": results}


def _corpus_table(corpus: Path, names: list[str]) -> dict[str, Any]:
    table = {}
    systems = json.loads((corpus / "corpus.json").read_text()).get("systems", {}) if (corpus / "corpus.json").is_file() else {}
    for name in names:
        entry = systems.get(name, {})
        manifest = json.loads((corpus / name / "train" / "dataset.json").read_text())
        table[name] = {"equation": manifest.get("equation"), "fields": list(manifest["fields"]), "parameters": manifest.get("parameters"),
                       "train_trajectories": manifest["samples"], "frames": len(manifest.get("times", [])), "note": entry.get("note", "")}
    return table


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.publish:
        return publish(args)
    if args.pack:
        return pack(args)
    return train(args)


if __name__ == "__main__":
    main()
