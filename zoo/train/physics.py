"""Physics-informed (PINO) residuals: how far a predicted field is from satisfying its PDE.

Residual functions take fields in physical units and return the pointwise residual, zero for an
exact solution up to discretisation error. Periodic problems (Burgers, Navier-Stokes) differentiate
in space spectrally with :mod:`zoo.pde.spectral` (the same calculus as the solvers) and in time by
second-order central differences over the predicted trajectory, as PINO (Li et al. 2021,
arXiv 2111.03794) does. Darcy flow is not periodic (zero Dirichlet boundary), so spectral
derivatives would ring at the walls: it uses the conservative five-point finite-difference stencil.

The ``*Physics`` classes turn a model's ``(inputs, prediction)`` into a scalar mean-square residual
for training; see each class for the layout it expects.
"""

from __future__ import annotations

import math

import torch

from zoo.pde.spectral import laplacian, spectral_derivative, wavenumbers


def central_time_derivative(trajectory: torch.Tensor, dt: float, *, time_axis: int) -> torch.Tensor:
    """``(u[t+1] - u[t-1]) / (2 dt)`` at the interior times: the time axis shrinks by 2."""
    if trajectory.shape[time_axis] < 3:
        raise ValueError(
            f"a central time difference needs at least 3 frames on axis {time_axis}, "
            f"got shape {tuple(trajectory.shape)}"
        )
    n = trajectory.shape[time_axis]
    return (trajectory.narrow(time_axis, 2, n - 2) - trajectory.narrow(time_axis, 0, n - 2)) / (2 * dt)


def interior_times(trajectory: torch.Tensor, *, time_axis: int) -> torch.Tensor:
    """Frames ``1 .. T-2``: the times where :func:`central_time_derivative` is defined."""
    return trajectory.narrow(time_axis, 1, trajectory.shape[time_axis] - 2)


def burgers_residual(u: torch.Tensor, *, dt: float, viscosity: float, length: float = 1.0) -> torch.Tensor:
    """Residual of viscous Burgers ``u_t + u u_x - nu u_xx`` on the periodic interval ``[0, length)``.

    Args:
        u: trajectory ``(..., T, X)`` sampled every ``dt`` at points ``x_i = i length / X``.

    Returns:
        ``(..., T - 2, X)``: the residual at the interior times.
    """
    u_t = central_time_derivative(u, dt, time_axis=-2)
    u = interior_times(u, time_axis=-2)
    u_x = spectral_derivative(u, (1,), length=length)
    u_xx = spectral_derivative(u, (2,), length=length)
    return u_t + u * u_x - viscosity * u_xx


def fno_forcing(spatial: tuple[int, int], *, device=None, dtype=torch.float32) -> torch.Tensor:
    """The FNO paper's Navier-Stokes forcing ``0.1 (sin 2 pi (x + y) + cos 2 pi (x + y))``: ``(X, Y)``."""
    x = torch.arange(spatial[0], device=device, dtype=dtype)[:, None] / spatial[0]
    y = torch.arange(spatial[1], device=device, dtype=dtype)[None, :] / spatial[1]
    phase = 2 * math.pi * (x + y)
    return 0.1 * (torch.sin(phase) + torch.cos(phase))


def stream_function(vorticity: torch.Tensor) -> torch.Tensor:
    """``psi`` with ``-lap psi = w`` and zero mean on the periodic unit square: ``(..., X, Y)``."""
    spatial = vorticity.shape[-2:]
    w_hat = torch.fft.rfftn(vorticity, dim=(-2, -1))
    k_x, k_y = wavenumbers(spatial, device=vorticity.device, dtype=w_hat.real.dtype)
    k_squared = k_x**2 + k_y**2
    # The mean of psi is free (only its derivatives are physical): set it to zero.
    inverse = torch.where(k_squared > 0, 1.0 / torch.where(k_squared > 0, k_squared, 1.0), 0.0)
    return torch.fft.irfftn(w_hat * inverse, s=spatial, dim=(-2, -1))


def navier_stokes_residual(
    vorticity: torch.Tensor,
    *,
    dt: float,
    viscosity: float,
    forcing: torch.Tensor | str | None = "fno",
) -> torch.Tensor:
    """Residual of 2D incompressible Navier-Stokes in vorticity form on the periodic unit square.

    ``w_t + u . grad w - nu lap w - f`` with velocity ``u = (d psi / dy, -d psi / dx)`` from the
    stream function ``-lap psi = w``: the FNO paper's equations and axis convention (axis ``-2``
    is ``x``, axis ``-1`` is ``y``).

    Args:
        vorticity: trajectory ``(..., T, X, Y)`` sampled every ``dt``.
        forcing: ``"fno"`` (:func:`fno_forcing`), ``None`` (no forcing) or a tensor broadcastable
            to ``(..., T - 2, X, Y)``.

    Returns:
        ``(..., T - 2, X, Y)``: the residual at the interior times.
    """
    if vorticity.ndim < 3:
        raise ValueError(f"vorticity must be a trajectory (..., T, X, Y), got shape {tuple(vorticity.shape)}")
    w_t = central_time_derivative(vorticity, dt, time_axis=-3)
    w = interior_times(vorticity, time_axis=-3)
    psi = stream_function(w)
    velocity_x = spectral_derivative(psi, (0, 1))
    velocity_y = -spectral_derivative(psi, (1, 0))
    advection = velocity_x * spectral_derivative(w, (1, 0)) + velocity_y * spectral_derivative(w, (0, 1))
    residual = w_t + advection - viscosity * laplacian(w, 2)
    if isinstance(forcing, str):
        if forcing != "fno":
            raise ValueError(f"unknown forcing {forcing!r}; pass 'fno', None or a tensor")
        forcing = fno_forcing(tuple(w.shape[-2:]), device=w.device, dtype=w.dtype)
    return residual if forcing is None else residual - forcing


