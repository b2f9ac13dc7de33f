"""recipes/kolmogorov_pino.py: disjoint splits, windows spread over trajectories, the window layout."""

import importlib.util
import sys
from pathlib import Path

import torch

from zoo.data.generate import sample_seed

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def load(name):
    sys.path.insert(0, str(RECIPES))
    try:
        spec = importlib.util.spec_from_file_location(name, RECIPES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(RECIPES))


def test_splits_share_no_sample_with_each_other_or_with_the_markov_sets():
    pino, markov = load("kolmogorov_pino"), load("kolmogorov_data")
    seeds = {}
    for name, (seed, samples) in pino.SPLITS.items():
        seeds[f"pino-{name}"] = {sample_seed(seed, i) for i in range(samples)}
    for name, (seed, _, _) in markov.DATA_SETS.items():
        seeds[name] = {sample_seed(seed, i) for i in range(markov.DEFAULT_SAMPLES[name])}
    names = sorted(seeds)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not seeds[a] & seeds[b], (a, b)


def test_the_first_labelled_windows_come_from_as_many_trajectories_as_possible():
    pino = load("kolmogorov_pino")
    order = pino.spread_order(64)
    assert sorted(order) == list(range(64))
    assert len({index // pino.WINDOWS_PER_TRAJECTORY for index in order[:8]}) == 8
    assert len({index // pino.WINDOWS_PER_TRAJECTORY for index in order[:16]}) == 8


def test_relative_l2_skips_the_input_frame_and_is_per_window():
    pino = load("kolmogorov_pino")
    truth = torch.randn(3, 5, 8, 8)
    prediction = truth.clone()
    prediction[:, 0] += 100.0  # the first frame is the input: not scored
    prediction[1, 1:] *= 1.5
    errors = pino.relative_l2(prediction, truth)
    torch.testing.assert_close(errors, torch.tensor([0.0, 0.5, 0.0]))
