"""Fourier token mixers against NumPy references written from the papers, and their contracts."""

import numpy as np
import pytest
import torch

from zoo.layers import AFNOMixer, FNetMixer, FNOMixer, GlobalFilterMixer, SpectralConv, make_mixer
from zoo.layers.mixers import MIXERS

MIXER_KWARGS = {
    "fno": {"modes": 3},
    "afno": {"num_blocks": 2, "modes": (2, 3)},
    "global_filter": {"filter_size": (6, 8)},
    "fnet": {},
}


def build(name, dim=4, ndim=2, **kwargs):
    torch.manual_seed(0)
    options = dict(MIXER_KWARGS[name])
    if ndim == 1:
        options = {k: (v[-1:] if isinstance(v, tuple) else v) for k, v in options.items()}
    options.update(kwargs)
    return make_mixer(name, dim, ndim=ndim, **options).double()


def band_limited_field(spatial, channels, max_frequency, seed=0):
    """A real periodic field with random coefficients on frequencies |k_d| <= max_frequency."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.arange(n) / n for n in spatial], indexing="ij")
    field = np.zeros((*spatial, channels))
    ks = range(-max_frequency, max_frequency + 1)
    for k in np.array(np.meshgrid(*[ks] * len(spatial), indexing="ij")).reshape(len(spatial), -1).T:
        phase = 2 * np.pi * sum(kd * g for kd, g in zip(k, grids))
        a, b = rng.normal(size=(2, channels))
        field += np.cos(phase)[..., None] * a + np.sin(phase)[..., None] * b
    return torch.from_numpy(field)[None]


# ----------------------------------------------------------------------------------------------
# Layouts shared by every mixer


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_tokens_and_grid_layouts_agree(name):
    mixer = build(name)
    grid = torch.randn(2, 6, 8, 4, dtype=torch.float64)
    expected = mixer(grid)
    assert expected.shape == grid.shape
    tokens = grid.reshape(2, 48, 4)
    torch.testing.assert_close(mixer(tokens, grid_size=(6, 8)), expected.reshape(2, 48, 4))
    mixer.grid_size = (6, 8)
    torch.testing.assert_close(mixer(tokens), expected.reshape(2, 48, 4))


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_square_token_grid_is_inferred(name):
    mixer = build(name, filter_size=(5, 5)) if name == "global_filter" else build(name)
    grid = torch.randn(1, 5, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(mixer(grid.reshape(1, 25, 4)), mixer(grid).reshape(1, 25, 4))


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_one_dimensional_sequences(name):
    mixer = build(name, ndim=1, **({"filter_size": (9,)} if name == "global_filter" else {}))
    x = torch.randn(3, 9, 4, dtype=torch.float64)
    y = mixer(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    if name in ("fno", "global_filter"):
        # Linear convolutions on the sequence commute with its cyclic shifts. (AFNO's ReLU on real
        # and imaginary parts, and FNet's real part, do not commute with the shift's phase.)
        torch.testing.assert_close(mixer(x.roll(2, dims=1)), y.roll(2, dims=1))


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_prefix_tokens_read_the_mean_token_and_patches_ignore_them(name):
    mixer = build(name, num_prefix_tokens=2)
    patches = torch.randn(2, 48, 4, dtype=torch.float64)
    prefix = torch.randn(2, 2, 4, dtype=torch.float64)
    x = torch.cat([prefix, patches], dim=1)
    y = mixer(x, grid_size=(6, 8))
    assert y.shape == x.shape
    torch.testing.assert_close(y[:, 2:], mixer(patches.reshape(2, 6, 8, 4)).reshape(2, 48, 4))
    mean_token = x.mean(dim=1)
    expected = mean_token @ mixer.prefix_proj.weight.T + mixer.prefix_proj.bias
    torch.testing.assert_close(y[:, :2], expected[:, None].expand(-1, 2, -1))


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_gradcheck_float64(name):
    options = {"filter_size": (3, 5)} if name == "global_filter" else {}
    mixer = build(name, dim=4, num_prefix_tokens=1, **options)
    x = torch.randn(2, 1 + 3 * 5, 4, dtype=torch.float64, requires_grad=True)
    params = dict(mixer.named_parameters())

    def run(x, *values):
        return torch.func.functional_call(mixer, dict(zip(params, values)), (x,), {"grid_size": (3, 5)})

    assert torch.autograd.gradcheck(run, (x, *params.values()), fast_mode=True)


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_half_precision_keeps_dtype_with_bounded_error(name):
    # FNO and AFNO mixers transform bf16 by truncated-DFT GEMMs in bf16 (float32 accumulation),
    # the others in float32: either way a handful of bf16 roundings (u = 2^-8 each) of the same
    # computation, so the relative L2 error against float32 stays below 2.5 u.
    mixer = build(name).float()
    x = torch.randn(2, 6, 8, 4)
    y = mixer(x.bfloat16())
    assert y.dtype == torch.bfloat16
    exact = mixer(x.bfloat16().float())
    assert ((y.float() - exact).norm() / exact.norm()).item() < 2.5 * 2.0**-8


# ----------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_causal_request_and_masks_are_refused(name):
    mixer = build(name)
    x = torch.randn(1, 48, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="is_causal=True"):
        mixer(x, is_causal=True, grid_size=(6, 8))
    with pytest.raises(ValueError, match="attention mask"):
        mixer(x, attn_mask=torch.zeros(48, 48, dtype=torch.bool), grid_size=(6, 8))
    mixer(x, attn_mask=None, is_causal=False, grid_size=(6, 8))


@pytest.mark.parametrize(
    "x, match",
    [
        (torch.randn(2, 4), "spatial axes"),
        (torch.randn(1, 2, 6, 8, 4), "spatial axes"),
        (torch.randn(1, 6, 8, 5), "5 channels"),
        (torch.randn(1, 4, 6, 8), "channels last"),
        (torch.randn(1, 47, 4), "not a square"),
        (torch.ones(1, 6, 8, 4, dtype=torch.long), "floating-point"),
        (torch.randn(1, 6, 8, 4, dtype=torch.complex64), "floating-point"),
    ],
)
def test_bad_inputs_raise_clear_errors(x, match):
    with pytest.raises((ValueError, TypeError), match=match):
        FNOMixer(4, modes=3)(x)


def test_token_count_must_fill_the_given_grid():
    mixer = FNOMixer(4, modes=3, grid_size=(6, 8), num_prefix_tokens=1)
    with pytest.raises(ValueError, match=r"48 patch tokens \(after 1 prefix tokens\).*\(6, 9\)"):
        mixer(torch.randn(1, 49, 4), grid_size=(6, 9))


@pytest.mark.parametrize(
    "build_bad, match",
    [
        (lambda: make_mixer("attention", 8), "unknown mixer 'attention'"),
        (lambda: FNOMixer(8, groups=3), "groups=3"),
        (lambda: FNOMixer(8, modes=(3, 3, 3)), "modes"),
        (lambda: AFNOMixer(8, num_blocks=3), "num_blocks=3"),
        (lambda: AFNOMixer(8, norm="backward"), "unknown norm"),
        (lambda: AFNOMixer(8, modes=(0, 3)), "positive"),
        (lambda: GlobalFilterMixer(8), "filter_size"),
        (lambda: FNetMixer(8, ndim=3), "1D or 2D"),
        (lambda: FNetMixer(8, grid_size=(4, 4, 4)), "grid_size"),
    ],
)
def test_bad_arguments_raise_clear_errors(build_bad, match):
    with pytest.raises(ValueError, match=match):
        build_bad()


# ----------------------------------------------------------------------------------------------
# FNOMixer


def test_fno_groups_mix_their_own_channels_with_their_own_spectral_conv():
    torch.manual_seed(0)
    mixer = FNOMixer(6, modes=(3, 2), groups=3).double()
    x = torch.randn(2, 7, 6, 6, dtype=torch.float64)
    y = mixer(x)
    fields = x.permute(0, 3, 1, 2)
    for group, conv in enumerate(mixer.spectral):
        assert isinstance(conv, SpectralConv) and conv.in_channels == 2
        expected = conv(fields[:, 2 * group : 2 * group + 2]).permute(0, 2, 3, 1)
        torch.testing.assert_close(y[..., 2 * group : 2 * group + 2], expected)


def test_fno_mixer_is_resolution_invariant():
    torch.manual_seed(0)
    mixer = FNOMixer(3, modes=4).double()
    coarse = band_limited_field((16, 12), 3, max_frequency=3)
    fine = band_limited_field((32, 24), 3, max_frequency=3)
    torch.testing.assert_close(fine[:, ::2, ::2], coarse)
    torch.testing.assert_close(mixer(fine)[:, ::2, ::2], mixer(coarse), rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# AFNOMixer


def numpy_afno(x, mixer):
    """AFNO from the paper's equations with NumPy FFTs and an explicit per-axis frequency mask."""
    ndim = x.ndim - 2
    spatial = x.shape[1:-1]
    axes = tuple(range(1, ndim + 1))
    c = lambda p: None if p is None else p.detach().numpy()[..., 0] + 1j * p.detach().numpy()[..., 1]
    w1, w2, b1, b2 = c(mixer.w1), c(mixer.w2), c(mixer.b1), c(mixer.b2)
    X = np.fft.rfftn(x, axes=axes, norm=mixer.norm)
    nb = mixer.num_blocks
    Xb = X.reshape(*X.shape[:-1], nb, -1)
    H = np.einsum("...ni,nio->...no", Xb, w1) + (0 if b1 is None else b1)
    H = np.maximum(H.real, 0) + 1j * np.maximum(H.imag, 0)
    Y = np.einsum("...ni,nio->...no", H, w2) + (0 if b2 is None else b2)
    lam = mixer.sparsity_threshold
    shrink = lambda v: np.sign(v) * np.maximum(np.abs(v) - lam, 0)
    Y = (shrink(Y.real) + 1j * shrink(Y.imag)).reshape(X.shape)
    if mixer.modes is not None:
        mask = np.ones(X.shape[1:-1], dtype=bool)
        for axis, (n, m) in enumerate(zip(spatial, mixer.modes)):
            if axis == ndim - 1:
                k = np.arange(n // 2 + 1)
                keep = k < m
            else:
                k = np.rint(np.fft.fftfreq(n) * n)  # even n: the Nyquist frequency counts as -n/2
                keep = (k >= -m) & (k < m)
            shape = [1] * ndim
            shape[axis] = -1
            mask = mask & keep.reshape(shape)
        Y = Y * mask[None, ..., None]
    return np.fft.irfftn(Y, s=spatial, axes=axes, norm=mixer.norm)


@pytest.mark.parametrize(
    "spatial, options",
    [
        ((12, 10), {}),
        ((9, 11), {"modes": (3, 4), "norm": "ortho", "bias": True}),
        ((8, 10), {"modes": (5, 7), "hidden_factor": 2}),  # grid too coarse: the modes it has
        ((15,), {"modes": (5,), "bias": True}),
        ((16,), {"norm": "ortho", "sparsity_threshold": 0.0}),
    ],
)
def test_afno_matches_numpy_reference(spatial, options):
    torch.manual_seed(0)
    options = {"num_blocks": 2, "sparsity_threshold": 0.05, **options}
    mixer = AFNOMixer(8, ndim=len(spatial), **options).double()
    with torch.no_grad():
        for bias in (mixer.b1, mixer.b2):
            if bias is not None:
                bias.normal_(std=0.1)
    x = torch.randn(2, *spatial, 8, dtype=torch.float64)
    expected = numpy_afno(x.numpy(), mixer)
    np.testing.assert_allclose(mixer(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_afno_hard_threshold_is_counted_per_axis():
    # A 18x36 grid (the 90x180 pitfall scaled down): rows keep -4 <= k < 4, columns k < 9. The
    # output spectrum is supported exactly there, every kept mode included.
    torch.manual_seed(0)
    mixer = AFNOMixer(8, num_blocks=2, modes=(4, 9), sparsity_threshold=0.0).double()
    y = mixer(torch.randn(1, 18, 36, 8, dtype=torch.float64))
    power = np.abs(np.fft.rfft2(y.detach().numpy(), axes=(1, 2), norm="forward")).max(axis=(0, 3))
    rows = np.rint(np.fft.fftfreq(18) * 18)
    expected = ((rows >= -4) & (rows < 4))[:, None] & (np.arange(19) < 9)[None, :]
    # A real output's zero-frequency column is Hermitian: kept row -4 brings its mirror +4.
    expected[:, 0] |= expected[(-np.arange(18)) % 18, 0]
    assert power.shape == expected.shape
    assert (power[~expected] < 1e-12).all()
    assert (power[expected] > 1e-6).all()


def test_afno_forward_norm_without_biases_is_resolution_consistent():
    # The same smooth field at 16x16 and 64x64: with norm="forward" and no frequency biases the
    # outputs agree to float32 rounding (facts.md: about 5e-7); with norm="ortho" and biases of a
    # trained layer's size they differ by over 10% (facts.md: about 15%).
    coarse = band_limited_field((16, 16), 8, max_frequency=2).float()
    fine = band_limited_field((64, 64), 8, max_frequency=2).float()

    @torch.no_grad()
    def relative_change(**options):
        torch.manual_seed(0)
        mixer = AFNOMixer(8, num_blocks=2, **options)
        for bias in (mixer.b1, mixer.b2):
            if bias is not None:
                bias.normal_(std=0.2)
        reference = mixer(coarse)
        return float((mixer(fine)[:, ::4, ::4] - reference).norm() / reference.norm())

    assert relative_change(norm="forward", bias=False) < 1e-5
    assert relative_change(norm="ortho", bias=True) > 0.1


# ----------------------------------------------------------------------------------------------
# GlobalFilterMixer


def numpy_interpolated_filter(weight, filter_size, spatial):
    """Resize a filter (FFT order) by np.interp on the frequency f = k / n of each axis.

    Outer axes are periodic in f; the rfft axis holds f in [0, 1/2] and np.interp clamps there.
    """
    gain = weight[..., 0] + 1j * weight[..., 1]
    last = len(spatial) - 1
    for axis, (n_base, n) in enumerate(zip(filter_size, spatial)):
        if axis == last:
            base_f, new_f, period = np.arange(n_base // 2 + 1) / n_base, np.arange(n // 2 + 1) / n, None
        else:
            base_f, new_f, period = np.fft.fftfreq(n_base), np.fft.fftfreq(n), 1.0
        interp = lambda v: np.interp(new_f, base_f, v, period=period)
        gain = np.apply_along_axis(lambda v: interp(v.real) + 1j * interp(v.imag), axis, gain)
    return gain


@pytest.mark.parametrize(
    "filter_size, spatial", [((6, 8), (6, 8)), ((6, 8), (12, 16)), ((7, 9), (10, 6)), ((8,), (13,))]
)
def test_global_filter_matches_numpy_reference(filter_size, spatial):
    torch.manual_seed(0)
    mixer = GlobalFilterMixer(3, ndim=len(spatial), filter_size=filter_size).double()
    gain = numpy_interpolated_filter(mixer.weight.detach().numpy(), filter_size, spatial)
    resized = mixer.filter_for(spatial).detach().numpy()
    np.testing.assert_allclose(resized[..., 0] + 1j * resized[..., 1], gain, rtol=1e-12, atol=1e-14)
    x = torch.randn(2, *spatial, 3, dtype=torch.float64)
    axes = tuple(range(1, len(spatial) + 1))
    expected = np.fft.irfftn(np.fft.rfftn(x.numpy(), axes=axes) * gain, s=spatial, axes=axes)
    np.testing.assert_allclose(mixer(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_global_filter_at_its_base_grid_is_the_stored_filter():
    mixer = GlobalFilterMixer(3, filter_size=(6, 8))
    assert mixer.filter_for((6, 8)) is mixer.weight


# ----------------------------------------------------------------------------------------------
# FNetMixer


@pytest.mark.parametrize("spatial", [(6, 8), (11,)])
def test_fnet_is_the_real_part_of_the_unitary_dft(spatial):
    mixer = FNetMixer(5, ndim=len(spatial))
    assert not list(mixer.parameters())
    x = torch.randn(2, *spatial, 5, dtype=torch.float64)
    axes = tuple(range(1, len(spatial) + 2))
    expected = np.fft.fftn(x.numpy(), axes=axes, norm="ortho").real
    np.testing.assert_allclose(mixer(x).numpy(), expected, rtol=1e-10, atol=1e-12)
