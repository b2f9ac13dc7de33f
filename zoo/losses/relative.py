"""Data losses for operator learning, each with its normalisation stated exactly.

Both losses are *relative* and computed per sample, then reduced over the batch, as in the FNO
paper (Li et al. 2021): ``||pred_i - target_i|| / ||target_i||`` for each sample ``i``. On a
uniform grid the quadrature weight is the same in numerator and denominator, so the value does not
depend on the grid size and plain sums over points suffice.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from zoo.pde.spectral import gradient

REDUCTIONS = ("mean", "sum", "none")

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def relative_lp(
    prediction: torch.Tensor, target: torch.Tensor, *, p: float = 2.0, reduction: str = "mean"
) -> torch.Tensor:
    """Relative Lp error per sample: ``||pred_i - target_i||_p / ||target_i||_p``.

    Args:
        prediction, target: ``(B, ...)``; every axis after the batch axis (channels, space, time)
            belongs to one sample's norm.
        p: the norm's exponent (``p >= 1``).
        reduction: ``"mean"`` over samples (the FNO paper's metric), ``"sum"`` or ``"none"``
            (a ``(B,)`` tensor).

    Computed in float32 (or float64 if given), so bf16 predictions do not round the error.
    """
    _check_pair(prediction, target)
    if p < 1:
        raise ValueError(f"relative_lp needs p >= 1, got p={p}")
    dtype = torch.promote_types(prediction.dtype, torch.float32)
    diff = (prediction.to(dtype) - target.to(dtype)).flatten(1)
    reference = target.to(dtype).flatten(1)
    ratios = torch.linalg.vector_norm(diff, ord=p, dim=1) / torch.linalg.vector_norm(reference, ord=p, dim=1)
    return _reduce(ratios, reduction)


def relative_l2(prediction: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """:func:`relative_lp` with ``p = 2``: the error every FNO paper table reports."""
    return relative_lp(prediction, target, p=2.0, reduction=reduction)


def relative_h1(
    prediction: torch.Tensor,
    target: torch.Tensor,
    *,
    ndim: int,
    length: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Relative H1 error per sample: ``||e_i||_H1 / ||target_i||_H1`` with ``e = pred - target``.

    ``||f||_H1^2 = ||f||_L2^2 + sum_d ||d f / d x_d||_L2^2`` on the periodic box ``[0, length)^ndim``,
    the derivatives taken spectrally (exact for band-limited periodic fields). Non-periodic fields
    (Darcy) get Gibbs oscillations at the boundary: use :func:`relative_l2` for those.

    Args:
        prediction, target: ``(B, ..., *spatial)`` with ``ndim`` trailing spatial axes.
        ndim: number of spatial axes.
        length: side of the periodic box (sets the relative weight of the derivative terms).
        reduction: as in :func:`relative_lp`.
    """
    _check_pair(prediction, target)
    if not 1 <= ndim <= prediction.ndim - 1:
        raise ValueError(f"ndim={ndim} spatial axes do not fit a tensor of shape {tuple(prediction.shape)}")
    dtype = torch.promote_types(prediction.dtype, torch.float32)
    error = prediction.to(dtype) - target.to(dtype)
    reference = target.to(dtype)
    ratios = (_h1_squared(error, ndim, length) / _h1_squared(reference, ndim, length)).sqrt()
    return _reduce(ratios, reduction)


LOSSES: dict[str, LossFn] = {
    "relative_l2": relative_l2,
    "relative_l1": lambda prediction, target: relative_lp(prediction, target, p=1.0),
    # Fields are (B, C, *spatial): every axis after the channels is spatial.
    "relative_h1": lambda prediction, target: relative_h1(prediction, target, ndim=prediction.ndim - 2),
    "mse": lambda prediction, target: (prediction.float() - target.float()).square().mean(),
}


def make_loss(loss: str | LossFn) -> LossFn:
    """A loss callable from its name in :data:`LOSSES`, or the callable itself."""
    if callable(loss):
        return loss
    try:
        return LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}") from None


def _h1_squared(u: torch.Tensor, ndim: int, length: float) -> torch.Tensor:
    total = u.flatten(1).square().sum(1)
    for derivative in gradient(u, ndim, length=length):
        total = total + derivative.flatten(1).square().sum(1)
    return total


def _check_pair(prediction: torch.Tensor, target: torch.Tensor) -> None:
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction shape {tuple(prediction.shape)} does not match target shape {tuple(target.shape)}"
        )
    if prediction.ndim < 2:
        raise ValueError(f"losses need a batch axis and at least one more, got shape {tuple(prediction.shape)}")


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"unknown reduction {reduction!r}; choose one of {REDUCTIONS}")
