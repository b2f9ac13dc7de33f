"""What a training step minimises: the one hook through which a :class:`Trainer` sees a problem.

An objective is called as ``objective(model, batch)`` and returns a dict of scalar tensors whose
``"loss"`` entry is minimised (the others are logged). ``objective.evaluate(model, batch)``
returns per-sample metrics, tensors of shape ``(B,)`` or ``(B, K)``, which the trainer averages
over the evaluation set. Three objectives cover the usual problems:

* :class:`Supervised`: ``model(inputs)`` against ``targets``.
* :class:`Autoregressive`: a time stepper rolled out over a trajectory (teacher-forced or free).
* :class:`Pushforward`: a time stepper trained on its own (detached) rollouts, with input noise
  and a dissipativity penalty: the long-rollout (Markov) training of chaotic flows.
* :class:`PhysicsInformed`: a PDE residual on every input plus a data loss on the labelled ones.

Batches are ``(inputs, targets)`` pairs (tuples or lists, as a ``Dataset`` of pairs collates),
``(inputs, targets, labelled)`` with a boolean ``(B,)`` mask, or, for unlabelled data, ``inputs``
alone. Trajectories put time and channels together on axis 1, oldest frame first:
``(B, T * C, *spatial)``, the layout of the FNO paper and of ``AutoregressiveOperator``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from zoo.eval.evaluate import pair_metrics
from zoo.eval.rollout import rollout_metrics
from zoo.losses import LossFn, make_loss, relative_l2
from zoo.models.time_stepper import unroll
from zoo.pde.random_fields import gaussian_random_field

PhysicsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``(inputs, targets or None, labelled mask or None)`` from any supported batch layout."""
    if isinstance(batch, torch.Tensor):
        return batch, None, None
    if isinstance(batch, (tuple, list)) and 1 <= len(batch) <= 3:
        inputs, targets, labelled = (*batch, None, None)[:3]
        return inputs, targets, labelled
    raise TypeError(
        "a batch must be inputs, (inputs,), (inputs, targets) or (inputs, targets, labelled); "
        f"got {type(batch).__name__}" + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


class Supervised:
    """``loss(model(inputs), targets)``; evaluation reports the relative L2 error per sample."""

    def __init__(self, loss: str | LossFn = "relative_l2") -> None:
        self.loss = make_loss(loss)

    def __call__(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        inputs, targets = _labelled_pair(batch)
        return {"loss": self.loss(model(inputs), targets)}

    def evaluate(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        return pair_metrics(model, _labelled_pair(batch))


class Autoregressive:
    """Train a time stepper on trajectories ``(B, (history + k) * C, *spatial)``.

    The first ``history`` frames are the input; the loss compares the ``k`` predicted frames with
    the true ones as one field per sample (the FNO paper's rollout loss). ``teacher_forcing=True``
    predicts each frame from true frames (one-step training, all ``k`` steps in one batch);
    ``False`` feeds predictions back (a ``k``-step unroll). The window length sets ``k``; a batch
    may also be a ``(past, future)`` pair, concatenated on axis 1. Evaluation always rolls out
    freely and reports the error of the whole rollout and at each step.
    """

    def __init__(
        self,
        history: int,
        *,
        channels: int = 1,
        teacher_forcing: bool = False,
        loss: str | LossFn = "relative_l2",
    ) -> None:
        if history < 1 or channels < 1:
            raise ValueError(f"history and channels must be >= 1, got history={history}, channels={channels}")
        self.history, self.channels = history, channels
        self.teacher_forcing = teacher_forcing
        self.loss = make_loss(loss)

    def _split(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, int]:
        inputs, targets, _ = split_batch(batch)
        trajectory = inputs if targets is None else torch.cat([inputs, targets], dim=1)
        frames, remainder = divmod(trajectory.shape[1], self.channels)
        if remainder or frames <= self.history:
            raise ValueError(
                f"a trajectory of {trajectory.shape[1]} channels is not more than history={self.history} "
                f"whole frames of {self.channels} channels each (shape {tuple(trajectory.shape)})"
            )
        cut = self.history * self.channels
        return trajectory[:, :cut], trajectory[:, cut:], frames - self.history

    def __call__(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        initial, future, steps = self._split(batch)
        truth = future if self.teacher_forcing else None
        predicted = unroll(model, initial, steps, channels=self.channels, truth=truth)
        return {"loss": self.loss(predicted, future)}

    def evaluate(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        initial, future, steps = self._split(batch)
        predicted = unroll(model, initial, steps, channels=self.channels)
        return rollout_metrics(predicted, future, channels=self.channels)


class Pushforward(Autoregressive):
    """Train a time stepper on states its own rollouts reach, so that long rollouts stay on the data.

    Windows ``(B, (history + max_unrolled + 1) * C, *spatial)``. Each call draws one depth ``d``
    uniformly from ``0..max_unrolled`` (torch's global RNG, which the trainer's checkpoints restore),
    adds Gaussian noise of ``noise`` x each sample's standard deviation to the initial frames, rolls
    ``d`` steps *without* gradient and takes one step *with* it, compared with the true frame
    ``d`` steps on: the pushforward trick (Brandstetter et al. 2022, "Message passing neural PDE
    solvers"), which trains the one-step map on the distribution of its own rollouts at the cost of
    ``d`` extra forward passes, without backpropagating through the unroll. ``d = 0`` with noise
    is one-step training with noise injection (Sanchez-Gonzalez et al. 2020).

    ``dissipativity > 0`` adds MNO's term (Li et al. 2022, "Learning chaotic dynamics in
    dissipative systems", eq. 6) with that weight: Gaussian random fields ``u`` whose rms is
    ``radius`` (a range, drawn uniformly) x the batch's std, far outside the attractor, must map to
    ``contraction * u`` (the last frame's), so a rollout that leaves the attractor is pulled back.
    It draws a quarter of the batch's count of fields (at least one): the term costs a forward and
    backward pass of its own, and the ball's outside needs no more samples than the data. Square 2D
    grids only (the random fields' law). Evaluation is :class:`Autoregressive`'s free rollout over
    the whole window.
    """

    def __init__(
        self,
        history: int,
        *,
        channels: int = 1,
        max_unrolled: int = 1,
        noise: float = 0.0,
        dissipativity: float = 0.0,
        contraction: float = 0.5,
        radius: tuple[float, float] = (2.0, 4.0),
        loss: str | LossFn = "relative_l2",
    ) -> None:
        super().__init__(history, channels=channels, loss=loss)
        if max_unrolled < 0 or noise < 0 or dissipativity < 0:
            raise ValueError(f"max_unrolled, noise and dissipativity must be >= 0, got {max_unrolled}, {noise}, {dissipativity}")
        if not 0 < contraction < 1 or not 0 < radius[0] <= radius[1]:
            raise ValueError(f"need 0 < contraction < 1 and 0 < radius[0] <= radius[1], got {contraction}, {radius}")
        self.max_unrolled, self.noise = max_unrolled, noise
        self.dissipativity, self.contraction, self.radius = dissipativity, contraction, tuple(radius)

    def __call__(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        initial, future, steps = self._split(batch)
        if steps < self.max_unrolled + 1:
            raise ValueError(f"windows hold {steps} future frames; max_unrolled={self.max_unrolled} needs {self.max_unrolled + 1}")
        depth = int(torch.randint(self.max_unrolled + 1, ()))
        window = initial
        if self.noise:
            window = window + self.noise * _sample_std(window) * torch.randn_like(window)
        if depth:
            with torch.no_grad():
                rolled = unroll(model, window, depth, channels=self.channels)
            window = torch.cat([window, rolled], dim=1)[:, -initial.shape[1] :]
        c = self.channels
        terms = {"pushforward": self.loss(model(window), future[:, depth * c : (depth + 1) * c])}
        loss = terms["pushforward"]
        if self.dissipativity:
            terms["dissipativity"] = self._dissipativity(model, initial)
            loss = loss + self.dissipativity * terms["dissipativity"]
        return {"loss": loss, **terms, "unrolled": torch.tensor(float(depth))}

    def _dissipativity(self, model: nn.Module, initial: torch.Tensor) -> torch.Tensor:
        """``|S(u) - contraction u| / |contraction u|`` on random fields ``u`` ``radius`` x the data's std in rms."""
        _, width, *spatial = initial.shape
        if len(spatial) != 2 or spatial[0] != spatial[1]:
            raise ValueError(f"the dissipativity term draws fields on square 2D grids; got spatial shape {tuple(spatial)}")
        batch = max(1, len(initial) // 4)
        seed = int(torch.randint(2**62, ()))  # from the global RNG, so a resumed run draws the same fields
        fields = gaussian_random_field(batch * width, spatial[0], seed=seed).to(initial).view(batch, width, *spatial)
        low, high = self.radius
        scale = (low + (high - low) * torch.rand(batch, 1, 1, 1, device=initial.device)) * initial.std()
        u = fields / fields.square().mean((-2, -1), keepdim=True).sqrt() * scale
        target = self.contraction * u[:, -self.channels :]
        return relative_l2(model(u), target)


def _sample_std(u: torch.Tensor) -> torch.Tensor:
    """Standard deviation of each sample of ``(B, ...)`` as ``(B, 1, ..., 1)``."""
    return u.flatten(1).std(dim=1).view(-1, *([1] * (u.ndim - 1)))


class PhysicsInformed:
    """``physics_weight * physics(inputs, prediction) + data_weight * data_loss`` (PINO training).

    The physics term (e.g. :class:`zoo.losses.DarcyPhysics`) needs no targets, so it covers
    every input; the data term covers the labelled samples of the batch (targets present and, if
    a ``labelled`` mask is given, marked). With ``rollout_steps`` the model is a time stepper and
    the prediction is its free rollout of that many steps (``channels`` per frame).
    """

    def __init__(
        self,
        physics: PhysicsFn,
        *,
        data_loss: str | LossFn = "relative_l2",
        data_weight: float = 1.0,
        physics_weight: float = 1.0,
        rollout_steps: int | None = None,
        channels: int = 1,
    ) -> None:
        self.physics = physics
        self.data_loss = make_loss(data_loss)
        self.data_weight, self.physics_weight = data_weight, physics_weight
        self.rollout_steps, self.channels = rollout_steps, channels

    def _predict(self, model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        if self.rollout_steps is None:
            return model(inputs)
        return unroll(model, inputs, self.rollout_steps, channels=self.channels)

    def __call__(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        inputs, targets, labelled = split_batch(batch)
        prediction = self._predict(model, inputs)
        terms = {"physics": self.physics(inputs, prediction)}
        loss = self.physics_weight * terms["physics"]
        if targets is not None:
            mask = torch.ones(len(inputs), dtype=torch.bool, device=inputs.device) if labelled is None else labelled.bool()
            if bool(mask.any()):
                terms["data"] = self.data_loss(prediction[mask], targets[mask])
                loss = loss + self.data_weight * terms["data"]
        return {"loss": loss, **terms}

    def evaluate(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor]:
        inputs, targets, labelled = split_batch(batch)
        prediction = self._predict(model, inputs)
        # The physics term is a batch mean over equally sized samples: repeating it per sample
        # makes the trainer's sample-weighted average the mean over the whole set.
        metrics = {"physics": self.physics(inputs, prediction).expand(len(inputs))}
        if targets is not None:
            mask = slice(None) if labelled is None else labelled.bool()
            metrics["relative_l2"] = relative_l2(prediction[mask], targets[mask], reduction="none")
        return metrics


class PartiallyLabelled(Dataset):
    """Items ``(inputs, targets, labelled)`` of a paired dataset where only ``labelled`` indices
    count as labelled: the hybrid setting of :class:`PhysicsInformed`, a few solved samples plus
    many inputs with the equation alone. Unlabelled targets are never read by the loss."""

    def __init__(self, dataset: Dataset, labelled: Iterable[int]) -> None:
        self.dataset = dataset
        self.labelled = frozenset(int(i) for i in labelled)
        outside = [i for i in self.labelled if not 0 <= i < len(dataset)]
        if outside:
            raise IndexError(f"labelled indices {sorted(outside)[:5]} are outside the dataset of {len(dataset)} items")

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        inputs, targets = self.dataset[index]
        return inputs, targets, torch.tensor(index in self.labelled)


def _labelled_pair(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, targets, _ = split_batch(batch)
    if targets is None:
        raise ValueError("this objective needs (inputs, targets) batches; got inputs only")
    return inputs, targets
