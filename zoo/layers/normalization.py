"""Per-channel normalisation held by a model, so users pass and receive physical units."""

from __future__ import annotations

import torch
from torch import nn


class ChannelNormalizer(nn.Module):
    """``encode(x) = (x - mean) / std`` per channel; ``decode`` inverts it.

    Buffers ``mean`` and ``std`` have shape ``(C,)`` and are saved in the state dict. Fields are
    ``(B, K * C, *spatial)``: a channel count that is a multiple ``K`` of ``C`` is read as ``K`` time
    steps of ``C`` channels, oldest first (the layout of autoregressive windows), and each step uses
    the same statistics. Per-channel (not per-grid-point) statistics keep the model resolution-free.
    """

    def __init__(self, channels: int, *, eps: float = 1e-6, device=None, dtype=torch.float32) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        self.eps = eps
        self.register_buffer("mean", torch.zeros(channels, device=device, dtype=dtype))
        self.register_buffer("std", torch.ones(channels, device=device, dtype=dtype))

    @property
    def channels(self) -> int:
        return self.mean.numel()

    @torch.no_grad()
    def fit(self, samples: torch.Tensor, *, channel_dim: int = 1) -> ChannelNormalizer:
        """Set ``mean``/``std`` from ``samples``, reducing over every axis but ``channel_dim``; returns self.

        E.g. ``(N, C, *spatial)`` with ``channel_dim=1`` or trajectories ``(N, T, C, *spatial)`` with
        ``channel_dim=2``. Accumulates in float64 (a float32 sum over 10^8 values loses digits).
        """
        if samples.shape[channel_dim] != self.channels:
            raise ValueError(
                f"samples have {samples.shape[channel_dim]} channels on axis {channel_dim} (shape "
                f"{tuple(samples.shape)}), the normaliser {self.channels}"
            )
        values = samples.movedim(channel_dim, 0).reshape(self.channels, -1).double()
        if values.shape[1] < 2:
            raise ValueError("need at least two values per channel to estimate a std")
        self.mean.copy_(values.mean(1))
        self.std.copy_(values.std(1))
        return self

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim < 2 or x.shape[1] % self.channels:
            raise ValueError(
                f"expected (B, K * {self.channels}, *spatial) for {self.channels} channels, got shape {tuple(x.shape)}"
            )
        repeats = x.shape[1] // self.channels
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return self.mean.repeat(repeats).view(shape), self.std.repeat(repeats).view(shape)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Physical ``(B, K * C, *spatial)`` -> normalised, same shape."""
        mean, std = self._stats(x)
        return (x - mean) / (std + self.eps)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Normalised ``(B, K * C, *spatial)`` -> physical, same shape."""
        mean, std = self._stats(z)
        return z * (std + self.eps) + mean

    def extra_repr(self) -> str:
        return f"channels={self.channels}, eps={self.eps}"
