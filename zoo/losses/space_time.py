"""PINO's space-time residual (Li et al. 2021, arXiv 2111.03794) for the Kolmogorov vorticity equation.

A space-time operator predicts a whole window ``w(t_0 .. t_N)`` at fine time resolution; its loss is
how far that window is from solving

    dw/dt + u . grad(w) - (1 / Re) Laplacian(w) + alpha w - (-4 cos(4 y)) = 0    on (0, 2 pi)^2,

the equation of :func:`zoo.pde.kolmogorov_flow`, discretised the way the solver discretises space
(its unit-square spectrum, :class:`zoo.pde.spectral.PeriodicSpectrum2d`, 2/3 rule on the
advection) on a grid that may be finer than the prediction's (spectral interpolation), and in time
by a fourth-order staggered scheme: the derivative and the right-hand side are both taken at the
midpoints ``t_{j + 1/2}`` (the Crank-Nicolson residual, raised to fourth order). Midpoints, not the
frames themselves, because the fourth-order central difference at the frames
``(-w[j+2] + 8 w[j+1] - 8 w[j-1] + w[j-2]) / 12 h`` is blind to an error alternating in sign from
frame to frame, which an optimiser minimising the residual then grows; the staggered derivative
sees every non-constant pattern (tested).

Why the old residual (:func:`zoo.losses.physics.navier_stokes_residual` between stored frames one
time unit apart) could not work: it replaces ``dw/dt`` by a difference over a time in which the
flow changes completely, so its truncation error is as large as the residual of a wrong
trajectory. Here the frames are ``T / N`` apart (``1 / 128`` of a time unit by default, ~30 frames
per eddy turnover) and the truncation error of the solver's own trajectory is ~1e-6 of a wrong one's.
"""

from __future__ import annotations

import numpy as np
import torch

from zoo.models.multiscale import spectral_resample
from zoo.pde.kolmogorov import unit_square_forcing, unit_square_viscosity
from zoo.pde.navier_stokes import periodic_grid
from zoo.pde.spectral import PeriodicSpectrum2d

MIN_FRAMES = 5  # the end stencils use five frames


