"""Conformal prediction bands for any operator and any rollout: coverage that holds by construction.

Split conformal prediction (Vovk et al. 2005; Angelopoulos & Bates 2021, "A gentle introduction to
conformal prediction") turns held-out errors into bands: the nonconformity score of a calibration
function at a point is ``|truth - prediction| / width``, where ``width`` is ``1`` or the output of a
second operator trained to predict the size of the error (UQNO: Ma, Pitt, Azizzadenesheli &
Anandkumar 2024, "Calibrated uncertainty quantification for operator learning via conformal
prediction"). A quantile ``lambda`` of the calibration scores gives the band
``prediction +- lambda * width``. Scores are grouped by ``per`` (rollout step, channel, grid point):
each group gets its own ``lambda``, so a band widens with the rollout step as the error does.

Two guarantees, both under one assumption: **the calibration functions and the test function are
exchangeable** (e.g. drawn independently from one distribution of initial conditions or
coefficients; the model and the width model trained on other data). Neither holds under a shift
of that distribution (another viscosity, forcing or resolution): recalibrate on data from the new one.

* ``mode="pointwise"`` (marginal): for a new function and a grid point drawn uniformly from a group,
  ``P(truth inside the band) >= level``. The score of every calibration point of a group is pooled
  and ``lambda`` is the ``ceil(level * (n + 1) * P)``-th smallest of the ``n * P`` pooled scores
  (``n`` functions, ``P`` points per function in the group). Points of one function are dependent, so
  the finite-sample correction counts functions, not points: the new function's fraction of covered
  points has expectation ``>= level`` because its score distribution is exchangeable with the
  ``n`` others' (the pooled quantile at level ``level (n + 1) / n`` of ``n`` functions bounds the one at
  ``level`` of ``n + 1``). With ``P = 1`` (``per`` containing ``"point"``) this is the classical
  ``ceil((n + 1)(1 - alpha)) / n`` quantile. The price of not knowing how dependent a function's
  points are is over-coverage: for continuous scores the expected coverage lies between
  ``level`` (points of a function fully dependent: then ``< level + 1 / (n + 1)``) and
  ``level (n + 1) / n`` (independent points: the band is the score distribution's quantile at that
  level), i.e. up to ``level / n`` above nominal: 1.8 points at 90% with 50 functions, 0.9 with 100.
  On top comes the spread between calibration sets, also shrinking like ``1 / sqrt(n)`` (functions,
  not points, are the samples). Use ``n >= 100`` where 2 points matter.
* ``mode="domain"`` (UQNO's guarantee, their Theorem 3.2 on a fixed grid): with probability
  ``>= 1 - delta`` over the calibration set, a fraction ``>= level`` of the new function's grid points
  in each group lies inside the band. For each calibration function, ``s_i`` is the
  ``ceil(level * P)``-th smallest of its ``P`` scores in the group (the smallest band holding a
  fraction ``level`` of its domain); ``lambda`` is the ``ceil((1 - delta)(n + 1))``-th smallest of
  the ``s_i``. The domain is the grid: for the continuum, UQNO lowers ``alpha`` further to account
  for the sampled points.

Needed calibration functions: ``n >= level / (1 - level)`` (pointwise) or ``(1 - delta) / delta``
(domain); with fewer, no finite quantile has the guarantee.

Layouts: a time stepper (a model with ``history``, ``channels`` and ``rollout``) is calibrated on
trajectories ``(N, T, C, *spatial)``: frames ``0..history-1`` are the context, the rest the rollout
targets; a one-step map (any ``model(inputs) -> outputs``) on pairs ``(inputs (N, C_in, *spatial),
targets (N, C_out, *spatial))``. Internally both are ``(N, S, C, *spatial)`` with ``S = 1`` steps
for a one-step map.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import torch
from einops import rearrange
from torch import nn

from zoo.eval.uncertainty import gaussian_correlation_ceiling
from zoo.models.time_stepper import is_time_stepper

MODES = ("pointwise", "domain")
GROUP_AXES = ("step", "channel", "point")  # axes 1, 2 and 3.. of scores (N, S, C, *spatial)



def _check_probability(value: float, name: str) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")


def _group_dims(per: Sequence[str], ndim: int) -> list[int]:
    """Axes of scores ``(N, S, C, *spatial)`` that are *not* grouped, i.e. pooled within a group."""
    unknown = sorted(set(per) - set(GROUP_AXES))
    if unknown:
        raise ValueError(f"per={list(per)} names unknown axes {unknown}; choose from {list(GROUP_AXES)}")
    pooled = []
    if "step" not in per:
        pooled.append(1)
    if "channel" not in per:
        pooled.append(2)
    if "point" not in per:
        pooled.extend(range(3, ndim))
    return pooled


def _pooled_last(scores: torch.Tensor, pooled: list[int]) -> torch.Tensor:
    """``scores (N, ...)`` with the pooled axes flattened last: ``(N, *grouped, P)``; grouped axes keep their place."""
    kept = [d for d in range(1, scores.ndim) if d not in pooled]
    return scores.permute(0, *kept, *pooled).flatten(len(kept) + 1)


def _regroup(quantile: torch.Tensor, shape: torch.Size, pooled: list[int]) -> torch.Tensor:
    """``(*grouped)`` quantiles back to a tensor broadcastable against one function's scores ``shape[1:]``."""
    return quantile.reshape([1 if d in pooled else shape[d] for d in range(1, len(shape))])


