"""Continue training the published NS hybrid at 64x64 to close its gap to the FNO (#18 item 2).

    python recipes/hybrid_accuracy.py train [--threads 1]     # resumable: runs/transformer-fno-ns2d-nu1e-3/fine-3 .. fine-6
    python recipes/hybrid_accuracy.py evaluate [--threads 1]  # the continued model; the published one's and the FNO's figures
    python recipes/hybrid_accuracy.py publish [--threads 1]   # republish it (only if better than the published weights)
    python recipes/hybrid_accuracy.py baselines               # its figures into the FNO and AFNO cards' comparisons (publish does it)

``transformer-fno-ns2d-nu1e-3`` (1.12M parameters) scored 0.0152 at 64x64 against the FNO's 0.0091
(926k parameters): 1.67x, where issue 18 asks for at most 1.3x at the same parameter budget. Both
trained through the same stages of ``recipes/ns2d.py``: 22,000 one-step steps on the 32x32 grid
and 600 on 64x64. For the FNO the 32x32 steps train the operator it is evaluated with (its
weights are per Fourier mode, the same on any grid). For the hybrid they do not: its 2x2 patches
were taken from the input grid's own points (``embed_grid`` came later, at publication), so at
32x32 a token covered twice the width it covers at 64x64, the same change of grid that cost it
4.3x at 128x128 (BENCHMARKS.md). Only its 600 steps at 64x64 trained the model that is scored.

This recipe continues from the published weights (which are those of the last stage,
``fine-2``) with more stages on the 64x64 grid, ``STAGES``, each on the first ``SAMPLES[stage]``
trajectories of the same training set (seed 0; regenerate them with ``zoo data generate ns2d --viscosity 1e-3
--steps 50 --resolution 64 --samples 250 --seed 0 --shard-size 25 data/ns2d-nu1e-3/train``;
per-sample seeds make them the first trajectories of the 500 used before, whatever the total).

``evaluate`` scores the continued model on the 100 held-out 64x64 trajectories (seed 1) and on
the first 32 of them Fourier-interpolated to 128x128 (the protocol of
``recipes/hybrid_resolution.py``), with 95% bootstrap intervals, and writes
``evaluation.json`` in the last stage's run folder. ``publish`` republishes the checkpoint with its
new stages and figures when its 64x64 error is below the published one's, and the card says
whether it is within ``GOAL`` of the FNO's and, if not, why (its conformal bands, calibrated for
the old weights, are dropped: rerun ``recipes/calibrated_bands.py`` for it).
"""

from __future__ import annotations

import argparse
import json

import torch
from common import plots_dir, run_dir, train
from common import publish as publish_checkpoint
from confidence_intervals import cross_generator_section
from hybrid_resolution import DIRECTORY, NAME, ZERO_SHOT_SAMPLES, embed_grid_limitation, entry, scores, stored, summary, test_sets
from ns2d import BATCH_SIZE, DATA, FIRST_FRAME, HISTORY, Stage

from zoo.data import TimeWindows, load_fields
from zoo.eval import kinetic_energy_spectrum, plot_curves, plot_fields
from zoo.eval.speed import ns2d_operator_vs_solver
from zoo.files import atomic_write_text
from zoo.hub import from_pretrained
from zoo.hub.cards import write_pretrained_cards
from zoo.hub.schema import read_config, read_evaluation
from zoo.train import TrainConfig
from zoo.train.objectives import Autoregressive

# One-step (teacher-forced) stages: the gap is in the one-step error, which these lower on held-out
# data (BENCHMARKS.md, "Closing the hybrid's gap to the FNO"), at half the cost of a 2-step unroll.
STAGES = (
    Stage("fine-3", 800, subsample=1, unroll=1, lr=3e-4, warmup_steps=50),
    Stage("fine-4", 1000, subsample=1, unroll=1, lr=2e-4, warmup_steps=50),  # after fine-3 scored 1.58x the FNO
    Stage("fine-5", 1000, subsample=1, unroll=1, lr=1.5e-4, warmup_steps=50),  # after fine-4 scored 1.52x
    # After fine-5 scored 1.45x (0.01313), each stage having taken 4-5% off: not run yet (session 4 ended).
    Stage("fine-6", 2000, subsample=1, unroll=1, lr=1e-4, warmup_steps=50),
)
# Training trajectories per stage, of the 500 used before: what this session had regenerated when each began.
SAMPLES = {"fine-3": 100, "fine-4": 250, "fine-5": 250, "fine-6": 250}
GOAL = 1.3  # issue 18: the hybrid's 64x64 error at most 1.3x the FNO's
RUN = f"{NAME}/{STAGES[-1].name}"


