"""recipes/pretrain_multiphysics.py: exact resume, state size, growing corpus, per-system evaluation."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from zoo.data.generate import generate
from zoo.data.equations import navier_stokes_recipe
from zoo.hub import load_checkpoint

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "pretrain_multiphysics.py"
TINY = '{"width": 8, "depth": 1, "modes": 3, "groups": 1, "context": 2}'


@pytest.fixture(scope="module")
def recipe():
    spec = importlib.util.spec_from_file_location("pretrain_multiphysics", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ns(diffusivity=None):
    return navier_stokes_recipe(viscosity=1e-3, resolution=16, steps=12, record_every=0.25, diffusivity=diffusivity)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for split, seed in (("train", 1), ("val", 2)):
        generate(root / "ns" / split, ns(), samples=2, seed=seed, shard_size=2, progress=False)
    generate(root / "scalar" / "train", ns(1e-3), samples=2, seed=3, shard_size=2, progress=False)
    return root


def run(recipe, corpus, state, *extra):
    args = ["--corpus", str(corpus), "--state", str(state), "--resolution", "8", "--batch-size", "3", "--model", TINY,
            "--warmup-steps", "2", "--total-steps", "12", "--checkpoint-every", "2", "--eval-every", "4", "--no-progress", *extra]
    return recipe.main(args)


def weights(state):
    return load_file(state / "current" / "model" / "model.safetensors")


def test_a_run_stopped_and_resumed_ends_with_the_same_weights(recipe, corpus, tmp_path):
    run(recipe, corpus, tmp_path / "straight", "--systems", "ns", "scalar", "--max-steps", "8")
    run(recipe, corpus, tmp_path / "resumed", "--systems", "ns", "scalar", "--max-steps", "3")  # a checkpoint at 2, then the step-3 one
    # as after a kill -9 while the step-5 state was being written: a staging directory and the step-3 state
    (tmp_path / "resumed" / ".current.x1.tmp" / "current").mkdir(parents=True)
    info = run(recipe, corpus, tmp_path / "resumed", "--systems", "ns", "scalar", "--max-steps", "8")
    assert info["step"] == 8
    assert not list((tmp_path / "resumed").glob(".current.*"))
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    moments = load_file(tmp_path / "resumed" / "current" / "optimizer.safetensors")
    assert {k.split("/")[-1] for k in moments} == {"step", "exp_avg", "exp_avg_sq"}
    records = [json.loads(line) for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 3, 4, 6, 8]
    assert set(records[2]["val"]) == {"ns"}  # validation per system that has a val split


def test_new_systems_and_new_fields_join_on_resume(recipe, corpus, tmp_path):
    run(recipe, corpus, tmp_path / "s", "--systems", "ns", "--max-steps", "2")
    model = load_checkpoint(tmp_path / "s" / "current" / "model")
    assert model.fields == ["vorticity"]
    info = run(recipe, corpus, tmp_path / "s", "--max-steps", "4")  # discovers "scalar", a new field
    grown = load_checkpoint(tmp_path / "s" / "current" / "model")
    assert grown.fields == ["vorticity", "scalar"] and info["systems"] == ["ns", "scalar"]
    torch.testing.assert_close(grown.field_std[:1], model.field_std)


def test_evaluation_reports_rollout_and_persistence_per_system(recipe, corpus):
    from zoo.data.multiphysics import load_system
    from zoo.models.multiphysics import MultiphysicsOperator

    system = load_system(corpus / "ns" / "val")
    model = MultiphysicsOperator(["vorticity"], context=2, width=8, depth=1, modes=3, groups=1)
    with torch.no_grad():
        model.decoder_weight.zero_()  # a persistence model
    result = recipe.evaluate_systems(model, [system], steps=3)["ns"]
    assert len(result["per_step"]) == 3
    assert result["one_step"] == pytest.approx(result["persistence_one_step"], rel=1e-4)
    assert result["step_3"] == pytest.approx(result["persistence_step_3"], rel=1e-4)


def test_publish_writes_a_loadable_checkpoint_with_per_system_errors(recipe, corpus, tmp_path):
    state = tmp_path / "state"
    run(recipe, corpus, state, "--max-steps", "2")
    generate(corpus / "scalar" / "test", ns(1e-3), samples=2, seed=9, shard_size=2, progress=False)
    generate(corpus / "ns" / "test", ns(), samples=2, seed=8, shard_size=2, progress=False)
    out = tmp_path / "published"
    result = recipe.main(["--corpus", str(corpus), "--state", str(state), "--publish", "tiny-mp", "--publish-to", str(out)])
    model = load_checkpoint(out)
    assert model.fields == ["vorticity", "scalar"] or set(model.fields) == {"vorticity", "scalar"}
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert [e["grid"] for e in evaluation["resolutions"]] == [[8, 8], [16, 16]]
    assert {curve["model"] for curve in evaluation["rollout"]} == {"ns", "scalar"}
    assert (out / "plots" / "rollout_error_per_system.png").is_file()
    card = (out / "README.md").read_text()
    assert "persistence" in card and "scalar" in card
    assert result["results"][16]["ns"]["trajectories"] == 2
