"""Time stepping shared by the pseudo-spectral solvers on the periodic square: record schedule, steps, driver.

A solver writes ``dF/dt = L F + N(F)`` per Fourier mode, with ``L = -kappa |k|^2`` a diagonal
(per field) diffusion and ``N`` everything else, and picks one of two second-order-or-better steps:

- :class:`CrankNicolsonHeun`: Crank-Nicolson for ``L`` (unconditionally stable) and Heun's method
  (explicit trapezoid) for ``N``; second order. Heun is stable on the negative real axis down to
  ``-2`` (reactions) but slightly unstable on the imaginary axis (``|G|^2 = 1 + (lambda dt)^4 / 4``),
  so it suits advection only where viscosity damps the fastest modes (the Navier-Stokes solver's scheme).
- :class:`IntegratingFactorRK4`: ``L`` integrated exactly (integrating factor) and classical RK4 for
  ``N``; fourth order, stable on the imaginary axis up to ``|lambda dt| = 2 sqrt 2``, so it suits
  advection and waves with little dissipation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from tqdm.auto import tqdm

Rhs = Callable[[torch.Tensor], torch.Tensor]


def record_schedule(t_end: float, record_every: float, dt: float) -> tuple[int, int, float]:
    """``(n_records, steps_per_record, dt)``: ``dt`` rounded down so that each record falls on a step."""
    if not (record_every > 0 and math.isfinite(record_every)):
        raise ValueError(f"record_every must be positive and finite, got {record_every}")
    n_records = round(t_end / record_every)
    if n_records < 1 or not math.isclose(n_records * record_every, t_end, rel_tol=1e-9):
        raise ValueError(f"t_end = {t_end} must be a positive multiple of record_every = {record_every}")
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt must be positive and finite, got {dt}")
    steps_per_record = math.ceil(record_every / dt - 1e-9)
    return n_records, steps_per_record, record_every / steps_per_record


class CrankNicolsonHeun:
    """One step of Crank-Nicolson (diffusivities ``kappa`` ``(F, 1, 1)`` times ``k2``) + Heun (``rhs``)."""

    def __init__(self, kappa: torch.Tensor, k2: torch.Tensor, dt: float):
        self.dt = dt
        self.explicit_half = 1.0 - 0.5 * dt * kappa * k2
        self.implicit_half_inverse = 1.0 / (1.0 + 0.5 * dt * kappa * k2)

    def __call__(self, f_hat: torch.Tensor, rhs: Rhs) -> torch.Tensor:
        rhs_now = rhs(f_hat)
        diffused = self.explicit_half * f_hat
        predicted = (diffused + self.dt * rhs_now) * self.implicit_half_inverse
        return (diffused + 0.5 * self.dt * (rhs_now + rhs(predicted))) * self.implicit_half_inverse


class IntegratingFactorRK4:
    """One step of classical RK4 on ``exp(-L t) F`` (diffusivities ``kappa`` ``(F, 1, 1)`` times ``k2``)."""

    def __init__(self, kappa: torch.Tensor, k2: torch.Tensor, dt: float):
        self.dt = dt
        self.decay = torch.exp(-dt * kappa * k2)
        self.decay_half = torch.exp(-0.5 * dt * kappa * k2)

    def __call__(self, f_hat: torch.Tensor, rhs: Rhs) -> torch.Tensor:
        dt, e, e_half = self.dt, self.decay, self.decay_half
        k1 = rhs(f_hat)
        half = e_half * f_hat
        k2 = rhs(half + 0.5 * dt * e_half * k1)
        k3 = rhs(half + 0.5 * dt * k2)
        k4 = rhs(e * f_hat + dt * e_half * k3)
        return e * f_hat + (dt / 6) * (e * k1 + 2 * e_half * (k2 + k3) + k4)


def integrate(
    f_hat: torch.Tensor,
    step: CrankNicolsonHeun | IntegratingFactorRK4,
    rhs: Rhs,
    n_records: int,
    steps_per_record: int,
    *,
    name: str,
    record_every: float,
    progress: bool = False,
) -> torch.Tensor:
    """Advance spectra ``f_hat`` ``(B, F, n, n // 2 + 1)``; return the fields at each record, ``(B, T, F, n, n)``.

    Raises ``FloatingPointError`` naming the solver as soon as a record is not finite.
    """
    resolution = f_hat.shape[-2]
    records = torch.empty((f_hat.shape[0], n_records, f_hat.shape[1], resolution, resolution), dtype=f_hat.real.dtype, device=f_hat.device)
    for record in tqdm(range(n_records), disable=not progress, desc=name, unit="record"):
        for _ in range(steps_per_record):
            f_hat = step(f_hat, rhs)
        records[:, record] = torch.fft.irfft2(f_hat, s=(resolution, resolution))
        if not torch.isfinite(records[:, record]).all():
            raise FloatingPointError(f"{name} blew up before t = {(record + 1) * record_every:g} with dt = {step.dt:g}: use a smaller dt")
    return records


def check_fields(**fields: torch.Tensor) -> None:
    """One-line ``ValueError`` unless the fields are finite real ``(B, n, n)`` tensors of one shape, dtype and device."""
    first_name, first = next(iter(fields.items()))
    for name, field in fields.items():
        if not isinstance(field, torch.Tensor) or field.is_complex() or not field.is_floating_point():
            raise ValueError(f"{name} must be a real floating tensor, got {getattr(field, 'dtype', type(field).__name__)}")
        if field.ndim != 3 or field.shape[-1] != field.shape[-2] or field.shape[-1] < 4:
            raise ValueError(f"{name} must have shape (B, n, n) with n >= 4, got {tuple(field.shape)}")
        if (field.shape, field.dtype, field.device) != (first.shape, first.dtype, first.device):
            raise ValueError(
                f"{name} {tuple(field.shape)} {field.dtype} {field.device} must match {first_name} {tuple(first.shape)} {first.dtype} {first.device}"
            )
        if not torch.isfinite(field).all():
            raise ValueError(f"{name} has non-finite values: pass a finite initial state")


def check_non_negative(**coefficients: float) -> None:
    """One-line ``ValueError`` unless every coefficient is finite and ``>= 0``."""
    for name, value in coefficients.items():
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be finite and non-negative, got {value}")