def pointwise_quantile(scores: torch.Tensor, level: float, *, per: Sequence[str] = ("step", "channel")) -> torch.Tensor:
    """Split-conformal ``lambda`` per group for marginal coverage ``level`` (see the module docstring).

    Args:
        scores: ``(N, S, C, *spatial)`` nonconformity scores of ``N`` calibration functions.
        level: ``1 - alpha`` in (0, 1); needs ``N >= level / (1 - level)``.
        per: axes with their own ``lambda``: any of ``"step"``, ``"channel"``, ``"point"``.

    Returns:
        ``lambda``, broadcastable against ``scores.shape[1:]`` (size 1 along pooled axes).
    """
    _check_probability(level, "level")
    n = scores.shape[0]
    needed = math.ceil(level / (1 - level) - 1e-9)
    if n < needed:
        raise ValueError(
            f"a {level:g} band needs at least {needed} calibration functions, got {n}; pass more or lower the level"
        )
    pooled = _group_dims(per, scores.ndim)
    grouped = _pooled_last(scores, pooled).movedim(0, -2).flatten(-2)  # (*grouped, N * P)
    points = grouped.shape[-1] // n
    rank = min(math.ceil(level * (n + 1) * points - 1e-9), n * points)
    return _regroup(grouped.kthvalue(rank, dim=-1).values, scores.shape, pooled)


def domain_quantile(
    scores: torch.Tensor, level: float, delta: float, *, per: Sequence[str] = ("step", "channel")
) -> torch.Tensor:
    """UQNO's ``lambda`` per group: a fraction ``>= level`` of each new function's group inside, w.p. ``>= 1 - delta``.

    Args:
        scores: ``(N, S, C, *spatial)`` nonconformity scores of ``N`` calibration functions.
        level: the fraction ``1 - alpha`` of each function's domain to cover, in (0, 1).
        delta: the allowed probability of failure over calibration sets, in (0, 1); needs
            ``N >= (1 - delta) / delta``.
        per: ``"step"`` and/or ``"channel"``: the domain of a group is its grid points and the
            axes not named here (``"point"`` would leave a one-point domain: use ``pointwise_quantile``).

    Returns:
        ``lambda``, broadcastable against ``scores.shape[1:]``.
    """
    _check_probability(level, "level")
    _check_probability(delta, "delta")
    if "point" in per:
        raise ValueError("mode='domain' covers a fraction of each function's grid: drop 'point' from per")
    n = scores.shape[0]
    needed = math.ceil((1 - delta) / delta - 1e-9)
    if n < needed:
        raise ValueError(
            f"delta={delta:g} needs at least {needed} calibration functions, got {n}; pass more or raise delta"
        )
    pooled = _group_dims(per, scores.ndim)
    grouped = _pooled_last(scores, pooled)  # (N, *grouped, P)
    points = grouped.shape[-1]
    per_function = grouped.kthvalue(math.ceil(level * points - 1e-9), dim=-1).values  # (N, *grouped)
    rank = min(math.ceil((1 - delta) * (n + 1) - 1e-9), n)
    return _regroup(per_function.kthvalue(rank, dim=0).values, scores.shape, pooled)


