"""Inverse problems through a differentiable forward map: recover an input field from observations.

Given observations ``y`` of ``F(u)`` (a solver, a neural operator's rollout, any differentiable
map), :func:`recover_field` computes the variational (Tikhonov) estimate

    u* = argmin_u  sum_i ( ||F(u)_i - y_i||^2 + smoothness * |u_i|_{H^s}^2 ) / ||y_i||^2

by Adam or L-BFGS on ``u``, where ``|u|_{H^s}^2 = ||(-Laplacian)^{s/2} u||^2`` is the homogeneous Sobolev
seminorm on the periodic box (the mean is not penalised). Norms are means over grid points, so the
objective does not depend on the grid size; dividing by ``||y_i||^2`` makes the misfit relative
(a misfit of ``0.01^2`` means a 1% mismatch) and ``smoothness`` dimensionless up to the
``(2 pi / length)^(2s)`` of the wavenumbers. The samples of a batch are independent problems:
the objective is a sum over them and Adam's update is elementwise, so batching does not couple
them. The smoothness prior is what keeps noise in ``y`` from becoming small-scale noise in ``u``
(for the identity map the minimiser is ``y`` filtered by ``1 / (1 + smoothness |k|^(2s))``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from zoo.pde.spectral import wavenumbers
from zoo.train.schedules import schedule_factor

METHODS = {"adam": 0.01, "lbfgs": 1.0}  # each optimiser's default learning rate


@dataclass
class Recovery:
    """The result of :func:`recover_field`.

    Attributes:
        field: ``(B, *unknown)`` the estimate after the last step (detached).
        objective: the objective, summed over samples, at every evaluation of ``forward``.
        seconds: seconds (of ``clock``) spent optimising up to each monitored step, monitoring excluded.
        monitored: ``monitor(estimate)`` at each monitored step: the steps ``0`` (the initial
            guess), ``monitor_every``, ``2 monitor_every``, ... and the last one.
        monitored_steps: the step counts at which ``monitored`` and ``seconds`` were recorded.
        evaluations: the number of evaluations of ``forward`` (and its gradient) up to each of them.
    """

    field: torch.Tensor
    objective: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    monitored: list[float] = field(default_factory=list)
    monitored_steps: list[int] = field(default_factory=list)
    evaluations: list[int] = field(default_factory=list)


def sobolev_seminorm(u: torch.Tensor, *, order: float, ndim: int, length: float = 1.0) -> torch.Tensor:
    """``||(-Laplacian)^{order/2} u||^2`` per sample, a mean over the grid of the periodic box.

    Args:
        u: ``(B, ..., *spatial)`` real fields with ``ndim`` trailing periodic axes; the axes
            between the batch and the spatial ones (channels, frames) are summed over.
        order: the Sobolev order ``s >= 0`` (``1``: ``||grad u||^2``; ``0``: ``||u - mean||^2``).
        ndim: number of spatial axes.
        length: side of the periodic box.

    Returns:
        ``(B,)``.
    """
    if order < 0:
        raise ValueError(f"order must be >= 0, got {order}")
    if not 1 <= ndim <= u.ndim - 1:
        raise ValueError(f"ndim={ndim} spatial axes do not fit a tensor of shape {tuple(u.shape)}")
    dims = tuple(range(-ndim, 0))
    spatial = u.shape[-ndim:]
    u_hat = torch.fft.rfftn(u, dim=dims, norm="ortho")
    k2 = sum(k**2 for k in wavenumbers(spatial, length=length, device=u.device, dtype=u_hat.real.dtype))
    weight = torch.where(k2 > 0, k2.clamp_min(1e-30) ** order, 0.0)
    # Parseval on the half spectrum: every column but the zero (and even-n Nyquist) one stands
    # for itself and its conjugate.
    last = spatial[-1]
    columns = torch.full((last // 2 + 1,), 2.0, dtype=weight.dtype, device=u.device)
    columns[0] = 1.0
    if last % 2 == 0:
        columns[-1] = 1.0
    energy = (weight * columns * (u_hat.real.square() + u_hat.imag.square())).flatten(1).sum(1)
    return energy / math.prod(spatial)


def recover_field(
    forward: Callable[[torch.Tensor], torch.Tensor],
    observation: torch.Tensor,
    initial: torch.Tensor,
    *,
    ndim: int,
    smoothness: float = 0.0,
    order: float = 1.0,
    method: str = "adam",
    steps: int = 100,
    lr: float | None = None,
    length: float = 1.0,
    monitor: Callable[[torch.Tensor], float] | None = None,
    monitor_every: int = 10,
    clock: Callable[[], float] = time.perf_counter,
) -> Recovery:
    """Recover ``u`` from ``observation ~ forward(u)`` by gradient descent with a smoothness prior.

    Args:
        forward: differentiable map from ``(B, *unknown)`` to ``observation``'s shape (e.g. a
            neural operator's rollout or a solver written in torch).
        observation: ``(B, *observed)`` observed fields, one problem per sample.
        initial: ``(B, *unknown)`` initial guess; its last ``ndim`` axes are periodic space.
        ndim: number of spatial axes of the unknown (for the Sobolev prior).
        smoothness: weight of the prior ``|u|_{H^order}^2`` (``0``: plain least squares).
        order: the Sobolev order of the prior.
        method: ``"adam"`` (``steps`` updates, the learning rate decaying from ``lr`` to 0 on a
            half cosine; samples stay independent problems) or ``"lbfgs"`` (``steps`` L-BFGS
            iterations with a strong-Wolfe line search, several evaluations each; one line search
            serves the whole batch, so batched samples share step lengths).
        steps: optimiser iterations.
        lr: Adam's learning rate in the units of the field (default 0.01), or L-BFGS's initial
            step scale (default 1).
        length: side of the periodic box.
        monitor: ``monitor(estimate) -> float``, e.g. the error against a known truth, called
            without gradients every ``monitor_every`` steps; its time is not counted.
        monitor_every: steps between calls of ``monitor`` (and records of ``seconds``).
        clock: the timer of ``seconds`` (``time.process_time`` measures CPU time, which other jobs
            on a shared machine do not inflate).

    Returns:
        a :class:`Recovery` with the estimate ``(B, *unknown)`` and its history.
    """
    if not initial.is_floating_point() or not observation.is_floating_point():
        raise TypeError(f"initial and observation must be real floating tensors, got {initial.dtype} and {observation.dtype}")
    if initial.shape[0] != observation.shape[0]:
        raise ValueError(f"initial has {initial.shape[0]} samples but observation has {observation.shape[0]}")
    if not 1 <= ndim <= initial.ndim - 1:
        raise ValueError(f"ndim={ndim} spatial axes do not fit an initial guess of shape {tuple(initial.shape)}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if steps < 1 or monitor_every < 1:
        raise ValueError(f"steps and monitor_every must be >= 1, got {steps} and {monitor_every}")
    lr = METHODS[method] if lr is None else lr
    if lr <= 0 or smoothness < 0:
        raise ValueError(f"need lr > 0 and smoothness >= 0, got lr={lr}, smoothness={smoothness}")
    scale = observation.detach().flatten(1).square().mean(1)
    if not (scale > 0).all():
        raise ValueError("every observation needs a nonzero norm (the misfit is relative to it)")

    u = initial.detach().clone().requires_grad_(True)
    result = Recovery(field=u.detach())

    def closure() -> torch.Tensor:
        predicted = forward(u)
        if predicted.shape != observation.shape:
            raise ValueError(f"forward maps the unknown {tuple(u.shape)} to {tuple(predicted.shape)}, "
                             f"but the observation has shape {tuple(observation.shape)}")
        objective = (predicted - observation).flatten(1).square().mean(1) / scale
        if smoothness:
            objective = objective + smoothness * sobolev_seminorm(u, order=order, ndim=ndim, length=length) / scale
        objective = objective.sum()
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        result.objective.append(objective.item())
        return objective

    def record(step: int, elapsed: float) -> None:
        result.monitored_steps.append(step)
        result.seconds.append(elapsed)
        result.evaluations.append(len(result.objective))
        if monitor is not None:
            with torch.no_grad():
                result.monitored.append(float(monitor(u.detach())))

    elapsed = 0.0
    record(0, elapsed)
    if method == "adam":
        optimizer = torch.optim.Adam([u], lr=lr)
        chunks = [1] * steps
    else:
        # One step() call runs a chunk of iterations and starts with one extra evaluation, so
        # chunks span the monitoring interval rather than single iterations.
        optimizer = torch.optim.LBFGS([u], lr=lr, max_iter=monitor_every, history_size=20, line_search_fn="strong_wolfe")
        chunks = [monitor_every] * (steps // monitor_every) + ([steps % monitor_every] if steps % monitor_every else [])
    step = 0
    for chunk in chunks:
        started = clock()
        if method == "adam":
            optimizer.param_groups[0]["lr"] = lr * schedule_factor(step, schedule="cosine", total_steps=steps)
        else:
            optimizer.param_groups[0]["max_iter"] = chunk
        optimizer.step(closure)
        elapsed += clock() - started
        step += chunk
        if step % monitor_every == 0 or step == steps:
            record(step, elapsed)
    result.field = u.detach()
    return result
