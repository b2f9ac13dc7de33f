"""Statistics of a chaotic flow's attractor, computed the same way on solver and model trajectories.

Past a few Lyapunov times a surrogate cannot follow a chaotic trajectory pointwise; what it must
keep are the attractor's statistics (Li et al. 2022, Markov neural operators): the energy and
enstrophy spectra, the mean dissipation rate, the one-point vorticity distribution and the
correlation time of the kinetic energy. :func:`flow_statistics` measures them on vorticity
trajectories ``(N, T, H, W)`` or ``(T, H, W)`` of a 2D incompressible flow on the periodic square
``[0, L)^2``, pooling every frame of every trajectory (the trajectories are taken to sample one
stationary state); :func:`compare_statistics` gives the distances a model card quotes.

Conventions: energy ``1/2 <|u|^2>`` and enstrophy ``1/2 <w^2>`` are domain means; the viscous
dissipation rate is ``nu <|grad u|^2> = nu <w^2>`` (equal on a periodic domain, integrating by
parts), with ``nu`` in the units of the domain and the time (Kolmogorov flow on ``(0, 2 pi)^2``:
``nu = 1 / Re``). Vorticity values do not depend on the domain length; energies do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zoo.eval.spectra import enstrophy_spectrum, kinetic_energy, kinetic_energy_spectrum

# Frames per FFT batch: bounds the memory of spectra of long trajectories.
_CHUNK = 256


@dataclass(frozen=True)
class FlowStatistics:
    """One flow's attractor statistics (all float64 on the CPU).

    ``k``: shells ``(K,)``; ``energy_spectrum``, ``enstrophy_spectrum``: time-mean ``E(k)``, ``Z(k)``
    ``(K,)``; ``dissipation``: mean ``nu <w^2>``; ``vorticity_mean``, ``vorticity_std``: pooled over
    space and time; ``bins``: PDF bin edges ``(B + 1,)`` and ``pdf``: density ``(B,)`` on them;
    ``times``: ``(T,)`` and ``energy``: kinetic energy ``(N, T)`` per frame; ``lags``: ``(M,)`` and
    ``autocorrelation``: of the energy ``(M,)``; ``correlation_time``: its integral.
    """

    k: torch.Tensor
    energy_spectrum: torch.Tensor
    enstrophy_spectrum: torch.Tensor
    dissipation: float
    vorticity_mean: float
    vorticity_std: float
    bins: torch.Tensor
    pdf: torch.Tensor
    times: torch.Tensor
    energy: torch.Tensor
    lags: torch.Tensor
    autocorrelation: torch.Tensor
    correlation_time: float

    def summary(self) -> dict[str, float]:
        """The scalar statistics, JSON-ready."""
        return {
            "dissipation": self.dissipation,
            "mean_energy": float(self.energy.mean()),
            "mean_enstrophy": float(self.enstrophy_spectrum.sum()),
            "vorticity_std": self.vorticity_std,
            "energy_correlation_time": self.correlation_time,
        }


def as_trajectories(vorticity: torch.Tensor) -> torch.Tensor:
    """``(T, H, W)`` or ``(N, T, H, W)`` as ``(N, T, H, W)`` float64, with a named error otherwise."""
    if vorticity.ndim == 3:
        vorticity = vorticity[None]
    if vorticity.ndim != 4 or vorticity.shape[-1] != vorticity.shape[-2] or vorticity.shape[1] < 2:
        raise ValueError(f"vorticity must be (T, n, n) or (N, T, n, n) with T >= 2 frames, got {tuple(vorticity.shape)}")
    if not torch.isfinite(vorticity).all():
        raise ValueError("vorticity holds non-finite values (a rollout that blew up): compare only finite trajectories")
    return vorticity.detach().to("cpu", torch.float64)


def mean_spectra(vorticity: torch.Tensor, *, length: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shells ``k`` and the mean ``E(k)``, ``Z(k)`` over every frame of ``(..., H, W)``."""
    frames = vorticity.reshape(-1, *vorticity.shape[-2:])
    energy = enstrophy = 0.0
    for chunk in frames.split(_CHUNK):
        k, e = kinetic_energy_spectrum(chunk, length=length)
        energy = energy + e.sum(0)
        enstrophy = enstrophy + enstrophy_spectrum(chunk)[1].sum(0)
    return k, energy / len(frames), enstrophy / len(frames)


def dissipation_rate(vorticity: torch.Tensor, viscosity: float) -> float:
    """Mean viscous dissipation ``nu <|grad u|^2> = nu <w^2>`` over every point and frame of ``(..., H, W)``."""
    return viscosity * float(vorticity.double().square().mean())