@dataclasses.dataclass
class Predictions:
    """A model's predictions on data with known truth, in the common layout ``(N, S, C, *spatial)``.

    ``given`` is what the user supplied: a time stepper's context ``(N, history, C, *spatial)`` or a
    one-step map's inputs ``(N, C_in, *spatial)``. ``width`` is the width model's output, or ``None``.
    """

    mean: torch.Tensor
    truth: torch.Tensor
    given: torch.Tensor
    rollout: bool
    width: torch.Tensor | None = None

    @property
    def inputs(self) -> torch.Tensor:
        """What the model read for each prediction: ``(N, S, history * C, *spatial)`` windows of a
        time stepper's own rollout, or ``(N, 1, C_in, *spatial)`` inputs of a one-step map."""
        return rollout_windows(self.given, self.mean) if self.rollout else self.given[:, None]

    def scores(self) -> torch.Tensor:
        """Nonconformity scores ``|truth - mean| / width`` (``width`` 1 without a width model)."""
        error = (self.truth - self.mean).abs()
        return error if self.width is None else error / self.width


def _as_layout(model: nn.Module, data: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(context or inputs, truth (N, S, C, *spatial))`` from the user's layout, checked."""
    if is_time_stepper(model):
        if not isinstance(data, torch.Tensor):
            raise ValueError(f"{name} for a time stepper is one tensor (N, T, C, *spatial), got {type(data).__name__}")
        h, c = model.history, model.channels
        if data.ndim < 4 or data.shape[2] != c:
            raise ValueError(
                f"{name} must be trajectories (N, T, C={c}, *spatial) for this model, got shape {tuple(data.shape)}"
            )
        if data.shape[1] <= h:
            raise ValueError(f"{name} has {data.shape[1]} frames; need more than the model's history={h}")
        return data[:, :h], data[:, h:]
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(f"{name} for a one-step map is a pair (inputs (N, C_in, *spatial), targets (N, C_out, *spatial))")
    inputs, targets = data
    if inputs.shape[0] != targets.shape[0] or inputs.ndim != targets.ndim or inputs.ndim < 3:
        raise ValueError(
            f"{name} inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must be (N, C, *spatial) "
            "with one N and one number of axes"
        )
    return inputs, targets[:, None]


def rollout_windows(context: torch.Tensor, predictions: torch.Tensor) -> torch.Tensor:
    """The window each rollout step was predicted from.

    Args:
        context: ``(N, h, C, *spatial)`` true frames; predictions: ``(N, S, C, *spatial)``.

    Returns:
        ``(N, S, h * C, *spatial)``: window ``s`` holds frames ``s..s+h-1`` of context + predictions.
    """
    h, steps = context.shape[1], predictions.shape[1]
    frames = torch.cat([context, predictions], dim=1)
    return torch.stack([frames[:, s : s + h].flatten(1, 2) for s in range(steps)], dim=1)


@torch.no_grad()
def _widths(width_model: nn.Module, inputs: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """The width model on inputs ``(N, S, C_in, *spatial)``: positive widths of the predictions' ``shape``."""
    width = width_model(inputs.flatten(0, 1))
    if width.shape[1:] != shape[2:]:
        raise ValueError(
            f"the width model returns {tuple(width.shape[1:])} per input but the model predicts "
            f"{tuple(shape[2:])}: it must map the model's inputs to one width per output value"
        )
    if not bool(((width > 0) & torch.isfinite(width)).all()):
        raise ValueError("the width model returned non-positive or non-finite widths; it must predict |error| > 0")
    return width.view(shape)


def with_width(run: Predictions, width_model: nn.Module, *, batch_size: int = 20) -> Predictions:
    """``run`` with ``width_model``'s widths on the inputs its predictions were made from (no new rollout)."""
    parts = [
        _widths(width_model, dataclasses.replace(run, mean=mean, given=given).inputs, mean.shape)
        for mean, given in zip(run.mean.split(batch_size), run.given.split(batch_size))
    ]
    return dataclasses.replace(run, width=torch.cat(parts))


@torch.no_grad()
def _forward(
    model: nn.Module, given: torch.Tensor, steps: int, width_model: nn.Module | None, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Predictions ``(N, S, C, *spatial)`` from context or inputs ``given``, and the width model's output."""
    rollout = is_time_stepper(model)
    means, widths = [], []
    for chunk in given.split(batch_size):
        if rollout:
            mean = rearrange(model.rollout(chunk.flatten(1, 2), steps), "b (s c) ... -> b s c ...", c=model.channels)
        else:
            mean = model(chunk)[:, None]
        means.append(mean)
        if width_model is not None:
            widths.append(_widths(width_model, rollout_windows(chunk, mean) if rollout else chunk[:, None], mean.shape))
    width = torch.cat(widths) if widths else None
    return torch.cat(means), width


def predict(
    model: nn.Module, data: Any, *, width_model: nn.Module | None = None, batch_size: int = 20, name: str = "data"
) -> Predictions:
    """Run ``model`` (and ``width_model`` on the same inputs) over ``data`` in the user's layout.

    A time stepper is rolled out freely from the first ``history`` frames of each trajectory over the
    remaining ones; the width model then reads, at each step, the window the model predicted that
    step from (true context first, then the model's own frames). Models run under ``no_grad`` in
    the mode they are in (call ``.eval()`` first if they have dropout or batch norm).
    """
    given, truth = _as_layout(model, data, name)
    mean, width = _forward(model, given, truth.shape[1], width_model, batch_size)
    if mean.shape != truth.shape:
        raise ValueError(f"model predictions {tuple(mean.shape[1:])} and {name} targets {tuple(truth.shape[1:])} "
                         "differ in shape (per function); pass targets of the model's output shape")
    return Predictions(mean=mean, truth=truth, given=given, rollout=is_time_stepper(model), width=width)


def _quantile(scores: torch.Tensor, level: float, mode: str, delta: float, per: Sequence[str]) -> torch.Tensor:
    if mode == "pointwise":
        return pointwise_quantile(scores, level, per=per)
    if mode == "domain":
        return domain_quantile(scores, level, delta, per=per)
    raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")


@dataclasses.dataclass(frozen=True)
class ConformalBands:
    """Calibrated bands ``prediction +- lambda * width`` around a model's predictions.

    Made by :func:`conformalize`. ``half_width_factor`` is ``lambda``, broadcastable against one
    function's ``(S, C, *spatial)`` (size 1 along pooled axes). The calibration ``scores``
    ``(N, S, C, *spatial)`` are kept, so :meth:`at_level` recalibrates for another level, mode or
    ``delta`` without running the models again.
    """

    model: nn.Module
    width_model: nn.Module | None
    scores: torch.Tensor
    level: float
    mode: str
    delta: float
    per: tuple[str, ...]
    half_width_factor: torch.Tensor
    batch_size: int = 20

    def at_level(self, level: float, *, mode: str | None = None, delta: float | None = None) -> ConformalBands:
        """The same calibration scores at another ``level`` (and optionally ``mode``, ``delta``)."""
        mode = self.mode if mode is None else mode
        delta = self.delta if delta is None else delta
        factor = _quantile(self.scores, level, mode, delta, self.per)
        return dataclasses.replace(self, level=level, mode=mode, delta=delta, half_width_factor=factor)

    def bounds(self, mean: torch.Tensor, width: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(lower, upper)`` around predictions ``mean (N, S, C, *spatial)`` with the width model's ``width``."""
        factor = self.half_width_factor
        if factor.shape[0] > 1 and mean.shape[1] > factor.shape[0]:
            raise ValueError(f"the band is calibrated for {factor.shape[0]} rollout steps, not {mean.shape[1]}; "
                             "calibrate on longer trajectories or roll out fewer steps")
        half = self.half_width(width)[:, : mean.shape[1]]
        return mean - half, mean + half

    def half_width(self, width: torch.Tensor | None) -> torch.Tensor:
        """``lambda * width`` ``(N, S, C, *spatial)``, or ``lambda`` ``(1, S, C, 1, ...)`` without a width model."""
        factor = self.half_width_factor[None]
        if width is None:
            return factor
        return factor[:, : width.shape[1]] * width

    def predict(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One-step map: ``inputs (B, C_in, *spatial) -> (mean, lower, upper)``, each ``(B, C_out, *spatial)``."""
        if is_time_stepper(self.model):
            raise ValueError("this model is a time stepper: use bands.rollout(context, steps)")
        mean, width = _forward(self.model, inputs, 1, self.width_model, self.batch_size)
        lower, upper = self.bounds(mean, width)
        return mean[:, 0], lower[:, 0], upper[:, 0]

    def rollout(self, context: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Time stepper: ``context (B, history, C, *spatial) -> (mean, lower, upper)``, each ``(B, steps, C, *spatial)``.

        With ``per`` containing ``"step"`` (the default) at most the calibrated number of steps.
        """
        if not is_time_stepper(self.model):
            raise ValueError("this model is a one-step map: use bands.predict(inputs)")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        h, c = self.model.history, self.model.channels
        if context.ndim < 4 or context.shape[1:3] != (h, c):
            raise ValueError(f"context must be (B, history={h}, C={c}, *spatial), got {tuple(context.shape)}")
        mean, width = _forward(self.model, context, steps, self.width_model, self.batch_size)
        lower, upper = self.bounds(mean, width)
        return mean, lower, upper


def conformalize(
    model: nn.Module,
    calibration: Any,
    level: float = 0.9,
    *,
    mode: str = "pointwise",
    delta: float = 0.1,
    width_model: nn.Module | None = None,
    per: Sequence[str] = ("step", "channel"),
    batch_size: int = 20,
) -> ConformalBands:
    """Calibrate bands for ``model`` on held-out ``calibration`` data (see the module docstring).

    Args:
        model: any zoo model: a time stepper (``history``, ``channels``, ``rollout``) or a one-step map.
        calibration: trajectories ``(N, T, C, *spatial)`` for a time stepper (context: the first
            ``history`` frames; targets: the free rollout over the rest), or ``(inputs, targets)`` pairs
            ``(N, C_in, *spatial)``, ``(N, C_out, *spatial)`` for a one-step map; or :func:`predict`'s result
            on such data with ``model`` (a width model is then applied to its stored inputs). The
            functions must be exchangeable with the ones the bands will be used on, and unseen in training.
        level: ``1 - alpha``: the marginal coverage (``"pointwise"``) or the fraction of each
            function's domain covered (``"domain"``).
        mode: ``"pointwise"`` (split conformal, marginal over functions and points) or ``"domain"``
            (UQNO: w.p. ``>= 1 - delta`` over calibration sets, every new function has a fraction
            ``>= level`` of its domain inside).
        delta: the domain mode's failure probability.
        width_model: ``None`` (bands of one width per group), or a model mapping the model's inputs
            (a time stepper's window ``(B, history * C, *spatial)``) to the predicted size of the
            model's error ``(B, C, *spatial)``, positive (``zoo.train.residual_width.fit_width_model``);
            it must not have been trained on the calibration functions.
        per: axes with their own calibration: any of ``"step"``, ``"channel"``, ``"point"`` (each grid
            point its own quantile over functions: needs more functions for the same stability).

    Returns:
        :class:`ConformalBands` with ``predict(inputs)`` (one-step maps) or ``rollout(context, steps)``.
    """
    per = tuple(per)
    ran = isinstance(calibration, Predictions)
    functions = calibration.mean.shape[0] if ran else _as_layout(model, calibration, "calibration")[0].shape[0]
    # Every check of the arguments (level, delta, mode, per, enough functions) before the models run.
    _quantile(torch.zeros(functions, 1, 1, 1), level, mode, delta, per)
    if ran:
        run = calibration if width_model is None else with_width(calibration, width_model, batch_size=batch_size)
    else:
        run = predict(model, calibration, width_model=width_model, batch_size=batch_size, name="calibration")
    scores = run.scores()
    factor = _quantile(scores, level, mode, delta, per)
    return ConformalBands(model=model, width_model=width_model, scores=scores, level=level, mode=mode, delta=delta,
                          per=per, half_width_factor=factor, batch_size=batch_size)


def band_metrics(
    bands: ConformalBands, test: Any, levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95)
) -> dict[str, Any]:
    """Coverage and sharpness of ``bands`` recalibrated at each of ``levels``, on held-out ``test`` data.

    Args:
        bands: from :func:`conformalize`; its mode, ``delta`` and ``per`` are kept.
        test: data in the calibration layout, never seen in calibration (at least 20 functions for
            figures worth reporting), or :func:`predict`'s result for it with the bands' models
            (to score several bands on one run; a width model is applied to its inputs if it
            carries no widths).
        levels: nominal levels.

    Returns:
        ``{"mode", "delta", "per", "calibration_functions", "test_functions",
        "width_error_correlation", "width_error_correlation_ceiling", "levels": {f"{level:g}": figures}}``, figures being
        ``coverage`` (fraction of all test values inside), ``coverage_per_step`` ``(S,)``,
        ``domain_coverage`` (fraction of test functions with a fraction ``>= level`` of each group's
        domain inside, averaged over groups; UQNO's guarantee asks ``>= 1 - delta``),
        ``domain_coverage_per_step``, ``half_width`` (mean over all values), ``relative_half_width``
        (that over the root mean square of the truth), ``half_width_per_step``.
        ``width_error_correlation`` is Pearson's between the band's half-width and the absolute
        error over all test values (the width's shape does not depend on the level);
        ``width_error_correlation_ceiling`` is what it would be if the errors were Gaussian with
        exactly these widths' shape (:func:`~zoo.eval.uncertainty.gaussian_correlation_ceiling`).
        ``function_width_error_correlation``: across test functions, each one's mean width against
        its RMS error, per step and channel, averaged (:func:`function_correlation`).
    """
    if isinstance(test, Predictions) and bands.width_model is None:
        test = dataclasses.replace(test, width=None)
    elif isinstance(test, Predictions) and test.width is None:
        test = with_width(test, bands.width_model, batch_size=bands.batch_size)
    run = test if isinstance(test, Predictions) else predict(
        bands.model, test, width_model=bands.width_model, batch_size=bands.batch_size, name="test")
    error = (run.truth - run.mean).abs()
    rms = float(run.truth.double().square().mean().sqrt())
    per = tuple(a for a in bands.per if a != "point")
    pooled = _group_dims(per, error.ndim)
    step_axes = [d for d in range(error.ndim) if d != 1]
    figures: dict[str, Any] = {}
    for level in levels:
        band = bands.at_level(level)
        lower, upper = band.bounds(run.mean, run.width)
        inside = ((run.truth >= lower) & (run.truth <= upper)).double()
        half = (upper - lower).double() / 2
        # Fraction of each function's domain inside, per group of the bands' ``per`` axes (and per step).
        passed = (_pooled_last(inside, pooled).mean(-1) >= level - 1e-12).double()  # (N, *grouped)
        by_step = _pooled_last(inside, _group_dims(("step",), error.ndim)).mean(-1)  # (N, S)
        figures[f"{level:g}"] = {
            "coverage": float(inside.mean()),
            "coverage_per_step": inside.mean(step_axes).tolist(),
            "domain_coverage": float(passed.mean()),
            "domain_coverage_per_step": (by_step >= level - 1e-12).double().mean(0).tolist(),
            "half_width": float(half.mean()),
            "relative_half_width": float(half.mean()) / rms,
            "half_width_per_step": half.mean(step_axes).tolist(),
        }
    half_width = bands.half_width(run.width)[:, : run.mean.shape[1]].expand_as(run.mean).double()
    width = half_width.flatten()
    correlation = float(torch.corrcoef(torch.stack([width, error.double().flatten()]))[0, 1]) if width.std() > 0 else None
    return {
        "mode": bands.mode, "delta": bands.delta, "per": list(bands.per),
        "calibration_functions": bands.scores.shape[0], "test_functions": run.mean.shape[0],
        "width_error_correlation": correlation,
        "width_error_correlation_ceiling": gaussian_correlation_ceiling(width) if correlation is not None else None,
        "function_width_error_correlation": function_correlation(half_width, error.double()),
        "levels": figures,
    }


def function_correlation(half_width: torch.Tensor, error: torch.Tensor) -> float | None:
    """Does the band say which functions err more? Pearson's r across functions, mean over (step, channel).

    ``half_width``, ``error``: ``(N, S, C, *spatial)``. For each step and channel, each function's
    mean half-width over its domain against its root-mean-square error there, correlated across
    the ``N`` functions; the mean over the (step, channel) groups whose widths vary across functions
    (``None`` if none do: a band without a width model is as wide for every function). Unlike the
    pointwise correlation it is not capped by the spread of one error draw per point
    (:func:`~zoo.eval.uncertainty.gaussian_correlation_ceiling`): a domain's RMS error averages it out.
    """
    width = half_width.flatten(3).mean(-1).flatten(1)  # (N, S * C)
    size = error.square().flatten(3).mean(-1).sqrt().flatten(1)
    varies = width.std(0) > 1e-12 * width.abs().mean(0).clamp_min(1e-300)
    if len(width) < 3 or not bool(varies.any()):
        return None
    w, e = width[:, varies], size[:, varies]
    w, e = w - w.mean(0), e - e.mean(0)
    r = (w * e).sum(0) / (w.square().sum(0) * e.square().sum(0)).sqrt().clamp_min(1e-300)
    return float(r.mean())