def train_stages() -> dict:
    """Train ``STAGES`` in turn from the published weights (a finished stage resumes to its end at once);
    returns each stage's compute ledger."""
    model = from_pretrained(DIRECTORY).train()
    ledgers = {}
    for stage in STAGES:
        data = load_fields(DATA / "train", samples=(0, SAMPLES[stage.name])).select(times=slice(FIRST_FRAME, None))
        config = TrainConfig(
            max_steps=stage.steps, warmup_steps=stage.warmup_steps, lr=stage.lr, batch_size=BATCH_SIZE, weight_decay=1e-4,
            schedule="cosine", min_lr_factor=0.05, grad_clip=1.0, log_every=25, checkpoint_every=50, seed=0,
            compile="off",  # compiling on the shared 2-core machine takes minutes the run cannot repay
        )
        ledgers[stage.name] = train(f"{NAME}/{stage.name}", model, TimeWindows(data, history=HISTORY, horizon=stage.unroll),
                                    config, resume=True, objective=Autoregressive(HISTORY, teacher_forcing=False))
        model.train()
    return ledgers


def continued_model() -> torch.nn.Module:
    return from_pretrained(run_dir(RUN) / "model")


def evaluate() -> dict:
    """Score the continued model; the published one's and the FNO's figures on these sets are on the card."""
    sets = test_sets()
    model = continued_model()
    results: dict = {}
    for key, truth in sets.items():
        r = scores(model, truth)
        results[key] = {k: r[k] for k in ("mean", "interval", "samples", "per_step", "spectrum")} | {"per_sample": r["per_sample"].tolist()}
        if key == "64":
            first = summary(r["per_sample"][:ZERO_SHOT_SAMPLES])
            results["128 at 64"] = {"mean": first["mean"], "interval": first["interval"], "samples": first["samples"]}
    card = read_evaluation(DIRECTORY)
    fno64 = stored(card, 64, "FNO")[0]["metrics"]["relative_l2"]
    published = {g: stored(card, g)[0] for g in (64, 128)}
    for key, r in results.items():
        print(f"continued {key:>9}: {r['mean']:.5f} {r['interval']} ({r['samples']} trajectories)", flush=True)
    for g, entry in published.items():
        print(f"published {g:>9}: {entry['metrics']['relative_l2']:.5f} {entry['intervals']['relative_l2']} ({entry['samples']} trajectories)")
    print(f"64x64 against the FNO's {fno64:.5f}: {results['64']['mean'] / fno64:.2f}x (goal <= {GOAL}); "
          f"128/64 on the same {ZERO_SHOT_SAMPLES} trajectories: {results['128']['mean'] / results['128 at 64']['mean']:.2f}")
    results["fno 64"] = fno64
    atomic_write_text(run_dir(RUN) / "evaluation.json", json.dumps(results, indent=1))
    return results


