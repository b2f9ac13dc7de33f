"""Accuracy and speed of zoo's PDE solvers, each against a reference computed in the same process.

    python benchmarks/pde_solvers.py [--quick] [--threads 1]

Navier-Stokes (nu = 1e-3, FNO forcing, GRF initial vorticity, 64x64, t = 10):
  * time error of the default step and of others vs a float64 dt = 2.5e-4 solve of the same scheme,
    and of the FNO paper's scheme (Crank-Nicolson + forward Euler, dt = 1e-4) written out here;
  * float32 round-off (default dt) vs float64;
  * 64x64 vs 128x128 (same initial field, spectrally truncated) at t = 1..10;
  * speed: trajectory-time-units per second, zoo's default step vs the paper's scheme and step.
Burgers (Cole-Hopf exact solution) and Darcy (manufactured solution): error and observed order.
Darcy in the FNO paper's setting (12 / 3 coefficient at 211 and 421 nodes): CPU seconds of one solve
with zoo's ordering (minimum degree on A + A^T) against SuperLU's default (COLAMD), interleaved.
(``--darcy-only`` runs only the Darcy parts.)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from zoo.pde import burgers_1d, darcy_2d, gaussian_random_field, navier_stokes_2d, wavenumbers


def relative_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


def fno_paper_scheme(w0, viscosity, t_end, dt):
    """The FNO paper's solver step: Crank-Nicolson diffusion, forward Euler advection + forcing."""
    n = w0.shape[-1]
    kx, ky = wavenumbers((n, n), dtype=w0.dtype)
    k2 = kx**2 + ky**2
    lap = torch.where(k2 > 0, k2, 1.0)
    kmax = 2 / 3 * (n // 2) * 2 * math.pi
    dealias = ((kx.abs() <= kmax) & (ky.abs() <= kmax)).to(w0.dtype)
    x = torch.arange(n, dtype=w0.dtype) / n
    X, Y = torch.meshgrid(x, x, indexing="ij")
    f_hat = torch.fft.rfft2(0.1 * (torch.sin(2 * math.pi * (X + Y)) + torch.cos(2 * math.pi * (X + Y))))
    w_hat = torch.fft.rfft2(w0)
    for _ in range(round(t_end / dt)):
        psi = w_hat / lap
        u, v, wx, wy = torch.fft.irfft2(torch.stack((1j * ky * psi, -1j * kx * psi, 1j * kx * w_hat, 1j * ky * w_hat)), s=(n, n))
        advection = dealias * torch.fft.rfft2(u * wx + v * wy)
        w_hat = (-dt * advection + dt * f_hat + (1 - 0.5 * dt * viscosity * k2) * w_hat) / (1 + 0.5 * dt * viscosity * k2)
    return torch.fft.irfft2(w_hat, s=(n, n))


def truncate_to(w, n):
    """Resample a periodic field on n x n points by spectral truncation (exact for band-limited fields)."""
    m = w.shape[-1]
    w_hat = torch.fft.rfft2(w, norm="forward")
    out = torch.zeros(*w.shape[:-2], n, n // 2 + 1, dtype=w_hat.dtype)
    h = min(m, n) // 2  # keep |k| < h on both axes: no Nyquist mode on either grid
    out[..., :h, :h] = w_hat[..., :h, :h]
    out[..., n - h + 1 :, :h] = w_hat[..., m - h + 1 :, :h]
    return torch.fft.irfft2(out, s=(n, n), norm="forward")


def navier_stokes(quick: bool):
    nu, t_end, batch = 1e-3, (2.0 if quick else 10.0), 4
    w0 = gaussian_random_field(batch, 64, seed=1, dtype=torch.float64)
    reference = navier_stokes_2d(w0, nu, t_end, dt=2.5e-4)[:, -1]
    print(f"## Navier-Stokes 2D, nu={nu}, 64x64, t={t_end}: relative L2 error vs float64 dt=2.5e-4")
    for dt in (1 / 200, 1 / 100, 1 / 50):
        print(f"zoo CN+Heun dt={dt:.4g}{' (default)' if dt == 0.01 else ''}: {relative_l2(navier_stokes_2d(w0, nu, t_end, dt=dt)[:, -1], reference):.2e}")
    print(f"zoo float32, default dt: {relative_l2(navier_stokes_2d(w0.float(), nu, t_end)[:, -1].double(), reference):.2e}")
    if not quick:
        start = time.perf_counter()
        paper = fno_paper_scheme(w0, nu, t_end, 1e-4)
        print(f"FNO paper's scheme, dt=1e-4 (float64): {relative_l2(paper, reference):.2e}  ({time.perf_counter() - start:.1f} s)")

    w128 = gaussian_random_field(batch, 128, seed=2, dtype=torch.float64)
    w128 = truncate_to(truncate_to(w128, 64), 128)  # the same band-limited field on both grids
    coarse = navier_stokes_2d(truncate_to(w128, 64), nu, t_end)
    fine = navier_stokes_2d(w128, nu, t_end)[..., ::2, ::2]
    errors = [relative_l2(coarse[:, t], fine[:, t]) for t in range(coarse.shape[1])]
    print(f"64x64 vs 128x128 (every 2nd point), same initial field: max over t=1..{t_end:g} {max(errors):.2e}")

    print("## Navier-Stokes speed, float32, batch 100, 64x64, one unit of time (1 thread unless --threads)")
    w = gaussian_random_field(100, 64, seed=0)
    start = time.perf_counter()
    navier_stokes_2d(w, nu, 1.0)
    zoo_seconds = time.perf_counter() - start
    start = time.perf_counter()
    fno_paper_scheme(w, nu, 0.05, 1e-4)
    paper_seconds = (time.perf_counter() - start) * 20
    print(f"zoo default (dt=0.01): {zoo_seconds:.2f} s; FNO paper scheme (dt=1e-4): {paper_seconds:.1f} s (timed over t=0.05, x20); ratio {paper_seconds / zoo_seconds:.0f}x")


def cole_hopf(x, t, nu):
    a, b = 0.5 * math.exp(-nu * (2 * math.pi) ** 2 * t), 0.3 * math.exp(-nu * (4 * math.pi) ** 2 * t)
    phi = 1 + a * torch.cos(2 * math.pi * x) + b * torch.sin(4 * math.pi * x)
    phi_x = -2 * math.pi * a * torch.sin(2 * math.pi * x) + 4 * math.pi * b * torch.cos(4 * math.pi * x)
    return -2 * nu * phi_x / phi


def burgers():
    print("## Burgers 1D vs Cole-Hopf, nu=0.01, t=0.5")
    for n in (64, 128, 256):
        x = torch.arange(n, dtype=torch.float64) / n
        u = burgers_1d(cole_hopf(x, 0.0, 0.01)[None], 0.01, 0.5, record_every=0.5)
        print(f"N={n}, default dt: {relative_l2(u[0, 0], cole_hopf(x, 0.5, 0.01)):.2e}")
    x = torch.arange(128, dtype=torch.float64) / 128
    errors = [relative_l2(burgers_1d(cole_hopf(x, 0.0, 0.01)[None], 0.01, 0.5, 0.5, dt=dt)[0, 0], cole_hopf(x, 0.5, 0.01)) for dt in (0.02, 0.01, 0.005)]
    print(f"N=128, dt=0.02/0.01/0.005: {', '.join(f'{e:.2e}' for e in errors)}; observed order {math.log2(errors[1] / errors[2]):.2f}")


def darcy():
    print("## Darcy 2D manufactured solution (max error)")
    pi, previous = math.pi, None
    for n in (17, 33, 65, 129):
        x = np.linspace(0, 1, n)
        X, Y = np.meshgrid(x, x, indexing="ij")
        u = np.sin(pi * X) * np.sin(2 * pi * Y) * np.exp(X)
        u_x = (pi * np.cos(pi * X) + np.sin(pi * X)) * np.sin(2 * pi * Y) * np.exp(X)
        u_xx = (-(pi**2) * np.sin(pi * X) + 2 * pi * np.cos(pi * X) + np.sin(pi * X)) * np.sin(2 * pi * Y) * np.exp(X)
        u_y, u_yy = 2 * pi * np.sin(pi * X) * np.cos(2 * pi * Y) * np.exp(X), -4 * pi**2 * u
        a = 2 + np.sin(2 * pi * X + 1) * np.cos(3 * pi * Y)
        a_x, a_y = 2 * pi * np.cos(2 * pi * X + 1) * np.cos(3 * pi * Y), -3 * pi * np.sin(2 * pi * X + 1) * np.sin(3 * pi * Y)
        f = -(a_x * u_x + a * u_xx + a_y * u_y + a * u_yy)
        start = time.perf_counter()
        error = np.abs(darcy_2d(torch.from_numpy(a)[None], torch.from_numpy(f))[0].numpy() - u).max()
        order = "" if previous is None else f", order {math.log2(previous / error):.2f}"
        print(f"n={n}: {error:.2e}{order} ({(time.perf_counter() - start) * 1e3:.0f} ms)")
        previous = error


def darcy_ordering(samples: int) -> None:
    """CPU seconds per FNO-setting Darcy solve, zoo's ordering against COLAMD on the same coefficients."""
    import scipy.sparse.linalg

    from zoo.data.generate import sample_generators
    from zoo.pde.darcy import threshold_coefficient

    print("## Darcy, FNO setting: CPU seconds per solve (one process; each coefficient solved with both orderings in turn)")
    original = scipy.sparse.linalg.spsolve

    def colamd(matrix, rhs, permc_spec=None):
        return original(matrix, rhs, permc_spec="COLAMD")

    for nodes in (211, 421):
        seconds: dict[str, list[float]] = {"zoo (MMD_AT_PLUS_A)": [], "COLAMD": []}
        for generator in sample_generators(3, 0, samples):
            a = threshold_coefficient(1, nodes, generator=generator)
            for name in seconds:
                scipy.sparse.linalg.spsolve = colamd if name == "COLAMD" else original
                try:
                    start = time.process_time()
                    darcy_2d(a, 1.0)
                    seconds[name].append(time.process_time() - start)
                finally:
                    scipy.sparse.linalg.spsolve = original
        zoo_s, colamd_s = (np.median(v) for v in seconds.values())
        print(f"n={nodes}: zoo {zoo_s:.2f} s, COLAMD {colamd_s:.2f} s (medians of {samples}); COLAMD / zoo {colamd_s / zoo_s:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--darcy-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.darcy_only:
        burgers()
    darcy()
    darcy_ordering(1 if args.quick else 3)
    if not args.darcy_only:
        navier_stokes(args.quick)
