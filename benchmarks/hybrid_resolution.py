"""Why the NS hybrid lost accuracy at 128x128: one experiment per candidate cause (#18 item 2).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hybrid_resolution.py --data data/ns2d-nu1e-3/test \
        [--samples 32] [--runs native@64 native@128 ...] [--out runs/hybrid_resolution.json]

Every variant keeps the weights of the checkpoint ``transformer-fno-ns2d-nu1e-3`` as it was trained
(patches of the input grid's own points, ``embed_grid=None``) and changes one thing in how its
backbone runs, so the 40-step rollout error (t = 11..50 from t = 1..10, relative L2 of the whole
trajectory per sample, mean and 95% bootstrap interval over trajectories) says what that thing costs:

* ``native``: the checkpoint as trained: 2x2 patches of whatever grid it gets.
* ``spectral_embed_grid``: the input brought to 64x64 by Fourier truncation, the unchanged
  model run there, its output brought back by zero-padding (what ``embed_grid=[64, 64]`` does).
* ``pixel_patch_scaled``: patches scaled with the grid in pixel space: 2x2 averages of the 128x128
  input (so a 4x4 patch there covers the area a 2x2 patch covers at 64x64), each output value
  repeated over 2x2 points (the head's values held constant over the larger patch).
* ``output_bandlimited``: native, with each step's output reduced to the modes a 64x64 grid holds
  (does the error sit in the high wavenumbers the 2x2 unpatching creates?).
* ``coords_at_training_spacing``: native, with the grid-coordinate channels inside each patch
  spaced as on the 64x64 grid (the model's only positional input).
* ``tokens_on_finer_grid``: at 64x64, the tokens after the patch embedding Fourier-interpolated to a
  token grid twice as fine, every block (Fourier mixer with its 8x8 modes, LayerNorms, MLPs) run
  there, and the tokens truncated back before the head: are the blocks resolution consistent?

Test data: ``--data`` holds 64x64 trajectories (the held-out set, seed 1, whose first ``--samples``
are used); the 128x128 set is the same trajectories Fourier-interpolated (a 128x128 solve of these
flows differs by at most ~1e-4, BENCHMARKS.md). ``--fine`` instead takes a data set solved at
128x128 and truncates it to 64x64. Results accumulate in ``--out`` (rerunning skips the done runs).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange

import zoo
from zoo.data import load_fields
from zoo.eval.bootstrap import bootstrap_interval
from zoo.eval.rollout import rollout_metrics
from zoo.models import spectral_resample
from zoo.models.fno import grid_coordinates

CHECKPOINT = "transformer-fno-ns2d-nu1e-3"
TRAINING_GRID = 64
HISTORY = 10
RUNS = ["native@64", "native@128", "spectral_embed_grid@128", "pixel_patch_scaled@128", "output_bandlimited@128",
        "coords_at_training_spacing@128", "tokens_on_finer_grid@64"]


def resample(u: torch.Tensor, size) -> torch.Tensor:
    return spectral_resample(u.double(), size).float()


def on_grid(tokens: torch.Tensor, size) -> torch.Tensor:
    """Tokens ``(B, h, w, D)`` Fourier-resampled to a token grid ``size``."""
    return rearrange(resample(rearrange(tokens, "b h w d -> b d h w"), size), "b d h w -> b h w d")


def run_backbone(backbone, x: torch.Tensor, *, coordinates=None, token_grid=None) -> torch.Tensor:
    """The backbone's own computation (patches of ``x``'s grid), with optional replacement
    coordinate channels ``(2, H, W)`` and optional blocks on a resampled token grid."""
    grid = grid_coordinates(tuple(x.shape[2:]), dtype=x.dtype) if coordinates is None else coordinates
    x = torch.cat([x, grid.expand(x.shape[0], *grid.shape)], dim=1)
    patch = dict(zip(("p0", "p1"), backbone.patch_size))
    tokens = backbone.patch_embed(rearrange(x, "b c (g0 p0) (g1 p1) -> b g0 g1 (p0 p1 c)", **patch))
    native = tuple(tokens.shape[1:3])
    if token_grid is not None:
        tokens = on_grid(tokens, token_grid)
    for block in backbone.blocks:
        tokens = block(tokens)
    if token_grid is not None:
        tokens = on_grid(tokens, native)
    return rearrange(backbone.head(backbone.norm(tokens)), "b g0 g1 (p0 p1 c) -> b c (g0 p0) (g1 p1)", **patch)


def as_trained() -> torch.nn.Module:
    """The checkpoint's stepper and weights with patches of the input grid (``embed_grid=None``), as trained."""
    published = zoo.from_pretrained(CHECKPOINT)
    config = json.loads(json.dumps(published.config))
    config["backbone"]["config"]["embed_grid"] = None
    model = zoo.create_model(type(published).__name__, **config)
    model.load_state_dict(published.state_dict(), strict=True)
    return model.eval()


