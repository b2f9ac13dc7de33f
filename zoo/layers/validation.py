"""Input checks shared by layers and models: a wrong shape gets an error naming the problem."""

from __future__ import annotations

import torch


def check_field(x: torch.Tensor, channels: int | None, ndim: int, *, name: str) -> None:
    """Check that ``x`` is a channels-first field ``(B, channels, *spatial)`` with ``ndim`` axes."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != ndim + 2:
        raise ValueError(
            f"{name} must have shape (batch, channels, {_axes(ndim)}) with {ndim} spatial "
            f"axes, got shape {tuple(x.shape)}"
        )
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} has {x.shape[1]} channels, expected {channels} (shape {tuple(x.shape)})")
    if x.is_complex():
        raise TypeError(f"{name} must be real, got dtype {x.dtype}")


def check_finite(x: torch.Tensor, *, name: str) -> None:
    """Raise when ``x`` holds NaN or Inf (one reduction: use it at data boundaries, not per layer)."""
    if not torch.isfinite(x).all():
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or Inf values")


def _axes(ndim: int) -> str:
    return ", ".join(("H", "W", "D")[:ndim] if ndim > 1 else ("N",)) if ndim <= 3 else f"{ndim} axes"
