"""Evaluation, the one home of every metric: evaluation loops, rollouts, resolutions (``zoo eval``),
energy spectra, uncertainty (ensembles and conformal bands), speed against solvers, plots and the demo."""

from zoo.eval.conformal import band_metrics, conformalize
from zoo.eval.plots import plot_curves, plot_fields
from zoo.eval.spectra import kinetic_energy_spectrum, radial_power_spectrum

__all__ = ["band_metrics", "conformalize", "kinetic_energy_spectrum", "plot_curves", "plot_fields", "radial_power_spectrum"]
