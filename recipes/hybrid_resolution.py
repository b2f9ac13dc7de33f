"""Republish the NS transformers with their patches embedded on the training grid (#18 item 2).

    python recipes/hybrid_resolution.py [--threads 1]                   # transformer-fno-ns2d-nu1e-3
    python recipes/hybrid_resolution.py --checkpoint afno [--threads 1]  # afno-ns2d-nu1e-3 (run after the first)

The published hybrid embedded 2x2 patches of whatever grid it was given, so at 128x128 a token
covered a quarter of the area it covered in training, and its 40-step rollout error grew about 4x
(BENCHMARKS.md, "Why the hybrid lost accuracy at 128x128", has the experiment for each candidate
cause). The fix is an option of the architecture, ``FourierTransformer(embed_grid=...)``: patches
are embedded and recovered on the 64x64 training grid, which any input reaches by Fourier
interpolation. At 64x64 the model computes exactly what it computed before (same weights, same
operations: tests/test_fourier_transformer.py), so no retraining is needed and the 64x64 figure
must come out unchanged; this script checks that it does before publishing.

Test data: the NS held-out set (regenerate from the repository root with
``zoo data generate ns2d --viscosity 1e-3 --steps 50 --resolution 64 --samples 100 --seed 1
data/ns2d-nu1e-3/test``; seed 1 is disjoint from the training seed 0). All 100 trajectories score
the 64x64 figure; the first 32, brought to 128x128 by Fourier interpolation (exact for these
resolved flows: a 128x128 solve of the same field differs from the 64x64 one by 2e-7 at t = 10 and
1.2e-4 at t = 50, BENCHMARKS.md "PDE solvers"), score the zero-shot figure, so the ratio 128/64
compares the same trajectories. The FNO (fno-ns2d-nu1e-3) is scored on the same sets. Only this
checkpoint's config.json, evaluation.json, card and 128x128 plots change; the weights are not
rewritten.

``afno-ns2d-nu1e-3`` has the same backbone (FourierTransformer, 2x2 patches, AFNO mixer) and the
same cure: ``--checkpoint afno`` republishes it the same way, scoring it and its pre-embed_grid
self on the same test sets. Its FNO and FNO-mixer transformer columns at 128x128 are those
trajectories' figures stored by the first run in the hybrid's evaluation.json (rerun this after
the hybrid is republished, so that its columns follow).
"""

from __future__ import annotations

import argparse
import json

import torch
from common import ROOT, plots_dir, publish
from ns2d import DATA, FIRST_FRAME, HISTORY

from zoo.data import load_fields
from zoo.eval import kinetic_energy_spectrum, plot_curves, plot_fields
from zoo.eval.bootstrap import bootstrap_interval
from zoo.eval.rollout import rollout_metrics, rollout_predictions
from zoo.hub import from_pretrained
from zoo.hub.cards import write_pretrained_cards
from zoo.hub.schema import read_config, read_evaluation
from zoo.models import create_model, spectral_resample

NAME = "transformer-fno-ns2d-nu1e-3"
DIRECTORY = ROOT / "pretrained" / NAME
EMBED_GRID = [64, 64]  # the grid of the last training stages (recipes/ns2d.py STAGES)
ZERO_SHOT_SAMPLES = 32
AFNO = "afno-ns2d-nu1e-3"
HYBRID_LABEL = "FNO-mixer transformer"  # its name in the other NS cards (recipes/evaluate_ns2d.py LABELS)
SOURCES = {
    64: "held-out trajectories, zoo generator seed 1",
    128: "of those held-out trajectories (the first), Fourier-interpolated to 128x128",
}



def embed_grid_limitation(at_128: float, at_64: float, *, before: float | None = None) -> str:
    """The card's sentences on the patch embedding's grid, with the zero-shot figures (``before``: the error without it)."""
    was = "" if before is None else f" ({before:.3f} before)"
    return (f"Its 2x2 patches are embedded on the 64x64 training grid (config embed_grid), reached from any grid by Fourier "
            f"interpolation, so a token covers the same area at every resolution: zero-shot 128x128 error {at_128:.4f} "
            f"against {at_64:.4f} on the same trajectories at 64x64{was}. Its output on a finer grid holds only the modes a "
            "64x64 grid holds (|k| < 32); the residual step carries the input's finer modes forward unchanged.")

def with_embed_grid(model: torch.nn.Module) -> torch.nn.Module:
    """The same stepper and weights, its backbone embedding patches on ``EMBED_GRID``."""
    config = json.loads(json.dumps(model.config))
    config["backbone"]["config"]["embed_grid"] = EMBED_GRID
    rebuilt = create_model(type(model).__name__, **config)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    return rebuilt.eval()


