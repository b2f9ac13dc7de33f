"""recipes/kolmogorov_markov.py: the long rollout (resume, blow-up), the splits, and --quick end to end."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from zoo.data.fields import FieldData
from zoo.eval.spectra import kinetic_energy

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def load():
    sys.path.insert(0, str(RECIPES))
    try:
        spec = importlib.util.spec_from_file_location("kolmogorov_markov", RECIPES / "kolmogorov_markov.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(RECIPES))


class Advect(nn.Module):
    """A damped shift: a deterministic map whose rollout stays finite."""

    def forward(self, u):
        return 0.99 * torch.roll(u, 1, dims=-1) + 0.01 * torch.roll(u, 1, dims=-2)


class Double(nn.Module):
    def forward(self, u):
        return 2 * u


def initial_states(n=3, size=16):
    return torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(0))


def test_an_interrupted_rollout_resumes_to_the_same_frames_and_energies(tmp_path):
    markov = load()
    u0 = initial_states()
    whole = markov.long_rollout(Advect(), u0, 30, tmp_path / "whole", energy_limit=1e9, save_every=3, checkpoint_every=6, progress=False)
    markov.long_rollout(Advect(), u0, 12, tmp_path / "parts", energy_limit=1e9, save_every=3, checkpoint_every=6, progress=False)
    resumed = markov.long_rollout(Advect(), u0, 30, tmp_path / "parts", energy_limit=1e9, save_every=3, checkpoint_every=6, progress=False)
    assert whole["frames"].shape == (3, 11, 16, 16)
    assert torch.equal(whole["frames"], resumed["frames"]) and torch.equal(whole["energy"], resumed["energy"])
    # Frame j is the state after 3 j steps, computed directly.
    state = u0
    for _ in range(9):
        state = Advect()(state)
    assert torch.allclose(whole["frames"][:, 3], state[:, 0])
    assert torch.allclose(whole["energy"][:, 9], kinetic_energy(state[:, 0], length=2 * math.pi).double())
    assert whole["blow_up"].tolist() == [-1, -1, -1]


def test_blow_up_is_the_first_step_past_the_energy_limit(tmp_path):
    markov = load()
    u0 = initial_states()
    e0 = kinetic_energy(u0[:, 0], length=2 * math.pi).double()
    # Energy grows 4x a step: trajectory i blows up at the first s with 4^s E_i > the limit.
    limit = 10 * float(e0.min())
    result = markov.long_rollout(Double(), u0, 6, tmp_path / "r", energy_limit=limit, save_every=1, checkpoint_every=3, progress=False)
    limit_steps = [next(s for s in range(1, 7) if 4**s * float(e) > limit) for e in e0]
    assert 2 in limit_steps
    assert result["blow_up"].tolist() == limit_steps
    for i, step in enumerate(limit_steps):
        assert torch.isfinite(result["energy"][i, :step]).all() and torch.isnan(result["energy"][i, step:]).all()
        assert torch.isnan(result["frames"][i, step:]).all() and torch.isfinite(result["frames"][i, :step]).all()


def test_training_and_validation_trajectories_are_disjoint():
    markov = load()
    data = FieldData(torch.arange(100.0).view(100, 1, 1, 1, 1).expand(100, 2, 1, 2, 2).contiguous(), ["w"], torch.arange(2.0))
    train, validation = markov.splits(data)
    train_ids = set(train.trajectories[:, 0, 0, 0, 0].tolist())
    validation_ids = set(validation.trajectories[:, 0, 0, 0, 0].tolist())
    assert len(validation_ids) == 10 and len(train_ids) == 90 and not train_ids & validation_ids


def test_quick_runs_every_stage_end_to_end(tmp_path):
    markov = load()
    work, images = tmp_path / "work", tmp_path / "images"
    results = markov.main(["--quick", "--data", str(tmp_path / "data"), "--work", str(work), "--images", str(images)])
    assert set(results["models"]) == {"baseline", "stabilised"}
    for name, entry in results["models"].items():
        assert entry["rollout_steps"] == 40 and len(entry["blow_up_step"]) == 2
        assert len(entry["short_time_relative_l2"]["mean"]) == 12
        assert entry["goals"]["speed_up"]["value"] > 0
        assert (work / "runs" / name / "model" / "model.safetensors").is_file()
    assert json.loads((work / "report.json").read_text())["models"].keys() == results["models"].keys()
    assert all((images / f"markov-{name}.png").is_file() for name in ("energy-long", "energy-early", "error", "spectrum", "pdf"))


def test_attractor_distances_of_a_scaled_flow_are_the_exact_ones():
    # Scaling the vorticity by a scales E(k) and nu <w^2> by a^2, moves every value by (a - 1) |w|
    # (so W1 = (a - 1) <|w|> / std) and leaves the energy's correlation time as it is.
    markov = load()
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(2, 9, 16, 16, generator=g, dtype=torch.float64)
    energy = torch.rand(2, 81, generator=g, dtype=torch.float64) + torch.linspace(0, 3, 81, dtype=torch.float64).sin()
    same, _, _ = markov.attractor_distances(frames, energy, frames, energy, 10)
    assert same["spectrum_max_relative_error"] == 0 and same["pdf_wasserstein_1_over_std"] == 0
    assert same["dissipation_relative_error"] == 0 and same["correlation_time_relative_error"] == 0
    scaled, _, _ = markov.attractor_distances(1.1 * frames, 1.21 * energy, frames, energy, 10)
    assert scaled["spectrum_relative_error_per_shell"] == pytest.approx([0.21] * 4, rel=1e-9)
    assert scaled["dissipation_relative_error"] == pytest.approx(0.21, rel=1e-9)
    assert scaled["pdf_wasserstein_1_over_std"] == pytest.approx(0.1 * float(frames.abs().mean() / frames.std()), rel=1e-9)
    assert scaled["correlation_time_relative_error"] == pytest.approx(0, abs=1e-12)