def autocorrelation(series: torch.Tensor, max_lag: int | None = None) -> torch.Tensor:
    """Normalised autocorrelation ``C(lag)`` ``(max_lag + 1,)`` of series ``(N, T)`` or ``(T,)`` sampled evenly.

    The mean and variance are pooled over all series (one stationary process); each lag averages
    every pair that many samples apart (the unbiased estimator). ``max_lag`` defaults to ``T // 2``.
    """
    series = series.double().reshape(-1, series.shape[-1])
    length = series.shape[-1]
    max_lag = length // 2 if max_lag is None else max_lag
    if not 0 < max_lag < length:
        raise ValueError(f"max_lag must be in [1, {length - 1}] for series of {length} samples, got {max_lag}")
    centred = series - series.mean()
    variance = centred.square().mean()
    if variance == 0:
        raise ValueError("the series is constant: its autocorrelation is undefined")
    # Wiener-Khinchin with zero padding to 2T gives every lagged product sum at once.
    spectrum = torch.fft.rfft(centred, n=2 * length)
    products = torch.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=2 * length)[:, : max_lag + 1].sum(0)
    pairs = series.shape[0] * (length - torch.arange(max_lag + 1, dtype=torch.float64))
    return products / pairs / variance


def integral_correlation_time(correlation: torch.Tensor, dt: float) -> float:
    """``int_0^tau C(s) ds`` (trapezoid) up to the first zero crossing ``tau`` of ``C`` (or its last lag).

    Cutting at the first zero keeps the noise of the long-lag tail, which averages to nothing but
    grows with the lag, out of the estimate; for ``C = exp(-s / theta)`` it returns ``theta``.
    """
    negative = (correlation <= 0).nonzero()
    end = int(negative[0]) if len(negative) else len(correlation) - 1
    kept = correlation[: end + 1]
    if end > 0 and kept[-1] < 0:
        # Stop at the crossing itself, interpolated between the last positive lag and the first non-positive one.
        fraction = float(kept[-2] / (kept[-2] - kept[-1]))
        return dt * (float(torch.trapezoid(kept[:-1])) + 0.5 * fraction * float(kept[-2]))
    return dt * float(torch.trapezoid(kept))


def pdf_bins(vorticity: torch.Tensor, count: int = 100, span: float = 6.0) -> torch.Tensor:
    """``count + 1`` even bin edges over ``mean +- span std`` of a reference's vorticity (shared by the flows it is compared with)."""
    mean, std = float(vorticity.double().mean()), float(vorticity.double().std())
    return torch.linspace(mean - span * std, mean + span * std, count + 1, dtype=torch.float64)