def test_sets() -> dict[str, torch.Tensor]:
    """Vorticity ``(N, 50, n, n)`` at t = 1..50: the 64x64 set and its first trajectories at 128x128."""
    test = load_fields(DATA / "test", samples=(0, 100)).trajectories[:, FIRST_FRAME:, 0]
    return {"64": test, "128": spectral_resample(test[:ZERO_SHOT_SAMPLES].double(), 128).float()}


def scores(model: torch.nn.Module, truth: torch.Tensor) -> dict:
    predictions = rollout_predictions(model, truth, history=HISTORY, batch_size=10)
    errors = rollout_metrics(predictions, truth[:, HISTORY:])
    per_sample = errors["relative_l2"]
    return summary(per_sample) | {
        "per_step": errors["rollout_relative_l2"].mean(0).tolist(),
        "spectrum": kinetic_energy_spectrum(predictions[:, -1].double())[1].mean(0).tolist(),
        "sample": predictions[0, -1],
    }


def summary(per_sample: torch.Tensor) -> dict:
    return {
        "per_sample": per_sample,
        "mean": float(per_sample.mean()),
        "interval": [round(v, 5) for v in bootstrap_interval(per_sample)],
        "samples": per_sample.numel(),
    }


def entry(grid: int, result: dict) -> dict:
    return {"grid": [grid, grid], "zero_shot": grid != 64, "samples": result["samples"],
            "metrics": {"relative_l2": round(result["mean"], 5)}, "intervals": {"relative_l2": result["interval"]},
            "source": SOURCES[grid]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", choices=["transformer-fno", "afno"], default="transformer-fno")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.checkpoint == "afno":
        republish_afno()
    else:
        republish_hybrid()


def republish_hybrid() -> None:
    published = from_pretrained(DIRECTORY)
    models = {"this model": with_embed_grid(published), "before (patches of the input grid)": published,
              "FNO": from_pretrained(ROOT / "pretrained" / "fno-ns2d-nu1e-3")}
    sets = test_sets()
    results = {}
    for label, model in models.items():
        for key, truth in sets.items():
            if key == "64" and label.startswith("before"):
                continue  # identical to this model at its embedding grid
            results[label, key] = scores(model, truth)
            if key == "64":  # the trajectories of the 128x128 set, at 64x64
                results[label, "128 at 64"] = summary(results[label, key]["per_sample"][:ZERO_SHOT_SAMPLES])
            for k in (key, "128 at 64") if key == "64" else (key,):
                r = results[label, k]
                print(f"{label:>36} {k:>9}: {r['mean']:.5f} {r['interval']} ({r['samples']} trajectories)", flush=True)

    evaluation = read_evaluation(DIRECTORY)
    old64 = evaluation["resolutions"][0]
    if old64["grid"] != [64, 64] or abs(round(results["this model", "64"]["mean"], 5) - old64["metrics"]["relative_l2"]) > 1e-5:
        raise SystemExit(f"the 64x64 figure moved: {results['this model', '64']['mean']:.5f} against the published {old64}")

    this, fno = (lambda k: results["this model", k]), (lambda k: results["FNO", k])
    before = results["before (patches of the input grid)", "128"]
    evaluation["test_data"]["description"] = (
        f"held-out trajectories from zoo's generator: 100 at 64x64 (seed 1) and, for zero-shot, the first {ZERO_SHOT_SAMPLES} of "
        "them Fourier-interpolated to 128x128 (a 128x128 solve differs from them by at most 1.2e-4, BENCHMARKS.md). On those "
        f"{ZERO_SHOT_SAMPLES} trajectories at 64x64 this model scores "
        f"{this('128 at 64')['mean']:.4f} {this('128 at 64')['interval']} (FNO {fno('128 at 64')['mean']:.4f}), so its zero-shot "
        f"ratio 128/64 on the same trajectories is {this('128')['mean'] / this('128 at 64')['mean']:.2f} (FNO "
        f"{fno('128')['mean'] / fno('128 at 64')['mean']:.2f}). The same weights embedding 2x2 patches of the 128x128 grid itself "
        f"(the checkpoint before embed_grid) scored {before['mean']:.4f} {before['interval']} there. Earlier zero-shot figures on "
        "20 trajectories solved at 256x256 are in BENCHMARKS.md."
    )
    evaluation["test_data"]["confidence_intervals"] = evaluation["test_data"]["confidence_intervals"].split("; no interval")[0] + "; recipes/hybrid_resolution.py for 128x128"
    evaluation["resolutions"] = [old64, entry(128, this("128"))]
    fno_entry = next(b for b in evaluation["baselines"] if b["name"] == "FNO")
    fno_entry["resolutions"] = [fno_entry["resolutions"][0], entry(128, fno("128"))]
    for baseline in evaluation["baselines"]:
        baseline["resolutions"] = [r for r in baseline["resolutions"] if r["grid"] == [64, 64] or baseline is fno_entry]
    times = list(range(HISTORY + 1, HISTORY + 1 + len(this("128")["per_step"])))
    evaluation["rollout"] = [c for c in evaluation["rollout"] if c["grid"] == [64, 64]]
    evaluation["rollout"].insert(1, {"grid": [128, 128], "times": times, "relative_l2": [round(v, 5) for v in this("128")["per_step"]]})
    evaluation["rollout"].append({"model": "FNO", "grid": [128, 128], "times": times, "relative_l2": [round(v, 5) for v in fno("128")["per_step"]]})
    evaluation["speed"] = [s for s in evaluation.get("speed", []) if s["grid"] == [64, 64]]

    directory = plots_dir(NAME)
    for stale in ("rollout_error_256.png", "energy_spectrum_t50_256.png", "vorticity_t50_256.png"):
        (directory / stale).unlink(missing_ok=True)
    curves = {label: (times, results[label, "128"]["per_step"]) for label in models}
    plot_curves(curves, directory / "rollout_error_128.png", xlabel="t", ylabel="relative L2 error",
                title="Rollout error at 128x128 (zero-shot)", logy=True)
    k, true_spectrum = kinetic_energy_spectrum(sets["128"][:, -1].double())
    spectra = {"truth (solver)": (k[1:].tolist(), true_spectrum.mean(0)[1:].tolist())}
    spectra |= {label: (k[1:].tolist(), results[label, "128"]["spectrum"][1:]) for label in models}
    plot_curves(spectra, directory / "energy_spectrum_t50_128.png", xlabel="wavenumber k", ylabel="E(k)",
                title="Kinetic energy spectrum at t = 50, 128x128", logx=True, logy=True)
    sample, truth = this("128")["sample"], sets["128"][0, -1]
    plot_fields({"truth": truth, "FNO-mixer transformer": sample, "error": sample - truth},
                directory / "vorticity_t50_128.png", title="Vorticity at t = 50, 128x128")

    config = read_config(DIRECTORY)
    metadata = config["metadata"]
    metadata["limitations"] = [item for item in metadata["limitations"] if not item.startswith("Its patch embedding")] + [
        f"Its 2x2 patches are embedded on the 64x64 training grid (config embed_grid), reached from any grid by Fourier "
        f"interpolation, so a token covers the same area at every resolution: zero-shot 128x128 error {this('128')['mean']:.4f} "
        f"against {this('128 at 64')['mean']:.4f} on the same trajectories at 64x64. Its output on a finer grid holds only "
        "the modes a 64x64 grid holds (|k| < 32); the residual step carries the input's finer modes forward unchanged. "
        "embed_grid was set at publication (recipes/hybrid_resolution.py): training used patches of the 32x32 and 64x64 "
        "grids themselves, and the weights are those of that training, unchanged.",
    ]
    publish(NAME, models["this model"], metadata=metadata, evaluation=evaluation)
    list(write_pretrained_cards({NAME: DIRECTORY}))  # and its copy in model_cards/
    print(f"published pretrained/{NAME}")


def stored(evaluation: dict, grid: int, model: str | None = None) -> tuple[dict, dict]:
    """``(resolution entry, rollout curve)`` at ``grid`` of ``model`` (a baseline's name; None: the checkpoint itself)."""
    entries = evaluation["resolutions"] if model is None else next(b for b in evaluation["baselines"] if b["name"] == model)["resolutions"]
    curve = next(c for c in evaluation["rollout"] if c.get("model") == model and c["grid"] == [grid, grid])
    return next(r for r in entries if r["grid"] == [grid, grid]), curve


def republish_afno() -> None:
    """``afno-ns2d-nu1e-3`` with ``embed_grid``: its own figures scored here, its peers' read from the hybrid's card."""
    directory = ROOT / "pretrained" / AFNO
    published = from_pretrained(directory)
    this = with_embed_grid(published)
    sets = test_sets()
    results = {"64": scores(this, sets["64"]), "128": scores(this, sets["128"]), "before": scores(published, sets["128"])}
    results["128 at 64"] = summary(results["64"]["per_sample"][:ZERO_SHOT_SAMPLES])
    for key, r in results.items():
        print(f"{AFNO} {key:>9}: {r['mean']:.5f} {r['interval']} ({r['samples']} trajectories)", flush=True)
    evaluation = read_evaluation(directory)
    old64 = evaluation["resolutions"][0]
    if old64["grid"] != [64, 64] or abs(round(results["64"]["mean"], 5) - old64["metrics"]["relative_l2"]) > 1e-5:
        raise SystemExit(f"the 64x64 figure moved: {results['64']['mean']:.5f} against the published {old64}")

    # The hybrid's card holds its own and the FNO's figures on these very trajectories (republish_hybrid).
    peers = read_evaluation(DIRECTORY)
    peer_entries = {HYBRID_LABEL: {g: stored(peers, g) for g in (64, 128)}, "FNO": {g: stored(peers, g, "FNO") for g in (64, 128)}}
    for baseline in evaluation["baselines"]:
        if baseline["name"] in peer_entries:
            baseline["resolutions"] = [peer_entries[baseline["name"]][g][0] for g in (64, 128)]
        else:
            baseline["resolutions"] = [r for r in baseline["resolutions"] if r["grid"] == [64, 64]]
    evaluation["resolutions"] = [old64, entry(128, results["128"])]
    times = list(range(HISTORY + 1, HISTORY + 1 + len(results["128"]["per_step"])))
    curves = [c for c in evaluation["rollout"] if c["grid"] == [64, 64] and c.get("model") not in peer_entries]
    curves.insert(1, {"grid": [128, 128], "times": times, "relative_l2": [round(v, 5) for v in results["128"]["per_step"]]})
    curves += [{**peer_entries[label][g][1], "model": label} for g in (64, 128) for label in peer_entries]
    evaluation["rollout"] = curves
    evaluation["speed"] = [s for s in evaluation.get("speed", []) if s["grid"] == [64, 64]]
    first, fno, hybrid = results["128 at 64"], peer_entries["FNO"][128][0], peer_entries[HYBRID_LABEL][128][0]
    evaluation["test_data"]["description"] = (
        f"held-out trajectories from zoo's generator: 100 at 64x64 (seed 1) and, for zero-shot, the first {ZERO_SHOT_SAMPLES} of "
        "them Fourier-interpolated to 128x128 (a 128x128 solve differs from them by at most 1.2e-4, BENCHMARKS.md). On those "
        f"{ZERO_SHOT_SAMPLES} trajectories at 64x64 this model scores {first['mean']:.4f} {first['interval']}, so its zero-shot "
        f"ratio 128/64 on the same trajectories is {results['128']['mean'] / first['mean']:.2f}. The same weights embedding 2x2 "
        f"patches of the 128x128 grid itself (the checkpoint before embed_grid) scored {results['before']['mean']:.4f} "
        f"{results['before']['interval']} there. The FNO ({fno['metrics']['relative_l2']:.4f}) and FNO-mixer transformer "
        f"({hybrid['metrics']['relative_l2']:.4f}) figures at 128x128 are on the same trajectories, from that checkpoint's card. "
        "Earlier zero-shot figures on 20 trajectories solved at 256x256 are in BENCHMARKS.md."
    )
    evaluation["test_data"]["confidence_intervals"] = (
        evaluation["test_data"]["confidence_intervals"].split("; no interval")[0] + "; recipes/hybrid_resolution.py for 128x128")

    plots = plots_dir(AFNO)
    for stale in ("rollout_error_256.png", "energy_spectrum_t50_256.png", "vorticity_t50_256.png"):
        (plots / stale).unlink(missing_ok=True)
    lines = {"this model": (times, results["128"]["per_step"]), "before (patches of the input grid)": (times, results["before"]["per_step"])}
    lines |= {label: (times, peer_entries[label][128][1]["relative_l2"]) for label in peer_entries}
    plot_curves(lines, plots / "rollout_error_128.png", xlabel="t", ylabel="relative L2 error",
                title="Rollout error at 128x128 (zero-shot)", logy=True)
    k, true_spectrum = kinetic_energy_spectrum(sets["128"][:, -1].double())
    spectra = {"truth (solver)": (k[1:].tolist(), true_spectrum.mean(0)[1:].tolist()),
               "this model": (k[1:].tolist(), results["128"]["spectrum"][1:]),
               "before (patches of the input grid)": (k[1:].tolist(), results["before"]["spectrum"][1:])}
    plot_curves(spectra, plots / "energy_spectrum_t50_128.png", xlabel="wavenumber k", ylabel="E(k)",
                title="Kinetic energy spectrum at t = 50, 128x128", logx=True, logy=True)
    sample, truth = results["128"]["sample"], sets["128"][0, -1]
    plot_fields({"truth": truth, "AFNO transformer": sample, "error": sample - truth},
                plots / "vorticity_t50_128.png", title="Vorticity at t = 50, 128x128")

    metadata = read_config(directory)["metadata"]
    metadata["limitations"] = [item for item in metadata["limitations"] if not item.startswith("Its patch")] + [
        embed_grid_limitation(results["128"]["mean"], first["mean"], before=results["before"]["mean"]) + " embed_grid was set at publication (recipes/hybrid_resolution.py): training used patches of the "
        "32x32 and 64x64 grids themselves, and the weights are those of that training, unchanged.",
    ]
    publish(AFNO, this, metadata=metadata, evaluation=evaluation)
    list(write_pretrained_cards({AFNO: directory}))
    print(f"published pretrained/{AFNO}")


if __name__ == "__main__":
    main()
