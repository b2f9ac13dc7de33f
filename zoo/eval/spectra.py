"""Shell-summed spectra of periodic 2D fields, for comparing predicted and true flows.

Shells are integer wavenumber counts ``k`` (periods per domain length); a flow on ``[0, L)^2`` has
angular wavenumber ``2 pi k / L`` in shell ``k``. Energy ``1/2 <|u|^2>`` and enstrophy
``1/2 <w^2>`` are domain means, so ``E(k)`` and ``Z(k)`` sum to them.
"""

from __future__ import annotations

import torch


def radial_power_spectrum(field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Power of a periodic field summed over integer wavenumber shells ``k - 1/2 <= |k| < k + 1/2``.

    Args:
        field: ``(..., H, W)`` real samples of a field on the unit torus.

    Returns:
        ``(k, power)``: shell wavenumbers ``0..min(H, W)//2`` and ``(..., K)`` power per shell, with
        ``power.sum(-1)`` equal to the field's mean square (Parseval) up to the corner modes beyond
        the last full shell.
    """
    h, w = field.shape[-2:]
    coefficients = torch.fft.fft2(field, norm="forward")
    power = coefficients.real**2 + coefficients.imag**2
    kx = torch.fft.fftfreq(h, d=1.0 / h, device=field.device)
    ky = torch.fft.fftfreq(w, d=1.0 / w, device=field.device)
    shell = torch.sqrt(kx[:, None] ** 2 + ky[None, :] ** 2).round().long()
    n_shells = min(h, w) // 2 + 1
    inside = shell < n_shells
    flat = power[..., inside]
    spectrum = flat.new_zeros(*flat.shape[:-1], n_shells).index_add_(-1, shell[inside], flat)
    return torch.arange(n_shells, device=field.device), spectrum


def kinetic_energy_spectrum(vorticity: torch.Tensor, *, length: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Kinetic-energy spectrum ``E(k)`` of a 2D incompressible flow from its vorticity ``(..., H, W)``.

    For a divergence-free velocity on ``[0, length)^2``, ``|u_hat(k)|^2 = |w_hat(k)|^2 / |2 pi k / length|^2``
    and ``E = 1/2 |u|^2``; the mean flow (k = 0) carries no vorticity and is reported as 0.
    """
    k, power = radial_power_spectrum(vorticity)
    scale = torch.zeros_like(k, dtype=power.dtype)
    scale[1:] = 0.5 / (2 * torch.pi * k[1:].to(power.dtype) / length) ** 2
    return k, power * scale


def enstrophy_spectrum(vorticity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Enstrophy spectrum ``Z(k)`` (shells of :func:`radial_power_spectrum`) summing to ``1/2 <w^2>``.

    In 2D ``Z(k) = (2 pi k / L)^2 E(k)`` shell by shell, whatever the domain length ``L``.
    """
    k, power = radial_power_spectrum(vorticity)
    return k, 0.5 * power


def kinetic_energy(vorticity: torch.Tensor, *, length: float = 1.0) -> torch.Tensor:
    """Domain-mean kinetic energy ``1/2 <|u|^2>`` ``(...)`` of flows with vorticity ``(..., H, W)``, every mode included."""
    h, w = vorticity.shape[-2:]
    coefficients = torch.fft.fft2(vorticity, norm="forward")
    kx = torch.fft.fftfreq(h, d=1.0 / h, device=vorticity.device, dtype=coefficients.real.dtype)
    ky = torch.fft.fftfreq(w, d=1.0 / w, device=vorticity.device, dtype=coefficients.real.dtype)
    k2 = (2 * torch.pi / length) ** 2 * (kx[:, None] ** 2 + ky[None, :] ** 2)
    inverse_k2 = torch.where(k2 > 0, 1.0 / torch.where(k2 > 0, k2, 1.0), 0.0)
    return 0.5 * ((coefficients.real**2 + coefficients.imag**2) * inverse_k2).sum((-2, -1))