def variant(name: str) -> torch.nn.Module:
    model = as_trained()
    backbone = model.backbone
    native = backbone.forward
    n0 = TRAINING_GRID

    def spectral_embed_grid(x):
        return resample(native(resample(x, n0)), tuple(x.shape[2:]))

    def pixel_patch_scaled(x):
        f = x.shape[-1] // n0
        return native(F.avg_pool2d(x, f)).repeat_interleave(f, -2).repeat_interleave(f, -1) if f > 1 else native(x)

    def output_bandlimited(x):
        return resample(resample(native(x), n0), tuple(x.shape[2:]))

    def coords_at_training_spacing(x):
        n, p = x.shape[-1], backbone.patch_size[0]
        i = torch.arange(n, dtype=x.dtype)
        spaced = (i - i % p) / n + (i % p) / n0
        return run_backbone(backbone, x, coordinates=torch.stack(torch.meshgrid(spaced, spaced, indexing="ij")))

    def tokens_on_finer_grid(x):
        y = resample(x, n0)
        tokens = tuple(2 * n // p for n, p in zip(y.shape[2:], backbone.patch_size))
        return resample(run_backbone(backbone, y, token_grid=tokens), tuple(x.shape[2:]))

    variants = {f.__name__: f for f in (spectral_embed_grid, pixel_patch_scaled, output_bandlimited,
                                        coords_at_training_spacing, tokens_on_finer_grid)}
    if name != "native":
        backbone.forward = variants[name]
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="64x64 held-out trajectories (zoo-fields directory)")
    parser.add_argument("--fine", action="store_true", help="--data is solved at 128x128; 64x64 is its truncation")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--runs", nargs="*", default=RUNS, help="variant@grid")
    parser.add_argument("--out", default="runs/hybrid_resolution.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    w = load_fields(args.data, samples=(0, args.samples)).trajectories[:, 1:, 0]
    sets = {64: resample(w, 64), 128: w} if args.fine else {64: w, 128: resample(w, 128)}
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    for key in args.runs:
        name, grid = key.split("@")
        if results.get(key, {}).get("samples") == args.samples:
            continue
        truth, start = sets[int(grid)], time.time()
        model = variant(name)
        with torch.no_grad():
            predicted = torch.cat([model.rollout(c[:, :HISTORY], truth.shape[1] - HISTORY) for c in truth.split(10)])
        errors = rollout_metrics(predicted, truth[:, HISTORY:])
        per_sample = errors["relative_l2"]
        results[key] = {"samples": per_sample.numel(), "mean": float(per_sample.mean()), "interval": bootstrap_interval(per_sample),
                        "per_sample": per_sample.tolist(), "per_step": errors["rollout_relative_l2"].mean(0).tolist()}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
        low, high = results[key]["interval"]
        print(f"{key:34s} {results[key]['mean']:.5f} [{low:.5f}, {high:.5f}] first step {results[key]['per_step'][0]:.5f} "
              f"({time.time() - start:.0f} s)", flush=True)
    statistics = normalisation_statistics(sets)
    print(json.dumps(statistics, indent=1))
    results["normalisation_statistics"] = statistics
    out.write_text(json.dumps(results, indent=1))


@torch.no_grad()
def normalisation_statistics(sets: dict[int, torch.Tensor]) -> dict:
    """What the normalisations see at each grid on the same inputs (t = 1..10): the std of the
    field after the model's field_mean/field_std, the per-token std the first LayerNorm divides by,
    and how far the embedded token field at 128x128 (truncated to the 64x64 run's token grid) is
    from the one at 64x64 (relative L2)."""
    model = as_trained()
    backbone, stats, tokens = model.backbone, {}, {}
    patch = dict(zip(("p0", "p1"), backbone.patch_size))
    for n, w in sets.items():
        z = (w[:, :HISTORY] - model.field_mean.view(1, -1, 1, 1)) / model.field_std.view(1, -1, 1, 1)
        grid = grid_coordinates(tuple(z.shape[2:]), dtype=z.dtype)
        lifted = torch.cat([z, grid.expand(z.shape[0], *grid.shape)], dim=1)
        tokens[n] = backbone.patch_embed(rearrange(lifted, "b c (g0 p0) (g1 p1) -> b g0 g1 (p0 p1 c)", **patch))
        stats[f"{n}x{n}"] = {"normalised_input_std": float(z.std()), "token_std": float(tokens[n].std(-1).mean())}
    fine_on_coarse = on_grid(tokens[128], tuple(tokens[64].shape[1:3]))
    stats["token_field_difference"] = float(torch.linalg.vector_norm(fine_on_coarse - tokens[64]) / torch.linalg.vector_norm(tokens[64]))
    return stats


if __name__ == "__main__":
    main()