def darcy_residual(pressure: torch.Tensor, permeability: torch.Tensor, *, forcing: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Residual of Darcy flow ``-div(a grad u) - f`` at the interior nodes of the unit square.

    Conservative five-point finite differences with face permeabilities averaged from the two
    neighbouring nodes, the standard scheme for a rough (piecewise-constant) ``a``.

    Args:
        pressure: ``u``, ``(..., H, W)`` on the node grid ``x_i = i / (H - 1)``, boundary included.
        permeability: ``a``, same shape (or broadcastable).
        forcing: ``f``, a number or a tensor broadcastable to ``(..., H, W)`` (its interior is used).

    Returns:
        ``(..., H - 2, W - 2)``. The Dirichlet condition is separate: :func:`dirichlet_boundary`.
    """
    if pressure.ndim < 2 or min(pressure.shape[-2:]) < 3:
        raise ValueError(f"Darcy fields need at least 3x3 nodes (..., H, W), got shape {tuple(pressure.shape)}")
    a = torch.broadcast_to(permeability, pressure.shape)
    flux = []
    for axis, n in ((-2, pressure.shape[-2]), (-1, pressure.shape[-1])):
        h = 1.0 / (n - 1)
        face_a = (a.narrow(axis, 1, n - 1) + a.narrow(axis, 0, n - 1)) / 2
        face_flux = face_a * (pressure.narrow(axis, 1, n - 1) - pressure.narrow(axis, 0, n - 1)) / h
        divergence = (face_flux.narrow(axis, 1, n - 2) - face_flux.narrow(axis, 0, n - 2)) / h
        flux.append(divergence)
    # Each divergence is interior along its own axis only: crop the other axis to the interior.
    div_x = flux[0][..., 1:-1]
    div_y = flux[1][..., 1:-1, :]
    if isinstance(forcing, torch.Tensor):
        forcing = torch.broadcast_to(forcing, pressure.shape)[..., 1:-1, 1:-1]
    return -(div_x + div_y) - forcing


def dirichlet_boundary(field: torch.Tensor) -> torch.Tensor:
    """The values on the boundary ring of ``(..., H, W)``: ``(..., 2 H + 2 W - 4)`` (zero when satisfied)."""
    return torch.cat(
        [field[..., 0, :], field[..., -1, :], field[..., 1:-1, 0], field[..., 1:-1, -1]], dim=-1
    )


class BurgersPhysics:
    """Mean-square Burgers residual of a predicted trajectory.

    The model maps the state at ``t0`` (the last input channel, ``(B, C_in, X)``) to the next
    ``T`` states ``(B, T, X)`` at ``t0 + dt, ..., t0 + T dt``; the residual is taken over the
    trajectory that starts with the input state, so the initial condition is enforced too.
    """

    def __init__(self, *, viscosity: float, dt: float, length: float = 1.0) -> None:
        self.viscosity, self.dt, self.length = viscosity, dt, length

    def __call__(self, inputs: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        trajectory = torch.cat([inputs[:, -1:].to(prediction.dtype), prediction], dim=1)
        residual = burgers_residual(trajectory.float(), dt=self.dt, viscosity=self.viscosity, length=self.length)
        return residual.square().mean()


class NavierStokesPhysics:
    """Mean-square vorticity residual of a predicted trajectory.

    Layout as in the FNO paper's 2D setting: inputs ``(B, history, X, Y)`` hold the last frames
    (the latest last), the prediction ``(B, T, X, Y)`` the next ``T`` frames, ``dt`` apart.
    """

    def __init__(self, *, viscosity: float, dt: float, forcing: torch.Tensor | str | None = "fno") -> None:
        self.viscosity, self.dt, self.forcing = viscosity, dt, forcing

    def __call__(self, inputs: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        trajectory = torch.cat([inputs[:, -1:].to(prediction.dtype), prediction], dim=1)
        residual = navier_stokes_residual(
            trajectory.float(), dt=self.dt, viscosity=self.viscosity, forcing=self.forcing
        )
        return residual.square().mean()


class DarcyPhysics:
    """Darcy residual relative to the forcing, plus the zero-Dirichlet boundary mismatch.

    Inputs ``(B, 1, H, W)`` hold the permeability ``a``, the prediction ``(B, 1, H, W)`` the
    pressure ``u`` on the node grid including the boundary; ``forcing`` is a number or an
    ``(H, W)`` field. The loss is ``mean(R^2) / mean(f^2) + boundary_weight * mean(u_boundary^2) /
    mean(u^2)``: both terms are scale-free, so one weight works across data sets.
    """

    def __init__(self, *, forcing: float | torch.Tensor = 1.0, boundary_weight: float = 1.0) -> None:
        self.forcing, self.boundary_weight = forcing, boundary_weight

    def __call__(self, inputs: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        pressure, permeability = prediction[:, 0].float(), inputs[:, 0].float()
        forcing = self.forcing.to(pressure.device) if isinstance(self.forcing, torch.Tensor) else self.forcing
        residual = darcy_residual(pressure, permeability, forcing=forcing)
        interior = residual.square().mean() / torch.as_tensor(forcing, dtype=torch.float32).square().mean()
        # The scale only normalises: detached, so the loss cannot shrink by inflating the interior.
        scale = pressure.detach().square().mean().clamp_min(1e-12)
        boundary = dirichlet_boundary(pressure).square().mean() / scale
        return interior + self.boundary_weight * boundary