def publish() -> None:
    """Republish the hybrid with the continued weights, if ``evaluate`` found it within ``GOAL`` of the FNO."""
    results = json.loads((run_dir(RUN) / "evaluation.json").read_text())
    this64, this128, first = results["64"], results["128"], results["128 at 64"]
    ratio = this64["mean"] / results["fno 64"]
    before = stored(read_evaluation(DIRECTORY), 64)[0]["metrics"]["relative_l2"]
    if this64["mean"] >= before:
        raise SystemExit(f"not published: the 64x64 error {this64['mean']:.5f} is no better than the published {before:.5f}")
    model = continued_model()
    sets = test_sets()
    evaluation = read_evaluation(DIRECTORY)
    evaluation["resolutions"] = [entry(64, this64), entry(128, this128)]
    times = list(range(HISTORY + 1, HISTORY + 1 + len(this64["per_step"])))
    own = [{"grid": [g, g], "times": times, "relative_l2": [round(v, 5) for v in results[str(g)]["per_step"]]} for g in (64, 128)]
    evaluation["rollout"] = own + [c for c in evaluation["rollout"] if "model" in c]
    fno128 = stored(evaluation, 128, "FNO")[0]["metrics"]["relative_l2"]
    evaluation["test_data"]["description"] = (
        f"held-out trajectories from zoo's generator: 100 at 64x64 (seed 1) and, for zero-shot, the first {ZERO_SHOT_SAMPLES} of "
        "them Fourier-interpolated to 128x128 (a 128x128 solve differs from them by at most 1.2e-4, BENCHMARKS.md). On those "
        f"{ZERO_SHOT_SAMPLES} trajectories at 64x64 this model scores {first['mean']:.4f} {first['interval']}, so its zero-shot "
        f"ratio 128/64 on the same trajectories is {this128['mean'] / first['mean']:.2f} (FNO {fno128:.4f} at 128x128). "
        f"Before the 64x64 stages {', '.join(stage.name for stage in STAGES)} the checkpoint scored 0.01516 [0.01426, 0.01608] "
        "at 64x64 and 0.01504 [0.01331, 0.01689] at 128x128 (recipes/hybrid_resolution.py, recipes/hybrid_accuracy.py)."
    )
    evaluation["test_data"]["confidence_intervals"] = evaluation["test_data"]["confidence_intervals"].split(";")[0] + "; recipes/hybrid_accuracy.py"
    evaluation["speed"] = [ns2d_operator_vs_solver(model, sets["64"][:10], history=HISTORY, viscosity=1e-3, dt=0.01)]
    evaluation["cross_generator"] = cross_generator_section(model, torch.tensor(this64["per_sample"]))
    # Its bands were calibrated for the weights before fine-3: recalibrate with recipes/calibrated_bands.py.
    evaluation.pop("uncertainty", None)
    (plots_dir(NAME) / "conformal_coverage_per_step.png").unlink(missing_ok=True)

    directory = plots_dir(NAME)
    for g in (64, 128):
        curves = {"this model": (times, results[str(g)]["per_step"]), "before fine-3": (times, stored(read_evaluation(DIRECTORY), g)[1]["relative_l2"])}
        curves |= {c["model"]: (times, c["relative_l2"]) for c in evaluation["rollout"] if c.get("model") and c["grid"] == [g, g]}
        plot_curves(curves, directory / f"rollout_error_{g}.png", xlabel="t", ylabel="relative L2 error",
                    title=f"Rollout error at {g}x{g}" + (" (zero-shot)" if g != 64 else ""), logy=True)
        k, true_spectrum = kinetic_energy_spectrum(sets[str(g)][:, -1].double())
        plot_curves({"truth (solver)": (k[1:].tolist(), true_spectrum.mean(0)[1:].tolist()),
                     "this model": (k[1:].tolist(), results[str(g)]["spectrum"][1:])},
                    directory / f"energy_spectrum_t50_{g}.png", xlabel="wavenumber k", ylabel="E(k)",
                    title=f"Kinetic energy spectrum at t = 50, {g}x{g}", logx=True, logy=True)
        with torch.no_grad():
            sample = model.rollout(sets[str(g)][:1, :HISTORY], sets[str(g)].shape[1] - HISTORY)[0, -1]
        truth = sets[str(g)][0, -1]
        plot_fields({"truth": truth, "FNO-mixer transformer": sample, "error": sample - truth},
                    directory / f"vorticity_t50_{g}.png", title=f"Vorticity at t = 50, {g}x{g}")

    metadata = read_config(DIRECTORY)["metadata"]
    training = metadata["training"]
    training["recipe"] = "python recipes/ns2d.py transformer-fno; python recipes/hybrid_accuracy.py train"
    training["stages"] = [*training["stages"][:4], *(f"{stage.describe()}, the first {SAMPLES[stage.name]} training "
                                                      "trajectories, from the published weights" for stage in STAGES)]
    training["compute"] |= {stage.name: json.loads((run_dir(f"{NAME}/{stage.name}") / "compute.json").read_text()) for stage in STAGES}
    steps = sum(c["steps"] for c in training["compute"].values())
    metadata["limitations"] = [
        f"Trained on 500 trajectories (the FNO paper: 1000) for {steps:,} steps of batch {BATCH_SIZE}, mostly one-step windows "
        f"on the 32x32 grid, then {sum(stage.steps for stage in STAGES)} one-step steps at 64x64 (stages "
        f"{', '.join(stage.name for stage in STAGES)}; the paper: 500 epochs of full "
        f"rollouts); compute-limited, see training.compute. Relative L2 {this64['mean']:.4f} at 64x64, {ratio:.2f}x the FNO's "
        "(fno-ns2d-nu1e-3) on the same trajectories, against the paper's FNO-2D 0.0128 on its own data.",
        f"Issue 18's goal, at most {GOAL}x the FNO's 64x64 error at the same parameter budget (1.12M parameters against the "
        f"FNO's 0.93M), is {'met' if ratio <= GOAL else 'missed'}: {ratio:.2f}x. "
        + ("" if ratio <= GOAL else
           "Why (BENCHMARKS.md, 'Why the hybrid trails the FNO at 64x64'): its one-step error is the gap, and it grows late in "
           "the flow; a quarter of that error's energy lay at wavenumbers 8-12, beyond the mixer's 8 modes per axis, where the FNO "
           "keeps 12; and most of its training ran on the 32x32 grid with grid-tied patches, a neighbouring operator. The "
           f"64x64 stages took 5, 4, 5 and 2.4% off, levelling off ({', '.join(stage.name for stage in STAGES)}); a retrain with 12 "
           "mixer modes at 64x64 is the next experiment."),
        *[item for item in metadata["limitations"][1:] if not item.startswith("Its 2x2 patches")],
        embed_grid_limitation(this128["mean"], first["mean"]) + " The stages on the "
        "32x32 grid used patches of that grid's own points (embed_grid came later), which cover twice the width: they trained "
        "a neighbouring operator, which is why the 64x64 stages matter for this model and not for the FNO.",
    ]
    publish_checkpoint(NAME, model, metadata=metadata, evaluation=evaluation)
    list(write_pretrained_cards({NAME: DIRECTORY}))
    print(f"published pretrained/{NAME}: {this64['mean']:.5f} at 64x64 ({ratio:.2f}x the FNO's)")


