"""Energy spectra against fields whose spectrum is known in closed form."""

import math

import torch

from zoo.eval.spectra import kinetic_energy_spectrum, radial_power_spectrum


def grid(n):
    x = torch.arange(n, dtype=torch.float64) / n
    return torch.meshgrid(x, x, indexing="ij")


def test_single_mode_lands_in_its_shell_with_its_power():
    x, y = grid(32)
    field = 3.0 * torch.cos(2 * math.pi * (3 * x + 4 * y))  # |k| = 5, mean square 9/2
    k, power = radial_power_spectrum(field)
    assert power.argmax() == 5
    torch.testing.assert_close(power[5], torch.tensor(4.5, dtype=torch.float64))
    torch.testing.assert_close(power.sum(), (field**2).mean())


def test_kinetic_energy_of_a_shear_flow():
    # u = (sin(2 pi k y), 0) has vorticity w = -du/dy = -2 pi k cos(2 pi k y) and energy 1/4.
    x, y = grid(64)
    kk = 6
    vorticity = -2 * math.pi * kk * torch.cos(2 * math.pi * kk * y)
    k, energy = kinetic_energy_spectrum(vorticity)
    torch.testing.assert_close(energy.sum(), torch.tensor(0.25, dtype=torch.float64))
    torch.testing.assert_close(energy[kk], torch.tensor(0.25, dtype=torch.float64))


def test_batched_spectra_match_one_by_one():
    fields = torch.randn(3, 2, 16, 16, dtype=torch.float64)
    _, batched = radial_power_spectrum(fields)
    _, single = radial_power_spectrum(fields[1, 0])
    torch.testing.assert_close(batched[1, 0], single)


def test_plots_are_written_as_png(tmp_path):
    from zoo.eval import plot_curves, plot_fields

    field = torch.randn(16, 16)
    fields_png = plot_fields({"truth": field, "prediction": 0.9 * field}, tmp_path / "fields.png")
    curves_png = plot_curves({"a": ([1, 2, 3], [1.0, 0.5, 0.25])}, tmp_path / "sub" / "curve.png", xlabel="k", ylabel="E", logy=True)
    for path in (fields_png, curves_png):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
