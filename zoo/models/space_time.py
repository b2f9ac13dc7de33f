"""A space-time operator: an initial field to a window of its trajectory at fine time resolution (PINO's setting).

PINO (Li et al. 2021) maps ``w0`` to ``w(t)`` for ``t`` in ``[0, T]`` with an FNO over ``(x, y, t)``.
Here an FNO in space predicts all frames of the window at once as its output channels: as
resolution-invariant in space (any grid, same weights), fixed in time (the frames are the
channels), and on one CPU core about ``frames`` times cheaper than a 3D FNO over the same window,
because the Fourier layers run on ``(x, y)`` alone. The prediction is ``w0`` plus the change the network
predicts, so an untrained model starts from persistence and the initial frame is near ``w0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from zoo.layers.validation import check_model_input
from zoo.models.fno import FNO
from zoo.models.registry import register_model


@register_model
class SpaceTimeFNO(nn.Module):
    """``w0`` ``(B, 1, H, W)`` to ``w(t_0), ..., w(t_{frames - 1})`` ``(B, frames, H, W)``, uniform in ``[0, window]``.

    Args:
        frames: time points of the window, both ends included (PINO: 65 over 0.5 time units).
        window: the time the frames span (stored in the config; the loss needs it).
        modes, width, n_layers, projection_channels: of the spatial :class:`FNO`.
        scale: typical size of the field (its standard deviation): the network sees ``w0 / scale``
            and predicts the change in units of ``scale``.
    """

    def __init__(
        self,
        frames: int,
        window: float,
        modes: Sequence[int] = (16, 16),
        width: int = 32,
        n_layers: int = 4,
        *,
        projection_channels: int = 128,
        scale: float = 1.0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if frames < 2 or window <= 0 or scale <= 0:
            raise ValueError(f"need frames >= 2, window > 0 and scale > 0, got {frames}, {window}, {scale}")
        self.frames, self.window, self.scale = frames, window, scale
        self.in_channels, self.out_channels = 1, frames
        self.fno = FNO(1, frames, modes, width, n_layers, projection_channels=projection_channels, device=device, dtype=dtype)

    def forward(self, w0: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W) -> (B, frames, H, W)``, frame ``j`` at ``t = j * window / (frames - 1)``."""
        check_model_input(w0, channels=1, ndim=2, dtype=self.fno.lifting.weight.dtype, name="SpaceTimeFNO input")
        return w0 + self.scale * self.fno(w0 / self.scale)
