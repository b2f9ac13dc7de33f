"""Physics-informed (PINO) residuals: how far a predicted field is from satisfying its PDE.

Residual functions take fields in physical units and return the pointwise residual, zero for an
exact solution up to discretisation error. Periodic problems (Burgers, Navier-Stokes) differentiate
in space spectrally with :mod:`zoo.pde.spectral` (the same calculus as the solvers) and in time by
finite differences over the predicted trajectory, as PINO (Li et al. 2021, arXiv 2111.03794)
does, here with the second-order midpoint rule (:func:`midpoint_residual`). Darcy flow is not periodic (zero Dirichlet boundary), so spectral
derivatives would ring at the walls: it uses the conservative five-point finite-difference stencil.

The ``*Physics`` classes turn a model's ``(inputs, prediction)`` into a scalar mean-square residual
for training; see each class for the layout it expects.
"""

from __future__ import annotations

import torch

from zoo.pde.navier_stokes import NAMED_FORCINGS, Forcing
from zoo.pde.spectral import laplacian, spectral_derivative, wavenumbers


def midpoint_residual(trajectory: torch.Tensor, dt: float, spatial_terms, *, time_axis: int) -> torch.Tensor:
    """``(u[n+1] - u[n]) / dt + (F(u[n]) + F(u[n+1])) / 2`` for ``u_t + F(u) = 0``: ``T - 1`` frames.

    The time derivative is taken between consecutive frames and the spatial terms averaged over
    them (the Crank-Nicolson residual, second order at the midpoints). A central difference
    ``(u[n+1] - u[n-1]) / 2 dt`` would be blind to an error alternating in sign from frame to
    frame, which an optimiser minimising the residual then happily grows.
    """
    n = trajectory.shape[time_axis]
    if n < 2:
        raise ValueError(f"a time derivative needs at least 2 frames on axis {time_axis}, got shape {tuple(trajectory.shape)}")
    later, earlier = trajectory.narrow(time_axis, 1, n - 1), trajectory.narrow(time_axis, 0, n - 1)
    terms = spatial_terms(trajectory)
    mean_terms = (terms.narrow(time_axis, 1, n - 1) + terms.narrow(time_axis, 0, n - 1)) / 2
    return (later - earlier) / dt + mean_terms


def burgers_residual(u: torch.Tensor, *, dt: float, viscosity: float, length: float = 1.0) -> torch.Tensor:
    """Residual of viscous Burgers ``u_t + u u_x - nu u_xx`` on the periodic interval ``[0, length)``.

    Args:
        u: trajectory ``(..., T, X)`` sampled every ``dt`` at points ``x_i = i length / X``.

    Returns:
        ``(..., T - 1, X)``: the residual at the midpoints between frames (:func:`midpoint_residual`).
    """

    def spatial_terms(u: torch.Tensor) -> torch.Tensor:
        u_x = spectral_derivative(u, (1,), length=length)
        return u * u_x - viscosity * spectral_derivative(u, (2,), length=length)

    return midpoint_residual(u, dt, spatial_terms, time_axis=-2)


def forcing_field(forcing: Forcing, spatial: tuple[int, int], *, device=None, dtype=torch.float32) -> torch.Tensor | None:
    """A forcing as the solver takes it (a name in ``NAMED_FORCINGS``, ``f(x, y)``, a tensor or
    ``None``) evaluated on the grid ``x_i = i / X``, ``y_j = j / Y``: ``(X, Y)``, a tensor, or ``None``."""
    if forcing is None or isinstance(forcing, torch.Tensor):
        return forcing
    if isinstance(forcing, str):
        if forcing not in NAMED_FORCINGS:
            raise ValueError(f"unknown forcing {forcing!r}; named forcings: {sorted(NAMED_FORCINGS)}")
        forcing = NAMED_FORCINGS[forcing]
    x = torch.arange(spatial[0], device=device, dtype=dtype)[:, None] / spatial[0]
    y = torch.arange(spatial[1], device=device, dtype=dtype)[None, :] / spatial[1]
    return forcing(x, y)


