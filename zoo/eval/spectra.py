"""Shell-averaged spectra of periodic 2D fields, for comparing predicted and true flows."""

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


def kinetic_energy_spectrum(vorticity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Kinetic-energy spectrum ``E(k)`` of a 2D incompressible flow from its vorticity ``(..., H, W)``.

    For a divergence-free velocity, ``|u_hat(k)|^2 = |w_hat(k)|^2 / |2 pi k|^2`` and
    ``E = 1/2 |u|^2``; the mean flow (k = 0) carries no vorticity and is reported as 0.
    """
    k, enstrophy = radial_power_spectrum(vorticity)
    scale = torch.zeros_like(k, dtype=enstrophy.dtype)
    scale[1:] = 0.5 / (2 * torch.pi * k[1:].to(enstrophy.dtype)) ** 2
    return k, enstrophy * scale
