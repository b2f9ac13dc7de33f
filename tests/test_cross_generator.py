"""Each NS checkpoint on data nobody in zoo generated (issue 18, item 4).

The sample (tests/data/ns2d_fno_generator, README there) comes from a port of the FNO authors'
float32 generator. Its data differs from zoo's solver by ``SOLVER_DIFFERENCE`` even from the same
initial fields, so a model's error on it is at most, by the triangle inequality, its error on
zoo's data plus that difference: for the most accurate checkpoint (the FNO, 0.0091 published)
that is 0.0091 + 0.0176 = 2.9x its published figure, hence ``FACTOR`` = 3 for every checkpoint
(measured: FNO 1.96x, AFNO transformer 1.16x, FNO-mixer transformer 1.48x as republished). A silent regression in
the data, the solver or the weights that doubles an error shows.
"""

import pytest
from cross_generator import generator_trajectories, rollout_errors, zoo_resolve

import zoo
from zoo.eval.rollout import rollout_metrics
from zoo.hub.schema import headline_metrics, read_evaluation
from zoo.hub.sources import PACKAGE_DIR

PRETRAINED = PACKAGE_DIR.parent / "pretrained"
CHECKPOINTS = ("fno-ns2d-nu1e-3", "afno-ns2d-nu1e-3", "transformer-fno-ns2d-nu1e-3")
SOLVER_DIFFERENCE = 0.01758  # t = 11..50, mean over the 4 trajectories (README)
FACTOR = 3.0


def test_sample_is_the_documented_one():
    vorticity = generator_trajectories()
    assert tuple(vorticity.shape) == (4, 51, 64, 64)
    assert 0.2 < float(vorticity[:, 0].std()) < 0.32  # the paper's law: std(w0) ~ 0.26 at 64x64


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_error_on_the_independent_generator_stays_within_a_factor_of_the_published_one(name):
    model = zoo.from_pretrained(PRETRAINED / name)
    published = headline_metrics(read_evaluation(PRETRAINED / name))["relative_l2"]
    error = float(rollout_errors(model, generator_trajectories()).mean())
    assert error <= FACTOR * published, f"{name}: {error:.4f} on the independent generator's data, published {published:.4f}"


@pytest.mark.slow
def test_zoo_solver_differs_from_the_independent_generator_as_documented():
    theirs = generator_trajectories()
    difference = float(rollout_metrics(theirs[:, 11:], zoo_resolve(theirs)[:, 11:])["relative_l2"].mean())
    assert difference == pytest.approx(SOLVER_DIFFERENCE, rel=0.02)