def staggered_time_stencils(frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fourth-order weights ``(D, P)``, each ``(frames - 1, frames)`` float64, for ``frames`` uniform times ``h`` apart.

    ``(D @ w) / h`` is ``dw/dt`` and ``P @ w`` is ``w`` at the midpoints ``t_{j + 1/2}``. Inside,
    the symmetric four-frame stencils ``(27 (w[j+1] - w[j]) - (w[j+2] - w[j-1])) / 24`` and
    ``(9 (w[j] + w[j+1]) - w[j-1] - w[j+2]) / 16``; at the two ends five frames on one side keep
    the fourth order. Weights come from the moment conditions on each stencil (exact for quartics).
    """
    if frames < MIN_FRAMES:
        raise ValueError(f"a fourth-order time derivative needs at least {MIN_FRAMES} frames, got {frames}")
    derivative, interpolation = np.zeros((frames - 1, frames)), np.zeros((frames - 1, frames))
    for j in range(frames - 1):
        if 1 <= j <= frames - 3:
            nodes = np.arange(j - 1, j + 3)
        else:
            nodes = np.arange(0, 5) if j == 0 else np.arange(frames - 5, frames)
        offsets = nodes - (j + 0.5)
        powers = np.arange(len(nodes))
        moments = offsets[None, :] ** powers[:, None]  # row p: sum_i weight_i offset_i^p
        derivative[j, nodes] = np.linalg.solve(moments, (powers == 1).astype(float))
        interpolation[j, nodes] = np.linalg.solve(moments, (powers == 0).astype(float))
    return torch.from_numpy(derivative), torch.from_numpy(interpolation)


def kolmogorov_residual(
    vorticity: torch.Tensor,
    *,
    window: float,
    reynolds: float,
    drag: float,
    grid: int | None = None,
    modes: int | None = None,
) -> torch.Tensor:
    """Residual of the Kolmogorov vorticity equation over a window, at its time midpoints.

    Args:
        vorticity: ``(B, N, n, n)``, frames at ``t = 0, window / (N - 1), ..., window`` on the grid
            ``x_i = 2 pi i / n`` (axis ``-2`` is x, axis ``-1`` is y, as the solver's).
        window: time from the first frame to the last.
        reynolds, drag: ``nu = 1 / Re`` and the linear drag ``alpha`` of :func:`zoo.pde.kolmogorov_flow`.
        grid: points per axis where the equation is evaluated (default ``n``: the solver's scheme on
            the fields' grid, 2/3 rule included). A finer grid takes the products of the spectrally
            interpolated fields there (``grid >= 3 n / 2``: exact for the modes the fields carry, no
            2/3 rule truncation below ``n / 2``), and the residual is projected back onto those modes.
        modes: keep only the residual's modes ``|k_x|, |k_y| < modes`` (default: all the fields carry).

    Returns:
        ``(B, N - 1, n, n)``: ``dw/dt - rhs(w)`` at the midpoints, in vorticity per time unit.

    Pitfall: small only for fields that resolve the flow. The modes ``|k| < 16`` of a Re = 500
    trajectory keep ~28% of persistence's rms residual (the truncated equation misses the transfer to
    the small scales; docs/kolmogorov.md), and point-sampled fields fold unresolved modes back in.
    That error lives near the cutoff: on the lower half of the modes (``modes = n / 4``) it is ~1%.
    """
    if vorticity.ndim != 4 or vorticity.shape[-1] != vorticity.shape[-2]:
        raise ValueError(f"vorticity must be a window (B, N, n, n), got shape {tuple(vorticity.shape)}")
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    batch, frames, n = vorticity.shape[0], vorticity.shape[1], vorticity.shape[-1]
    grid = grid or n
    if grid < n:
        raise ValueError(f"grid {grid} must not be coarser than the fields' {n}: the residual is evaluated on a finer grid, not a coarser one")
    derivative, interpolation = (s.to(device=vorticity.device, dtype=vorticity.dtype) for s in staggered_time_stencils(frames))
    step = window / (frames - 1)

    w = spectral_resample(vorticity, grid)
    spectrum = PeriodicSpectrum2d(grid, device=w.device, dtype=w.dtype)
    w_hat = torch.fft.rfft2(w.reshape(batch * frames, 1, grid, grid))
    advection = spectrum.advection(*spectrum.velocity_from_vorticity(w_hat[:, 0]), w_hat)
    x, y = periodic_grid(grid, device=w.device, dtype=w.dtype)
    # The unit-square form of the equation (zoo.pde.kolmogorov's docstring): the same arrays.
    rate_hat = (
        torch.fft.rfft2(unit_square_forcing(x, y))
        - advection
        - (unit_square_viscosity(reynolds) * spectrum.k2 + drag) * w_hat
    )
    rate = torch.fft.irfft2(rate_hat, s=(grid, grid)).reshape(batch, frames, grid, grid)
    residual = torch.einsum("mt,btxy->bmxy", derivative, w) / step - torch.einsum("mt,btxy->bmxy", interpolation, rate)
    # Back to the modes the fields carry (Galerkin): on the finer grid the advection also has modes
    # |k| >= n / 2 that no field on n points can balance, whatever its accuracy.
    residual = spectral_resample(residual, n)
    return residual if modes is None else spectral_resample(spectral_resample(residual, 2 * modes - 1), n)


class KolmogorovPhysics:
    """PINO's loss of a predicted window: the mean-square residual plus the initial-condition mismatch.

    Inputs ``(B, 1, n, n)`` hold ``w0``, the prediction ``(B, N, n, n)`` the window from ``t = 0``
    to ``window`` (its first frame should be ``w0``). ``pde``: ``mean(R^2) / mean(f^2)`` with
    ``f = -4 cos(4 y)`` (``mean(f^2) = 8``), a fixed scale, so one weight works for every window;
    ``initial``: ``mean((w(0) - w0)^2) / mean(w0^2)``. The call returns ``pde + initial_weight * initial``.
    ``grid_factor``: the equation is evaluated on ``grid_factor * n`` points per axis (:func:`kolmogorov_residual`;
    1.5, the 3/2 rule, makes the products exact for the predicted modes); ``modes``: the residual's
    modes that count (default all).
    """

    FORCING_MEAN_SQUARE = 8.0

    def __init__(self, *, window: float, reynolds: float, drag: float, grid_factor: float = 1.5, initial_weight: float = 1.0,
                 modes: int | None = None) -> None:
        if grid_factor < 1:
            raise ValueError(f"grid_factor must be >= 1, got {grid_factor}")
        self.window, self.reynolds, self.drag, self.modes = window, reynolds, drag, modes
        self.grid_factor, self.initial_weight = grid_factor, initial_weight

    def terms(self, inputs: torch.Tensor, prediction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pde, initial)``, two scalars."""
        residual = kolmogorov_residual(prediction, window=self.window, reynolds=self.reynolds, drag=self.drag,
                                       grid=round(self.grid_factor * prediction.shape[-1]), modes=self.modes)
        pde = residual.square().mean() / self.FORCING_MEAN_SQUARE
        w0 = inputs[:, 0]
        initial = (prediction[:, 0] - w0).square().mean() / w0.square().mean().clamp_min(1e-12)
        return pde, initial

    def __call__(self, inputs: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        pde, initial = self.terms(inputs, prediction)
        return pde + self.initial_weight * initial