LABEL = "FNO-mixer transformer"  # the hybrid's name in the other NS cards' baselines and rollout curves


def sync_baselines() -> list[str]:
    """Put the published hybrid's figures into the other NS cards' ``FNO-mixer transformer`` entries.

    An entry on a test set the hybrid's own card has (64x64: the 100 held-out trajectories; 128x128:
    the first 32 of them Fourier-interpolated) takes its figure, interval and rollout curve; an
    entry on another set (the FNO card's 20 trajectories solved at 256x256, not regenerated) is
    dropped, with its curve, since it scored the weights before. Returns the cards changed.
    """
    own = read_evaluation(DIRECTORY)
    figures = {(r["grid"][0], r["samples"]): r for r in own["resolutions"]}
    curves = {c["grid"][0]: c for c in own["rollout"] if "model" not in c}
    changed = []
    for other in ("fno-ns2d-nu1e-3", "afno-ns2d-nu1e-3"):
        directory = DIRECTORY.parent / other
        evaluation = read_evaluation(directory)
        for baseline in (b for b in evaluation.get("baselines", []) if b["name"] == LABEL):
            baseline["resolutions"] = [figures[key] | {"zero_shot": r["zero_shot"]} for r in baseline["resolutions"]
                                       if (key := (r["grid"][0], r["samples"])) in figures]
            grids = {r["grid"][0] for r in baseline["resolutions"]}
            evaluation["rollout"] = [c for c in evaluation["rollout"] if c.get("model") != LABEL] + [
                {"model": LABEL, **{k: curves[g][k] for k in ("grid", "times", "relative_l2")}} for g in sorted(grids) if g in curves]
        description = evaluation["test_data"]["description"]
        description = description.replace(", FNO-mixer transformer 0.0161", "")  # the old weights' figure on the 256x256-solved set
        description = description.replace("FNO-mixer transformer (0.0150)", f"FNO-mixer transformer ({figures[(128, 32)]['metrics']['relative_l2']:.4f})")
        stale = (" The plots' FNO-mixer transformer curves are of its weights before fine-3 (0.0152 at 64x64); the tables and "
                 "the rollout table carry the republished figures.")
        evaluation["test_data"]["description"] = description.replace(stale, "") + stale
        atomic_write_text(directory / "evaluation.json", json.dumps(evaluation, indent=2) + "\n")
        changed.append(other)
    list(write_pretrained_cards({name: DIRECTORY.parent / name for name in changed}))
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["train", "evaluate", "publish", "baselines"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.command == "train":
        print(train_stages())
    elif args.command == "evaluate":
        evaluate()
    elif args.command == "publish":
        publish()
        print(f"baselines updated in: {', '.join(sync_baselines())}")
    else:
        print(f"baselines updated in: {', '.join(sync_baselines())}")


if __name__ == "__main__":
    main()
