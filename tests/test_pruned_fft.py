"""Pruned transforms against torch's full FFTs and direct sums; their hand-written gradients."""

import math

import numpy as np
import pytest
import torch

from zoo.layers import pruned_fft
from zoo.layers.pruned_fft import pruned_irfftn, pruned_rfftn
from zoo.layers.spectral_conv import kept_frequencies


def use_last_axis_method(monkeypatch, method):
    """Transform every axis by its DFT matrix ("dft_gemm") or by the FFT ("fft")."""
    monkeypatch.setattr(pruned_fft, "_GEMM_MODES_PER_LOG2", 1e9 if method == "dft_gemm" else 0)


@pytest.fixture(params=["dft_gemm", "fft"])
def last_axis_method(request, monkeypatch):
    use_last_axis_method(monkeypatch, request.param)

CASES = [
    ((16,), (5,)),
    ((64,), (33,)),  # every column, Nyquist included
    ((12, 10), (4, 3)),
    ((9, 11), (3, 6)),  # odd sizes, last axis at its limit
    ((6, 8), (5, 7)),  # too coarse: every frequency that exists
    ((6, 5, 8), (2, 2, 3)),
]


def kept_of(spatial, modes):
    last = len(spatial) - 1
    return [kept_frequencies(n, m, last_axis=axis == last) for axis, (n, m) in enumerate(zip(spatial, modes))]


def kept_indices(n, n_pos, n_neg):
    return list(range(n_pos)) + list(range(n - n_neg, n))


@pytest.mark.parametrize("norm", ["forward", "backward"])
@pytest.mark.parametrize("spatial, modes", CASES)
def test_forward_is_the_kept_block_of_rfftn(spatial, modes, norm, last_axis_method):
    x = torch.randn(2, 3, *spatial, dtype=torch.float64)
    kept = kept_of(spatial, modes)
    full = torch.fft.rfftn(x, dim=tuple(range(2, 2 + len(spatial))), norm=norm)
    for axis, ((n_pos, n_neg), n) in enumerate(zip(kept, spatial)):
        full = full.index_select(2 + axis, torch.tensor(kept_indices(n, n_pos, n_neg)))
    got = pruned_rfftn(x, range(2, 2 + len(spatial)), kept, norm=norm)
    torch.testing.assert_close(got, full, rtol=1e-12, atol=1e-12)


def direct_inverse(y_hat, spatial, kept):
    """sum_k c_k Re(Y_k exp(2 pi i k.x)) by plain sums, c_k = 1 on the last axis' zero and Nyquist
    columns (their imaginary parts then drop out on a 1D grid, as irfft ignores them) and 2 elsewhere."""
    y_hat = y_hat.numpy()
    grids = np.meshgrid(*[np.arange(n) / n for n in spatial], indexing="ij")
    freqs = [
        [k for k in range(n_pos)] + [k - n for k in range(n - n_neg, n)] for (n_pos, n_neg), n in zip(kept, spatial)
    ]
    out = np.zeros((*y_hat.shape[:2], *spatial))
    for index in np.ndindex(*y_hat.shape[2:]):
        k = [freqs[axis][i] for axis, i in enumerate(index)]
        last = k[-1]
        coefficient = y_hat[(slice(None), slice(None), *index)]
        factor = 1.0 if last == 0 or 2 * last == spatial[-1] else 2.0
        phase = np.exp(2j * math.pi * sum(kd * g for kd, g in zip(k, grids)))
        out += factor * np.real(coefficient[..., *([None] * len(spatial))] * phase)
    return torch.from_numpy(out)


@pytest.mark.parametrize("spatial, modes", CASES)
def test_inverse_matches_direct_sum(spatial, modes, last_axis_method):
    kept = kept_of(spatial, modes)
    y_hat = torch.randn(2, 3, *(p + n for p, n in kept), dtype=torch.complex128)
    got = pruned_irfftn(y_hat, range(2, 2 + len(spatial)), kept, spatial)
    torch.testing.assert_close(got, direct_inverse(y_hat, spatial, kept), rtol=1e-11, atol=1e-11)
    scaled = pruned_irfftn(y_hat, range(2, 2 + len(spatial)), kept, spatial, norm="backward")
    torch.testing.assert_close(scaled * math.prod(spatial), got, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize(
    "spatial, modes, method",
    [
        ((8,), (3,), "dft_gemm"),
        ((8,), (5,), "dft_gemm"),  # Nyquist column kept
        ((8,), (5,), "fft"),
        ((5, 4), (2, 3), "fft"),
        ((7, 6), (2, 4), "dft_gemm"),
        ((3, 4, 5), (1, 2, 2), "dft_gemm"),
    ],
)
def test_gradients_match_finite_differences(spatial, modes, method, monkeypatch):
    use_last_axis_method(monkeypatch, method)
    kept = kept_of(spatial, modes)
    dims = tuple(range(1, 1 + len(spatial)))
    x = torch.randn(2, *spatial, dtype=torch.float64, requires_grad=True)
    y_hat = torch.randn(2, *(p + n for p, n in kept), dtype=torch.complex128, requires_grad=True)
    for norm in ("forward", "backward"):
        assert torch.autograd.gradcheck(lambda x: pruned_rfftn(x, dims, kept, norm=norm), (x,))
        assert torch.autograd.gradcheck(lambda y: pruned_irfftn(y, dims, kept, spatial, norm=norm), (y_hat,))
    # The backward passes are pruned transforms too, so second derivatives work.
    if len(spatial) < 3 and method == "dft_gemm":
        assert torch.autograd.gradgradcheck(lambda x: pruned_rfftn(x, dims, kept).abs(), (x,))


def test_channels_last_axes_give_the_same_modes():
    x = torch.randn(2, 12, 10, 3, dtype=torch.float64)
    kept = kept_of((12, 10), (4, 3))
    channels_first = pruned_rfftn(x.movedim(-1, 1), (2, 3), kept)
    torch.testing.assert_close(pruned_rfftn(x, (1, 2), kept).movedim(-1, 1), channels_first)


def test_unknown_norm_is_rejected():
    with pytest.raises(ValueError, match="unknown norm 'ortho'"):
        pruned_rfftn(torch.randn(1, 1, 8), (2,), [(3, 0)], norm="ortho")
