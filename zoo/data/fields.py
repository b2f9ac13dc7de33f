"""``FieldData``: samples of physical fields on a regular grid, whatever file they came from.

Every reader (zoo's shards, neuraloperator ``.pt``, PDEBench and The Well HDF5) returns one, and the
training datasets (``TimeWindows``, ``OperatorPairs``) are built on it, so a model never needs to
know where its data came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from zoo.data.store import DataFileError


@dataclass(frozen=True)
class FieldData:
    """Time-dependent fields ``trajectories (N, T, C, *spatial)`` and optional static ones.

    Attributes:
        trajectories: ``(N, T, C, *spatial)``, channel ``c`` named ``channels[c]``.
        times: ``(T,)`` time stamps (float64).
        static: ``(N, S, *spatial)`` time-independent fields (coefficients, forcing) or ``None``.
        static_channels: names of the ``S`` static channels.
        metadata: what the source file says (equation, parameters, grid, ...).
        source: the file or directory read, named in every error.
    """

    trajectories: torch.Tensor
    channels: list[str]
    times: torch.Tensor
    static: torch.Tensor | None = None
    static_channels: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        u = self.trajectories
        if u.ndim < 4:
            raise DataFileError(f"{self.source}: trajectories must be (N, T, C, *spatial), got shape {tuple(u.shape)}")
        if u.shape[2] != len(self.channels):
            raise DataFileError(f"{self.source}: {u.shape[2]} channels but {len(self.channels)} names {self.channels}")
        if self.times.shape != (u.shape[1],):
            raise DataFileError(f"{self.source}: {u.shape[1]} time steps but times has shape {tuple(self.times.shape)}")
        if self.static is not None:
            s = self.static
            if s.ndim != u.ndim - 1 or s.shape[0] != u.shape[0] or s.shape[2:] != u.shape[3:]:
                raise DataFileError(
                    f"{self.source}: static fields {tuple(s.shape)} do not match trajectories {tuple(u.shape)} "
                    "(expected (N, S, *spatial))"
                )
            if s.shape[1] != len(self.static_channels):
                raise DataFileError(f"{self.source}: {s.shape[1]} static channels but names {self.static_channels}")
        for name, tensor in (("trajectories", u), ("static", self.static)):
            if tensor is not None and tensor.is_floating_point() and not torch.isfinite(tensor).all():
                bad = int((~torch.isfinite(tensor)).sum())
                raise DataFileError(f"{self.source}: {name} hold {bad} NaN/Inf values")

    @property
    def num_samples(self) -> int:
        return self.trajectories.shape[0]

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(self.trajectories.shape[3:])

    def subsample(self, factor: int | Sequence[int]) -> FieldData:
        """Every ``factor``-th grid point per spatial axis (the FNO convention for coarser grids)."""
        ndim = len(self.spatial_shape)
        factors = [factor] * ndim if isinstance(factor, int) else list(factor)
        if len(factors) != ndim or min(factors) < 1:
            raise ValueError(f"need one positive factor per spatial axis ({ndim}), got {factor}")
        index = (...,) + tuple(slice(None, None, f) for f in factors)
        return replace(
            self,
            trajectories=self.trajectories[index].contiguous(),
            static=None if self.static is None else self.static[index].contiguous(),
        )

    def select(self, samples: slice | Sequence[int] = slice(None), times: slice | Sequence[int] = slice(None)) -> FieldData:
        """A subset of samples and/or time steps."""
        trajectories = self.trajectories[samples][:, times]
        return replace(
            self,
            trajectories=trajectories,
            times=self.times[times],
            static=None if self.static is None else self.static[samples],
        )

    def channel_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and std of the trajectories over samples, times and grid: two ``(C,)`` tensors."""
        values = self.trajectories.transpose(0, 2).reshape(len(self.channels), -1).double()
        return values.mean(1).float(), values.std(1).float()


class TimeWindows(torch.utils.data.Dataset):
    """Autoregressive training pairs: ``history`` steps in, the next ``horizon`` steps out.

    Item ``(x, y)``: ``x`` is ``(history * C [+ S], *spatial)``, time steps flattened into channels
    oldest first (then the static fields, if ``include_static``); ``y`` is ``(horizon * C, *spatial)``.
    Windows start every ``stride`` steps in every trajectory.
    """

    def __init__(self, data: FieldData, history: int = 10, horizon: int = 1, *, stride: int = 1, include_static: bool = True) -> None:
        steps = data.trajectories.shape[1]
        if history < 1 or horizon < 1 or stride < 1:
            raise ValueError(f"history, horizon and stride must be positive, got {history}, {horizon}, {stride}")
        if history + horizon > steps:
            raise ValueError(f"{data.source}: {steps} time steps cannot hold history={history} + horizon={horizon}")
        self.data = data
        self.history, self.horizon, self.stride = history, horizon, stride
        self.include_static = include_static and data.static is not None
        self.windows_per_trajectory = (steps - history - horizon) // stride + 1

    def __len__(self) -> int:
        return self.data.num_samples * self.windows_per_trajectory

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        sample, window = divmod(index, self.windows_per_trajectory)
        start = window * self.stride
        u = self.data.trajectories[sample]
        x = u[start : start + self.history].flatten(0, 1)
        y = u[start + self.history : start + self.history + self.horizon].flatten(0, 1)
        if self.include_static:
            x = torch.cat([x, self.data.static[sample]])
        return x.float(), y.float()


class OperatorPairs(torch.utils.data.Dataset):
    """Input-to-output pairs, e.g. Darcy ``a -> u`` or Burgers ``u(0) -> u(T)``.

    Item ``(x, y)``: ``x`` stacks the static fields (if ``include_static``) and the trajectories at
    ``input_times``; ``y`` the trajectories at ``target_times``; shapes ``(channels, *spatial)``.
    """

    def __init__(
        self,
        data: FieldData,
        input_times: Sequence[int] = (),
        target_times: Sequence[int] = (-1,),
        *,
        include_static: bool = True,
    ) -> None:
        self.include_static = include_static and data.static is not None
        if not input_times and not self.include_static:
            raise ValueError(f"{data.source}: no input (no input_times and no static fields)")
        if not target_times:
            raise ValueError("target_times must name at least one time index")
        steps = data.trajectories.shape[1]
        for t in (*input_times, *target_times):
            if not -steps <= t < steps:
                raise ValueError(f"{data.source}: time index {t} out of range for {steps} steps")
        self.data, self.input_times, self.target_times = data, list(input_times), list(target_times)

    def __len__(self) -> int:
        return self.data.num_samples

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.data.trajectories[index]
        parts = [self.data.static[index]] if self.include_static else []
        if self.input_times:
            parts.append(u[self.input_times].flatten(0, 1))
        return torch.cat(parts).float(), u[self.target_times].flatten(0, 1).float()
