"""A fine-grid time stepper built from a coarse one: the coarse operator plus a fine-scale correction.

The coarse operator (e.g. a checkpoint trained at 64x64) steps the flow on a coarse grid; its
prediction is brought back to the fine grid by Fourier interpolation, and a correction operator
that sees the fine input adds what the coarse grid cannot hold (and what the coarse model gets
wrong). Both grids are periodic, so restriction and prolongation are exact in Fourier space:
truncation keeps every mode the coarse grid can represent, zero-padding adds none.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo.layers.truncated_dft import dft_preferred, truncated_irdft, truncated_rdft
from zoo.layers.validation import check_field, check_model_input, parameter_dtype
from zoo.models.field_operators import _build_backbone
from zoo.models.registry import register_model
from zoo.models.time_stepper import TimeStepper


def spectral_resample(u: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Fourier interpolation of periodic 2D fields ``(..., H, W)`` onto an ``(h, w)`` grid.

    Keeps the modes ``|k_d| < min(n_in, n_out) / 2`` on each axis and drops the rest (coarsening:
    spectral truncation; refining: zero-padding). Nyquist modes of even grids are dropped, because
    they have no unique real counterpart on the other grid, so a field whose modes all satisfy
    that bound is reproduced exactly on any grid, and ``spectral_resample(spectral_resample(u, n),
    u.shape[-2:])`` returns ``u`` for such a field.

    Returns ``(..., h, w)`` samples at ``x_i = i / h``, ``y_j = j / w`` (``u`` itself when the grid
    is unchanged).
    """
    if not isinstance(u, torch.Tensor) or u.ndim < 2 or u.is_complex():
        raise ValueError(f"spectral_resample needs a real tensor (..., H, W), got {_describe(u)}")
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h < 1 or w < 1:
        raise ValueError(f"target grid must be positive, got {(h, w)}")
    if (h, w) == tuple(u.shape[-2:]):
        return u
    kept_x = (min(u.shape[-2], h) + 1) // 2  # frequencies 0..kept-1 and -(kept-1)..-1
    kept_y = (min(u.shape[-1], w) + 1) // 2
    if dft_preferred(u):
        # bf16, autocast or compiled: the same modes by real GEMMs (no complex tensors).
        kept = [(kept_x, kept_x - 1), (kept_y, 0)]
        return truncated_irdft(truncated_rdft(u, kept), kept, (h, w))
    coefficients = torch.fft.rfft2(u, norm="forward")
    resampled = coefficients.new_zeros(*u.shape[:-2], h, w // 2 + 1)
    resampled[..., :kept_x, :kept_y] = coefficients[..., :kept_x, :kept_y]
    if kept_x > 1:
        resampled[..., -(kept_x - 1) :, :kept_y] = coefficients[..., -(kept_x - 1) :, :kept_y]
    return torch.fft.irfft2(resampled, s=(h, w), norm="forward")


def _describe(u: Any) -> str:
    if isinstance(u, torch.Tensor):
        return f"shape {tuple(u.shape)} and dtype {u.dtype}"
    return type(u).__name__


@register_model
class MultiscaleOperator(TimeStepper, nn.Module):
    """``u -> P c(R u) + correction([u, P c(R u)])``: a coarse time stepper corrected on the fine grid.

    ``R`` restricts the input to the ``coarse_grid`` by spectral truncation
    (:func:`spectral_resample`), ``c`` is the coarse time stepper, ``P`` brings its one-step
    prediction back to the input's grid by Fourier zero-padding, and the correction operator
    reads the fine input history together with that prediction and returns the fine-scale part
    to add, in physical units.

    Args:
        coarse: ``{"architecture": ..., "config": ...}`` of a time stepper with ``history`` and
            ``channels`` attributes (an :class:`AutoregressiveOperator`), mapping
            ``(B, history * C, g, g) -> (B, C, g, g)``.
        correction: ``{"architecture": ..., "config": ...}`` of an operator in physical units
            (e.g. a :class:`FieldOperator` around an FNO) mapping
            ``(B, (history + 1) * C, H, W) -> (B, C, H, W)``.
        coarse_grid: points per axis ``g`` of the grid the coarse operator runs on.

    Shapes: ``forward`` maps ``(B, history * C, H, W)`` to ``(B, C, H, W)`` for any ``H, W >=
    coarse_grid``; :meth:`rollout` is :meth:`TimeStepper.rollout`. Use
    :meth:`from_parts` to assemble one from trained modules.
    """

    def __init__(self, coarse: dict[str, Any], correction: dict[str, Any], coarse_grid: int = 64) -> None:
        super().__init__()
        if not isinstance(coarse_grid, int) or coarse_grid < 2:
            raise ValueError(f"coarse_grid must be an integer >= 2, got {coarse_grid!r}")
        self.coarse = _build_backbone(coarse)
        self.correction = _build_backbone(correction)
        if not all(hasattr(self.coarse, name) for name in ("history", "channels", "rollout")):
            raise ValueError(
                f"the coarse operator must be a time stepper with history, channels and rollout "
                f"(an AutoregressiveOperator); {coarse['architecture']} is not"
            )
        self.history, self.channels = self.coarse.history, self.coarse.channels
        needed = ((self.history + 1) * self.channels, self.channels)
        if (self.correction.in_channels, self.correction.out_channels) != needed:
            raise ValueError(
                f"the correction maps {self.correction.in_channels} -> {self.correction.out_channels} channels, "
                f"but it reads history={self.history} frames and the coarse prediction of {self.channels} "
                f"channel(s) each, so it must map {needed[0]} -> {needed[1]}"
            )
        self.coarse_grid = coarse_grid

    @classmethod
    def from_parts(cls, coarse: nn.Module, correction: nn.Module, coarse_grid: int = 64) -> MultiscaleOperator:
        """Assemble from registered modules (e.g. a pretrained coarse stepper), copying their weights."""
        specs = []
        for role, part in (("coarse", coarse), ("correction", correction)):
            if not hasattr(part, "config"):
                raise ValueError(f"the {role} part must be a registered zoo model (with .config), got {type(part).__name__}")
            specs.append({"architecture": type(part).__name__, "config": part.config})
        model = cls(*specs, coarse_grid=coarse_grid)
        model.coarse.load_state_dict(coarse.state_dict())
        model.correction.load_state_dict(correction.state_dict())
        return model

    def coarse_prediction(self, u: torch.Tensor) -> torch.Tensor:
        """The coarse operator's next step on the input's grid: ``(B, history * C, H, W) -> (B, C, H, W)``."""
        check_model_input(u, channels=self.in_channels, ndim=2, dtype=parameter_dtype(self), name="MultiscaleOperator input")
        if min(u.shape[-2:]) < self.coarse_grid:
            raise ValueError(
                f"MultiscaleOperator input grid {tuple(u.shape[-2:])} is coarser than its coarse_grid "
                f"{self.coarse_grid}; call the coarse operator (model.coarse) directly on such grids"
            )
        coarse = self.coarse(spectral_resample(u, self.coarse_grid))
        return spectral_resample(coarse, tuple(u.shape[-2:]))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``(B, history * C, H, W) -> (B, C, H, W)``: one step on the input's grid."""
        coarse = self.coarse_prediction(u)
        return coarse + self.correction(torch.cat([u, coarse], dim=1))
