"""Input checks shared by layers and models: a wrong shape gets an error naming the problem.

The input policy of every zoo model (:func:`check_model_input`, called first in each forward):

* a real floating-point tensor ``(B, C, *spatial)`` with the model's channels and spatial axes;
* the model's own dtype (float64 or float16 input to a float32 model is an error saying how to
  convert one of them) -- except under ``torch.autocast``, which chooses the dtypes itself;
* at least one sample and at least one grid point per axis (an empty batch or grid is an error,
  not an empty answer from half the models and a torch error from the others);
* finite values: NaN or Inf input is an error counting the bad values, for every model. One
  reduction over the input is cheap next to the FFTs of a forward pass, and a NaN that passes
  silently costs a training run. Skipped while ``torch.compile`` traces (no data there).

Grids too small for a model's own constraints (patch size, U-Net depth, coarse grid) are checked by
that model, with errors naming the constraint.
"""

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


def check_model_input(x: torch.Tensor, *, channels: int | None, ndim: int, dtype: torch.dtype | None, name: str) -> None:
    """Apply the input policy of this module's docstring to a model's input ``x`` ``(B, C, *spatial)``."""
    check_field(x, channels, ndim, name=name)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}; convert it with x.float()")
    if dtype is not None and x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(
            f"{name} has dtype {x.dtype} but the model's weights are {dtype}; convert the input "
            f"(x.to({dtype})) or the model (model.to({x.dtype}))"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} has an empty batch (shape {tuple(x.shape)}); pass at least one sample")
    if min(x.shape[2:]) == 0:
        raise ValueError(f"{name} has an empty grid (shape {tuple(x.shape)}); every spatial axis needs at least one point")
    if not torch.compiler.is_compiling():
        check_finite(x, name=name)


def parameter_dtype(module: torch.nn.Module) -> torch.dtype | None:
    """The dtype of ``module``'s first parameter (``None`` without parameters): what its input must be."""
    parameter = next(module.parameters(), None)
    return None if parameter is None else parameter.dtype
