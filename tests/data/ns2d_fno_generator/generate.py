"""An independent Navier-Stokes generator for the cross-generator check (tests/test_cross_generator.py).

    OMP_NUM_THREADS=1 python tests/data/ns2d_fno_generator/generate.py   # writes trajectories.safetensors

A port of the FNO authors' data script (Li et al. 2021, ``data_generation/navier_stokes/ns_2d.py``
and ``random_fields.py``), kept outside the library on purpose: it shares no code with
``zoo.pde``, so a change there cannot change this reference. What it keeps of the original:
the Gaussian random field ``N(0, 7^(3/2) (-lap + 49 I)^(-2.5))`` sampled as
``ifft2(sqrt(2) N^2 sigma (4 pi^2 |k|^2 + tau^2)^(-alpha/2) (xi_re + i xi_im))``, Crank-Nicolson
diffusion with explicit (forward) Euler advection and forcing, dt = 1e-4, the 2/3 dealiasing mask
on the advection term, float32 arithmetic throughout, records every 1.0 time unit. What it changes:
it solves at 64x64 (the original solves at 256x256 and keeps every 4th point; 256 is 16x the cost
per step, too heavy for this machine, and at nu = 1e-3 the flow is resolved at 64x64) and it uses
``torch.fft``'s real transforms for the removed ``torch.rfft``/``torch.irfft`` on full spectra.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
SEED = 2024  # torch.manual_seed of the original script's single stream, drawn once for all trajectories
SAMPLES = 4
RESOLUTION = 64
VISCOSITY = 1e-3
T_END = 50
DT = 1e-4


def wavenumbers(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer wavenumbers ``k_x`` (along axis 0) and ``k_y`` (axis 1), ``(n, n)``, FFT order."""
    k = torch.cat((torch.arange(0, n // 2), torch.arange(-(n // 2), 0))).repeat(n, 1)
    return k.transpose(0, 1), k


def gaussian_rf(samples: int, n: int, generator: torch.Generator, alpha: float = 2.5, tau: float = 7.0) -> torch.Tensor:
    """The original ``GaussianRF(2, n, alpha, tau).sample(samples)`` in float32, ``(samples, n, n)``."""
    sigma = tau ** (0.5 * (2 * alpha - 2))
    k_x, k_y = wavenumbers(n)
    sqrt_eig = (n**2) * math.sqrt(2.0) * sigma * ((4 * math.pi**2 * (k_x**2 + k_y**2) + tau**2) ** (-alpha / 2.0))
    sqrt_eig[0, 0] = 0.0
    coeff = torch.randn(samples, n, n, 2, generator=generator)
    coeff = torch.complex(sqrt_eig * coeff[..., 0], sqrt_eig * coeff[..., 1])
    return torch.fft.ifft2(coeff).real


def solve(w0: torch.Tensor, forcing: torch.Tensor, visc: float, t_end: float, dt: float, record_every: float = 1.0) -> torch.Tensor:
    """The original ``navier_stokes_2d``: vorticity ``(B, n, n)`` -> ``(B, T, n, n)`` at t = 1, 2, ..., t_end."""
    n = w0.shape[-1]
    k_x, k_y = (k.to(torch.float32) for k in wavenumbers(n))
    lap = 4 * math.pi**2 * (k_x**2 + k_y**2)
    lap[0, 0] = 1.0
    k_max = n // 2
    dealias = ((k_y.abs() <= (2.0 / 3.0) * k_max) & (k_x.abs() <= (2.0 / 3.0) * k_max)).to(torch.float32)
    # Real FFTs (half the spectrum) where the original used full complex ones: the same arithmetic on
    # the kept half, about twice as fast; the Nyquist mode, removed by the 2/3 mask, is all that differs.
    half = n // 2 + 1
    k_x, k_y, lap, dealias = (a[:, :half] for a in (k_x, k_y, lap, dealias))
    d_x, d_y = 2j * math.pi * k_x, 2j * math.pi * k_y
    d_y_over_lap, minus_d_x_over_lap = d_y / lap, -d_x / lap
    explicit = 1.0 - 0.5 * dt * visc * lap
    implicit = 1.0 + 0.5 * dt * visc * lap
    w_h = torch.fft.rfft2(w0)
    f_h = torch.fft.rfft2(forcing)
    steps = math.ceil(t_end / dt)
    per_record = round(record_every / dt)
    records = []
    for j in range(steps):
        u = torch.fft.irfft2(d_y_over_lap * w_h, s=(n, n))  # psi_y
        v = torch.fft.irfft2(minus_d_x_over_lap * w_h, s=(n, n))  # -psi_x
        w_x = torch.fft.irfft2(d_x * w_h, s=(n, n))
        w_y = torch.fft.irfft2(d_y * w_h, s=(n, n))
        advection_h = dealias * torch.fft.rfft2(u * w_x + v * w_y)
        w_h = (-dt * advection_h + dt * f_h + explicit * w_h) / implicit
        if (j + 1) % per_record == 0:
            records.append(torch.fft.irfft2(w_h, s=(n, n)))
    return torch.stack(records, dim=1)


def main() -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(SEED)
    w0 = gaussian_rf(SAMPLES, RESOLUTION, generator)
    x = torch.linspace(0, 1, RESOLUTION + 1, dtype=torch.float32)[:-1]
    X, Y = torch.meshgrid(x, x, indexing="ij")
    forcing = 0.1 * (torch.sin(2 * math.pi * (X + Y)) + torch.cos(2 * math.pi * (X + Y)))
    start = time.perf_counter()
    w = solve(w0, forcing, VISCOSITY, T_END, DT)
    vorticity = torch.cat([w0[:, None], w], dim=1).contiguous()  # (4, 51, 64, 64): t = 0, 1, ..., 50
    save_file({"vorticity": vorticity}, str(HERE / "trajectories.safetensors"),
              metadata={"generator": "tests/data/ns2d_fno_generator/generate.py", "seed": str(SEED), "dt": str(DT),
                        "resolution": str(RESOLUTION), "viscosity": str(VISCOSITY), "times": "0..50 every 1.0"})
    print(f"wrote {tuple(vorticity.shape)} in {time.perf_counter() - start:.0f} s; std(w0) {w0.std():.3f}")


if __name__ == "__main__":
    main()