def stream_function(vorticity: torch.Tensor) -> torch.Tensor:
    """``psi`` with ``-lap psi = w`` and zero mean on the periodic unit square: ``(..., X, Y)``."""
    spatial = vorticity.shape[-2:]
    w_hat = torch.fft.rfftn(vorticity, dim=(-2, -1))
    k_x, k_y = wavenumbers(spatial, device=vorticity.device, dtype=w_hat.real.dtype)
    k_squared = k_x**2 + k_y**2
    # The mean of psi is free (only its derivatives are physical): set it to zero.
    inverse = torch.where(k_squared > 0, 1.0 / torch.where(k_squared > 0, k_squared, 1.0), 0.0)
    return torch.fft.irfftn(w_hat * inverse, s=spatial, dim=(-2, -1))


def two_thirds_rule(field: torch.Tensor) -> torch.Tensor:
    """``field`` ``(..., X, Y)`` without the wavenumbers ``|k_d| > (2/3) (n_d / 2)`` on either axis."""
    spatial = field.shape[-2:]
    field_hat = torch.fft.rfftn(field, dim=(-2, -1))
    keep = torch.ones((), dtype=torch.bool, device=field.device)
    for n, k in zip(spatial, wavenumbers(spatial, length=float(2 * torch.pi), device=field.device)):
        keep = keep & (k.abs() <= (2 / 3) * (n // 2))  # integer wavenumbers on a box of side 2 pi
    return torch.fft.irfftn(field_hat * keep, s=spatial, dim=(-2, -1))


def navier_stokes_residual(
    vorticity: torch.Tensor,
    *,
    dt: float,
    viscosity: float,
    forcing: Forcing = "fno",
    dealias: bool = True,
) -> torch.Tensor:
    """Residual of 2D incompressible Navier-Stokes in vorticity form on the periodic unit square.

    ``w_t + u . grad w - nu lap w - f`` with velocity ``u = (d psi / dy, -d psi / dx)`` from the
    stream function ``-lap psi = w``: the FNO paper's equations and axis convention (axis ``-2``
    is ``x``, axis ``-1`` is ``y``), as :func:`zoo.pde.navier_stokes_2d` solves them.

    Args:
        vorticity: trajectory ``(..., T, X, Y)`` sampled every ``dt``.
        forcing: as the solver's: ``"fno"`` (the paper's), ``None``, a callable ``f(x, y)`` of grid
            coordinates, or a tensor broadcastable to ``(..., T - 1, X, Y)`` (the forcing at the
            midpoints between frames).

    Returns:
        ``(..., T - 1, X, Y)``: the residual at the midpoints (:func:`midpoint_residual`).
    """
    if vorticity.ndim < 3:
        raise ValueError(f"vorticity must be a trajectory (..., T, X, Y), got shape {tuple(vorticity.shape)}")
    forcing = forcing_field(forcing, tuple(vorticity.shape[-2:]), device=vorticity.device, dtype=vorticity.dtype)

    def spatial_terms(w: torch.Tensor) -> torch.Tensor:
        psi = stream_function(w)
        velocity_x = spectral_derivative(psi, (0, 1))
        velocity_y = -spectral_derivative(psi, (1, 0))
        advection = velocity_x * spectral_derivative(w, (1, 0)) + velocity_y * spectral_derivative(w, (0, 1))
        if dealias:
            advection = two_thirds_rule(advection)
        return advection - viscosity * laplacian(w, 2)

    residual = midpoint_residual(vorticity, dt, spatial_terms, time_axis=-3)
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

    def __init__(self, *, viscosity: float, dt: float, forcing: Forcing = "fno", dealias: bool = True) -> None:
        self.viscosity, self.dt, self.forcing, self.dealias = viscosity, dt, forcing, dealias

    def __call__(self, inputs: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
        trajectory = torch.cat([inputs[:, -1:].to(prediction.dtype), prediction], dim=1)
        residual = navier_stokes_residual(
            trajectory.float(), dt=self.dt, viscosity=self.viscosity, forcing=self.forcing, dealias=self.dealias
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