def vorticity_pdf(vorticity: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Probability density ``(B,)`` of the vorticity values on bin edges ``(B + 1,)``, normalised over all values (outliers included)."""
    values = vorticity.double().flatten()
    counts = torch.histogram(values, bins=bins.double()).hist
    return counts / (len(values) * torch.diff(bins.double()))


def wasserstein_1(a: torch.Tensor, b: torch.Tensor) -> float:
    """Exact Wasserstein-1 distance between the empirical distributions of samples ``a`` and ``b`` (any shapes).

    In 1D, ``W1 = int |F_a(x) - F_b(x)| dx``; both empirical CDFs are step functions that change only
    at the pooled sample values, so the integral is a finite sum over the sorted pool.
    """
    a, b = a.double().flatten().sort().values, b.double().flatten().sort().values
    if len(a) == 0 or len(b) == 0:
        raise ValueError("wasserstein_1 needs at least one sample on each side")
    pooled = torch.cat([a, b]).sort().values
    cdf_a = torch.searchsorted(a, pooled[:-1], right=True).double() / len(a)
    cdf_b = torch.searchsorted(b, pooled[:-1], right=True).double() / len(b)
    return float(((cdf_a - cdf_b).abs() * torch.diff(pooled)).sum())


def flow_statistics(
    vorticity: torch.Tensor,
    *,
    dt: float,
    viscosity: float,
    length: float,
    bins: torch.Tensor | None = None,
    max_lag: int | None = None,
) -> FlowStatistics:
    """Attractor statistics of vorticity trajectories ``(N, T, H, W)`` or ``(T, H, W)`` recorded every ``dt``.

    ``length``: the domain side ``L`` (``2 pi`` for Kolmogorov flow); ``viscosity`` in its units;
    ``bins``: PDF edges (default :func:`pdf_bins` of this flow; pass the reference's to compare);
    ``max_lag``: autocorrelation lags in records (default ``T // 2``).
    """
    if dt <= 0 or length <= 0 or viscosity < 0:
        raise ValueError(f"need dt > 0, length > 0 and viscosity >= 0, got {dt}, {length}, {viscosity}")
    w = as_trajectories(vorticity)
    k, energy_k, enstrophy_k = mean_spectra(w, length=length)
    energy = torch.cat([kinetic_energy(chunk, length=length) for chunk in w.reshape(-1, *w.shape[-2:]).split(_CHUNK)]).reshape(w.shape[:2])
    bins = pdf_bins(w) if bins is None else bins.double()
    correlation = autocorrelation(energy, max_lag)
    return FlowStatistics(
        k=k,
        energy_spectrum=energy_k,
        enstrophy_spectrum=enstrophy_k,
        dissipation=dissipation_rate(w, viscosity),
        vorticity_mean=float(w.mean()),
        vorticity_std=float(w.std()),
        bins=bins,
        pdf=vorticity_pdf(w, bins),
        times=dt * torch.arange(w.shape[1], dtype=torch.float64),
        energy=energy,
        lags=dt * torch.arange(len(correlation), dtype=torch.float64),
        autocorrelation=correlation,
        correlation_time=integral_correlation_time(correlation, dt),
    )


def spectrum_relative_error(spectrum: torch.Tensor, reference: torch.Tensor, k_max: int) -> torch.Tensor:
    """Per-shell ``|E - E_ref| / E_ref`` for shells ``1..k_max`` ``(k_max,)`` (shell 0, the mean flow, carries no energy)."""
    if not 1 <= k_max < min(len(spectrum), len(reference)):
        raise ValueError(f"k_max must be in [1, {min(len(spectrum), len(reference)) - 1}], got {k_max}")
    return (spectrum[1 : k_max + 1] - reference[1 : k_max + 1]).abs() / reference[1 : k_max + 1]


def compare_statistics(
    vorticity: torch.Tensor,
    reference: torch.Tensor,
    *,
    dt: float,
    viscosity: float,
    length: float,
    k_max: int | None = None,
    max_values: int = 2**23,
) -> tuple[dict[str, float | list[float]], FlowStatistics, FlowStatistics]:
    """Distances between a model's trajectories and the solver's (``reference``), as a card quotes them.

    Both ``(N, T, H, W)`` or ``(T, H, W)`` on the same grid and record spacing ``dt``. Returns
    ``(distances, model_statistics, reference_statistics)``; the distances: per-shell relative
    energy-spectrum error up to ``k_max`` (default half the resolved wavenumber, ``n / 4``) and its
    maximum; the Wasserstein-1 distance between the pooled vorticity values in units of the
    reference's standard deviation (exact on at most ``max_values`` values a side: every s-th frame
    of each trajectory, which bounds the sort's memory); relative errors of the dissipation rate and of the energy's
    integral correlation time.
    """
    model, truth = as_trajectories(vorticity), as_trajectories(reference)
    if model.shape[-1] != truth.shape[-1]:
        raise ValueError(f"compare on one grid: model {model.shape[-1]}^2, reference {truth.shape[-1]}^2 (resample first)")
    k_max = truth.shape[-1] // 4 if k_max is None else k_max
    max_lag = min(model.shape[1], truth.shape[1]) // 2
    reference_statistics = flow_statistics(truth, dt=dt, viscosity=viscosity, length=length, max_lag=max_lag)
    model_statistics = flow_statistics(model, dt=dt, viscosity=viscosity, length=length, bins=reference_statistics.bins, max_lag=max_lag)
    spectrum_error = spectrum_relative_error(model_statistics.energy_spectrum, reference_statistics.energy_spectrum, k_max)
    distances = {
        "spectrum_relative_error_per_shell": spectrum_error.tolist(),
        "spectrum_max_relative_error": float(spectrum_error.max()),
        "spectrum_k_max": k_max,
        "pdf_wasserstein_1_over_std": wasserstein_1(_strided_frames(model, max_values), _strided_frames(truth, max_values))
        / reference_statistics.vorticity_std,
        "dissipation_relative_error": abs(model_statistics.dissipation / reference_statistics.dissipation - 1),
        "correlation_time_relative_error": abs(model_statistics.correlation_time / reference_statistics.correlation_time - 1),
    }
    return distances, model_statistics, reference_statistics


def _strided_frames(vorticity: torch.Tensor, max_values: int) -> torch.Tensor:
    """Every s-th frame of ``(N, T, H, W)``, the smallest ``s`` that keeps at most ``max_values`` values."""
    stride = -(-vorticity.numel() // max_values)
    return vorticity[:, ::stride]
