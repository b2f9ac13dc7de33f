"""Gaussian random fields: the initial-condition and coefficient laws of the FNO benchmarks.

``gaussian_random_field`` samples a periodic field on the unit torus with covariance built from
``(-Laplacian + tau^2 I)^(-alpha)``, the law of the FNO paper's Navier-Stokes initial vorticity
(``alpha=2.5, tau=7``). ``cosine_random_field`` samples the same law with Neumann boundaries (a
cosine series), the law behind the FNO paper's Darcy coefficients.

Noise is always drawn on the CPU in float64 from a ``torch.Generator``, so a seed gives the same
field on every device and in every dtype.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import torch


def _resolve_generator(generator: torch.Generator | None, seed: int | None) -> torch.Generator:
    if generator is not None and seed is not None:
        raise ValueError("pass either generator or seed, not both")
    if generator is None:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(int(seed))
    if generator.device.type != "cpu":
        raise ValueError(f"generator must live on the CPU (noise is drawn there), got {generator.device}")
    return generator


def _check_law(batch: int, resolution: int, dim: int, alpha: float, tau: float) -> None:
    if batch < 1 or resolution < 2 or dim < 1:
        raise ValueError(f"need batch >= 1, resolution >= 2 and dim >= 1, got {batch}, {resolution}, {dim}")
    if alpha <= dim / 2:
        # The pointwise variance sum_k (|2 pi k|^2 + tau^2)^(-alpha) diverges unless alpha > dim/2.
        raise ValueError(f"alpha must exceed dim/2 = {dim / 2} for a field with finite variance, got {alpha}")
    if tau <= 0:
        raise ValueError(f"tau must be positive, got {tau}")


def gaussian_random_field(
    batch: int,
    resolution: int,
    *,
    dim: int = 2,
    alpha: float = 2.5,
    tau: float = 7.0,
    sigma: float | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Periodic zero-mean Gaussian random fields on ``[0, 1)^dim``, shape ``(batch, *[resolution] * dim)``.

    Law (the FNO paper's ``GaussianRF``, whose output defines the published data sets):
    ``u(x) = Re sum_k sqrt(2) sigma (4 pi^2 |k|^2 + tau^2)^(-alpha/2) xi_k exp(2 pi i k.x)`` over the
    grid's frequencies ``k != 0``, with ``xi_k`` complex normals whose real and imaginary parts are
    each N(0, 1); ``sigma`` defaults to ``tau^(alpha - dim/2)``. That is the covariance
    ``2 sigma^2 (-Laplacian + tau^2 I)^(-alpha)``: the factor 2 is the paper's convention, not a
    textbook one, and it is what gives its Navier-Stokes data std(w0) ~ 0.26 at 64x64 (a sampler
    with variance 1/2 per part gets 1/sqrt(2) of that).
    """
    _check_law(batch, resolution, dim, alpha, tau)
    if sigma is None:
        sigma = tau ** (alpha - dim / 2)
    generator = _resolve_generator(generator, seed)
    k = torch.fft.fftfreq(resolution, d=1.0 / resolution, dtype=torch.float64)
    k2 = sum(
        (2 * math.pi * k.reshape([-1 if a == axis else 1 for a in range(dim)])) ** 2 for axis in range(dim)
    )
    amplitude = math.sqrt(2.0) * sigma * (k2 + tau**2) ** (-alpha / 2)
    amplitude[(0,) * dim] = 0.0  # zero mean
    shape = (batch, *[resolution] * dim)
    noise = torch.complex(
        torch.randn(shape, generator=generator, dtype=torch.float64),
        torch.randn(shape, generator=generator, dtype=torch.float64),
    )
    # ifftn divides by resolution^dim; the series above has no such factor.
    field = torch.fft.ifftn(noise * amplitude, dim=tuple(range(1, dim + 1)), norm="forward").real
    return field.to(device=device, dtype=dtype)


def cosine_random_field(
    batch: int,
    resolution: int,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Zero-mean Gaussian random fields with Neumann boundaries on ``[0, 1]^2``, ``(batch, resolution, resolution)``.

    The FNO paper's Darcy coefficient law (its MATLAB ``GRF``): a cosine series with coefficients
    ``tau^(alpha-1) (pi^2 |k|^2 + tau^2)^(-alpha/2) xi_k``, ``xi_k ~ N(0, 1)``, ``k in {0..n-1}^2``,
    ``k = 0`` dropped, evaluated at ``n`` equispaced cell centres with an orthonormal inverse DCT-II
    scaled by ``n`` as in MATLAB's ``idct2``. Returned as float64 numpy (the Darcy solver is scipy).
    """
    _check_law(batch, resolution, 2, alpha, tau)
    generator = _resolve_generator(generator, seed)
    k = np.arange(resolution, dtype=np.float64)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    coefficient = tau ** (alpha - 1) * (math.pi**2 * k2 + tau**2) ** (-alpha / 2)
    coefficient[0, 0] = 0.0
    noise = torch.randn((batch, resolution, resolution), generator=generator, dtype=torch.float64).numpy()
    return scipy.fft.idctn(resolution * coefficient * noise, type=2, axes=(1, 2), norm="ortho")
