"""Why the NS hybrid's 64x64 error is 1.6x the FNO's: one measurement per candidate cause (#18 item 2).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hybrid_gap.py --data data/ns2d-nu1e-3/test \
        [--samples 20] [--models transformer-fno-ns2d-nu1e-3 fno-ns2d-nu1e-3 runs/.../model] [--out runs/hybrid_gap.json]

Test data: the first ``--samples`` held-out 64x64 trajectories (zoo generator, seed 1, disjoint from
the training seed 0); t = 1..10 in. For every model (a published name or a checkpoint folder):

* ``parameters``: the parameter budget.
* ``rollout``: relative L2 of the free rollout t = 11..50 per trajectory (the cards' metric), mean.
* ``one_step``: relative L2 of the prediction of w(t) from the true w(t-10..t-1) (teacher-forced),
  mean over trajectories, at each t = 11..50: is the gap in the one-step error or in how errors
  grow along the rollout?
* ``error_bands``: share of the one-step error's energy in bands of the max-norm wavenumber
  ``|k| = max(|kx|, |ky|)``: below 8 (the hybrid's mixer modes), 8-12 (the FNO's spectral modes
  reach 12), 12-16 and 16-32 (beyond the hybrid's 32x32 token grid: what its 2x2 patch recovery
  adds); and the truth's own energy share above 8, for scale.
* ``rollout_output_below_16`` (FourierTransformer models): each step's increment cut to |k| < 16,
  so the patch-recovery artefacts of the unpatching never enter the rollout.
* ``rollout_at_32``: the same trajectories truncated to 32x32 (``spectral_resample``), the model
  run there; for a FourierTransformer also ``rollout_at_32_native``, with 2x2 patches of the 32x32
  grid itself (``embed_grid=None``), as in the 22,000 steps of its coarse training stages.

Means with 95% percentile bootstrap intervals over trajectories (``zoo.eval.bootstrap``). Float32,
CPU, one thread. Results accumulate in ``--out`` (a rerun skips the models already done).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import zoo
from zoo.data import load_fields
from zoo.eval.bootstrap import bootstrap_interval
from zoo.files import atomic_write_text
from zoo.models import FourierTransformer, spectral_resample

HISTORY = 10
BANDS = {"below 8": (0, 8), "8-12": (8, 12), "12-16": (12, 16), "16-32": (16, 33)}


def relative(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-sample relative L2 over all but the first axis: ``(N,)``."""
    return (prediction - truth).flatten(1).norm(dim=1) / truth.flatten(1).norm(dim=1)


def summary(per_sample: torch.Tensor) -> dict:
    return {"mean": round(float(per_sample.mean()), 5), "interval": [round(v, 5) for v in bootstrap_interval(per_sample)]}


def band_masks(n: int) -> dict[str, torch.Tensor]:
    k = torch.fft.fftfreq(n, 1 / n).abs()
    kmax = torch.maximum(k[:, None], k[None, :])
    return {name: (kmax >= low) & (kmax < high) for name, (low, high) in BANDS.items()}


def with_embed_grid(model: torch.nn.Module, embed_grid) -> torch.nn.Module:
    """The same stepper and weights, its FourierTransformer backbone embedding patches on ``embed_grid``."""
    config = json.loads(json.dumps(model.config))
    config["backbone"]["config"]["embed_grid"] = embed_grid
    rebuilt = zoo.create_model(type(model).__name__, **config)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    return rebuilt.eval()


def band_limited_rollout(model: torch.nn.Module, w: torch.Tensor, steps: int, cutoff: int) -> torch.Tensor:
    """``model``'s rollout with each step's increment reduced to the modes ``|k| < cutoff``."""
    keep = (torch.maximum(*torch.meshgrid(*(torch.fft.fftfreq(n, 1 / n).abs() for n in w.shape[-2:]), indexing="ij")) < cutoff).to(w.dtype)
    history, out = w[:, :HISTORY], []
    for _ in range(steps):
        step = model(history)
        step = history[:, -1:] + torch.fft.ifft2(torch.fft.fft2(step - history[:, -1:]) * keep).real
        out.append(step)
        history = torch.cat([history[:, 1:], step], dim=1)
    return torch.cat(out, dim=1)


@torch.no_grad()
def measure(model: torch.nn.Module, w: torch.Tensor) -> dict:
    steps = w.shape[1] - HISTORY
    result = {"parameters": sum(p.numel() for p in model.parameters()),
              "rollout": summary(relative(model.rollout(w[:, :HISTORY], steps), w[:, HISTORY:]))}
    one_step, energy = [], dict.fromkeys(BANDS, 0.0)
    masks = band_masks(w.shape[-1])
    for t in range(HISTORY, w.shape[1]):
        prediction = model(w[:, t - HISTORY:t])[:, 0]
        one_step.append(relative(prediction, w[:, t]))
        power = torch.fft.fft2(prediction - w[:, t]).abs() ** 2
        for name, mask in masks.items():
            energy[name] += float(power[:, mask].sum())
    one_step = torch.stack(one_step, dim=1)  # (N, steps)
    result["one_step"] = summary(one_step.mean(1)) | {"per_time": [round(float(v), 5) for v in one_step.mean(0)]}
    total = sum(energy.values())
    result["error_bands"] = {name: round(value / total, 4) for name, value in energy.items()}
    coarse = spectral_resample(w.double(), 32).float()
    if isinstance(model.backbone, FourierTransformer):
        result["rollout_output_below_16"] = summary(relative(band_limited_rollout(model, w, steps, 16), w[:, HISTORY:]))
        native = with_embed_grid(model, None)
        result["rollout_at_32_native"] = summary(relative(native.rollout(coarse[:, :HISTORY], steps), coarse[:, HISTORY:]))
    result["rollout_at_32"] = summary(relative(model.rollout(coarse[:, :HISTORY], steps), coarse[:, HISTORY:]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the 64x64 held-out set (zoo generator, seed 1)")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--models", nargs="+", default=["transformer-fno-ns2d-nu1e-3", "fno-ns2d-nu1e-3"])
    parser.add_argument("--out", type=Path, default=Path("runs/hybrid_gap.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    w = load_fields(args.data, samples=(0, args.samples)).trajectories[:, 1:, 0]  # t = 1..50
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    power = torch.fft.fft2(w).abs() ** 2
    above8 = ~band_masks(w.shape[-1])["below 8"]
    results["truth energy share |k| >= 8"] = {f"t = {t + 1}": float(power[:, t][:, above8].sum() / power[:, t].sum()) for t in (HISTORY, w.shape[1] - 1)}
    for name in args.models:
        if name in results:
            continue
        results[name] = measure(zoo.from_pretrained(name).eval(), w)
        print(name, json.dumps({k: v for k, v in results[name].items() if k != "one_step"}), "one-step", results[name]["one_step"]["mean"], flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.out, json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
