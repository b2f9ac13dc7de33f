"""SpectralConv against an independently written direct DFT, and its invariances."""

import itertools
import math

import numpy as np
import pytest
import torch

from zoo.layers import SpectralConv
from zoo.layers.spectral_conv import kept_frequencies


def kept_frequency_vectors(spatial, modes):
    """Every kept integer frequency vector and its weight index, written from the definition."""
    axes = []
    for axis, (n, m) in enumerate(zip(spatial, modes)):
        if axis == len(spatial) - 1:
            axes.append([(k, k) for k in range(min(m, n // 2 + 1))])
        else:
            pos = [(k, k) for k in range(min(m, (n + 1) // 2))]
            neg = [(-k, 2 * m - k) for k in range(1, min(m, n // 2) + 1)]
            axes.append(pos + neg)
    return list(itertools.product(*axes))


def direct_dft_spectral_conv(x, weight, modes):
    """out(x) = sum over kept k of c_k Re[(sum_i xhat_i(k) W_k[i, o]) e^{2 pi i k.x}] by plain sums.

    xhat(k) = mean_x u(x) e^{-2 pi i k.x}; c_k = 1 where the last-axis frequency is 0 or Nyquist
    (those columns are their own mirror image), else 2 (the conjugate half of a real field).
    """
    x = x.astype(np.float64)
    w = weight[..., 0].astype(np.float64) + 1j * weight[..., 1].astype(np.float64)
    batch, _, *spatial = x.shape
    grids = np.meshgrid(*[np.arange(n) / n for n in spatial], indexing="ij")
    out = np.zeros((batch, w.shape[-1], *spatial))
    for pairs in kept_frequency_vectors(spatial, modes):
        k = [p[0] for p in pairs]
        phase = np.exp(2j * math.pi * sum(kd * g for kd, g in zip(k, grids)))
        xhat = (x * np.conj(phase)).reshape(batch, x.shape[1], -1).mean(-1)
        yhat = xhat @ w[tuple(p[1] for p in pairs)]
        last = k[-1]
        factor = 1.0 if last == 0 or 2 * last == spatial[-1] else 2.0
        out += factor * np.real(yhat[:, :, None] * phase.reshape(1, 1, -1)).reshape(out.shape)
    return out


@pytest.mark.parametrize(
    "spatial, modes",
    [
        ((16,), (5,)),
        ((15,), (8,)),  # odd size, modes at the grid's limit
        ((12, 10), (4, 3)),
        ((9, 11), (3, 6)),  # odd sizes, last axis at its limit
        ((6, 8), (5, 7)),  # grid too coarse: uses the modes that exist
        ((6, 5, 8), (2, 2, 3)),
        ((5, 4, 7), (3, 2, 4)),
    ],
)
@pytest.mark.parametrize("transform", ["fft", "dft"])
def test_matches_direct_dft(spatial, modes, transform):
    torch.manual_seed(0)
    layer = SpectralConv(3, 2, modes, transform=transform).double()
    x = torch.randn(2, 3, *spatial, dtype=torch.float64)
    expected = direct_dft_spectral_conv(x.numpy(), layer.weight.detach().numpy(), modes)
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("spatial, modes", [((8,), (3,)), ((6, 7), (2, 3)), ((4, 5, 6), (2, 2, 2))])
@pytest.mark.parametrize("transform", ["fft", "dft"])
def test_gradcheck_float64(spatial, modes, transform):
    torch.manual_seed(0)
    layer = SpectralConv(2, 3, modes, transform=transform).double()
    x = torch.randn(2, 2, *spatial, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: torch.func.functional_call(layer, {"weight": w}, (x,)), (x, layer.weight))


def test_shift_equivariance():
    torch.manual_seed(0)
    layer = SpectralConv(2, 2, (5, 4)).double()
    x = torch.randn(1, 2, 16, 12, dtype=torch.float64)
    shifted = torch.roll(x, shifts=(3, -5), dims=(2, 3))
    torch.testing.assert_close(layer(shifted), torch.roll(layer(x), shifts=(3, -5), dims=(2, 3)))


def band_limited_field(n, modes, seed):
    """A smooth periodic field with frequencies below ``modes`` on an n x n grid of [0, 1)^2."""
    rng = np.random.default_rng(seed)
    x = np.arange(n) / n
    xx, yy = np.meshgrid(x, x, indexing="ij")
    field = np.zeros((n, n))
    for kx in range(-modes + 1, modes):
        for ky in range(modes):
            a, b = rng.normal(size=2)
            field += a * np.cos(2 * np.pi * (kx * xx + ky * yy)) + b * np.sin(2 * np.pi * (kx * xx + ky * yy))
    return torch.from_numpy(field)


def test_resolution_invariance():
    torch.manual_seed(0)
    layer = SpectralConv(1, 1, (6, 6)).double()
    coarse = band_limited_field(32, 6, seed=1)[None, None]
    fine = band_limited_field(64, 6, seed=1)[None, None]
    out_coarse, out_fine = layer(coarse), layer(fine)
    torch.testing.assert_close(out_fine[..., ::2, ::2], out_coarse, rtol=1e-10, atol=1e-10)


def test_weights_are_real_with_re_im_axis():
    layer = SpectralConv(4, 5, (3, 6, 2))
    assert layer.weight.shape == (6, 12, 2, 4, 5, 2)
    assert not layer.weight.is_complex()


def test_half_precision_input_keeps_dtype():
    layer = SpectralConv(2, 2, (4, 4))
    x = torch.randn(1, 2, 16, 16)
    for dtype in (torch.bfloat16, torch.float16):
        assert layer(x.to(dtype)).dtype == dtype


def relative_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.mark.parametrize("spatial, modes", [((32, 32), (8, 9)), ((33, 27), (8, 9)), ((30, 31), (16, 16)), ((9, 11, 10), (3, 3, 4))])
def test_dft_path_matches_fft_path_in_float32(spatial, modes):
    torch.manual_seed(0)
    fft = SpectralConv(8, 6, modes, transform="fft")
    dft = SpectralConv(8, 6, modes, transform="dft")
    dft.load_state_dict(fft.state_dict())
    x = torch.randn(3, 8, *spatial, requires_grad=True)
    bias = torch.randn(6)
    out_fft, out_dft = fft(x, bias=bias), dft(x, bias=bias)
    grad = torch.randn_like(out_fft)
    grads_fft = torch.autograd.grad(out_fft, (x, fft.weight), grad)
    grads_dft = torch.autograd.grad(out_dft, (x, dft.weight), grad)
    # Two float32 evaluations of the same sums in different orders: ~sqrt(n) eps apart, n <= 3 * 33 * 27.
    for a, b in zip((out_dft, *grads_dft), (out_fft, *grads_fft)):
        assert relative_l2(a, b) < 2e-6


# bfloat16 keeps 8 significant bits: each rounding errs by up to u = 2^-8 of the value, about
# u / sqrt(3) in the root mean square. The bf16 layer rounds the input, the DFT matrices, the
# weights and the output of each of its four GEMMs and two pair combinations (sums inside a GEMM
# accumulate in float32): about ten roundings of uncorrelated sign, sqrt(10) u / sqrt(3) ~ 7e-3
# relative L2. The bound allows 2.5 u ~ 1e-2. fp16 (11 bits) is held to 2.5 * 2^-11.
HALF_BOUNDS = {torch.bfloat16: 2.5 * 2.0**-8, torch.float16: 2.5 * 2.0**-11}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("spatial", [(64, 64), (45, 38)])
def test_half_precision_error_is_bounded_relative_to_float32(dtype, spatial):
    torch.manual_seed(0)
    layer = SpectralConv(16, 16, (8, 8))
    x = torch.randn(4, 16, *spatial, requires_grad=True)
    exact = layer(x)
    grad = torch.randn_like(exact)
    exact_grads = torch.autograd.grad(exact, (x, layer.weight), grad)
    half = SpectralConv(16, 16, (8, 8)).to(dtype)
    half.load_state_dict(layer.state_dict())
    x_half = x.detach().to(dtype).requires_grad_()
    out = half(x_half)
    assert out.dtype == dtype
    assert relative_l2(out, exact) < HALF_BOUNDS[dtype]
    grads = torch.autograd.grad(out, (x_half, half.weight), grad.to(dtype))
    for got, want in zip(grads, exact_grads):
        assert relative_l2(got, want) < HALF_BOUNDS[dtype]


@pytest.mark.parametrize("transform", ["auto", "dft"])
def test_autocast_computes_the_layer_in_float32_and_rounds_only_its_output(transform):
    # The precision policy (zoo.layers.precision): under autocast the layer is its float32 self,
    # output rounded once to the autocast dtype, bf16 input included.
    torch.manual_seed(0)
    layer = SpectralConv(8, 8, (6, 5), transform=transform)
    x, bias = torch.randn(2, 8, 30, 27).bfloat16(), torch.randn(8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x, bias=bias)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, layer(x.float(), bias=bias).bfloat16())


def test_unknown_transform_is_rejected():
    with pytest.raises(ValueError, match="unknown transform"):
        SpectralConv(2, 2, (3, 3), transform="cufft")
    with pytest.raises(ValueError, match="transform='dft'"):
        SpectralConv(2, 2, (3, 3), transform="dft", backend="triton")


@pytest.mark.parametrize(
    "shape, message",
    [((2, 3, 8), "2 spatial axes"), ((2, 4, 8, 8), "4 channels, expected 3"), ((3, 8, 8), "2 spatial axes")],
)
def test_bad_input_names_the_problem(shape, message):
    layer = SpectralConv(3, 3, (2, 2))
    with pytest.raises(ValueError, match=message):
        layer(torch.randn(*shape))


def test_kept_frequencies_on_coarse_grids():
    assert kept_frequencies(64, 12, last_axis=False) == (12, 12)
    assert kept_frequencies(5, 12, last_axis=False) == (3, 2)
    assert kept_frequencies(4, 12, last_axis=False) == (2, 2)
    assert kept_frequencies(10, 12, last_axis=True) == (6, 0)


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        SpectralConv(1, 1, (2,), backend="cuda")
