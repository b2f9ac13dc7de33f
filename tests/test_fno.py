"""FNO against a reference written from the paper's definition, and its documented behaviour."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.models.fno import grid_coordinates


def reference_spectral_conv(u, weight, modes):
    """K u by full ``rfftn`` / ``irfftn`` and explicit index lists (grids that hold every mode).

    Kept frequencies: ``0..m-1`` and ``-m..-1`` on every axis but the last, ``0..m-1`` on the
    last; ``weight[*k, i, o, (re, im)]`` in that order.
    """
    spatial = u.shape[2:]
    dims = tuple(range(2, u.ndim))
    u_hat = torch.fft.rfftn(u, dim=dims, norm="forward")
    index = [list(range(m)) + list(range(n - m, n)) for n, m in zip(spatial[:-1], modes[:-1])]
    index.append(list(range(modes[-1])))
    w = torch.view_as_complex(weight)
    out_hat = torch.zeros(u.shape[0], w.shape[-1], *u_hat.shape[2:], dtype=u_hat.dtype)
    for position in np.ndindex(*w.shape[:-2]):
        k = tuple(index[axis][p] for axis, p in enumerate(position))
        out_hat[(slice(None), slice(None), *k)] = u_hat[(slice(None), slice(None), *k)] @ w[position]
    return torch.fft.irfftn(out_hat, s=spatial, dim=dims, norm="forward")


def reference_fno(model, x, norm=None):
    """The FNO of Li et al. with zoo's options, from plain torch ops and the model's weights."""
    ndim = x.ndim - 2

    def linear(layer, u):
        return torch.einsum("oi,bi...->bo...", layer.weight, u) + layer.bias.view(-1, *[1] * ndim)

    def mlp(module, u):
        return linear(module.fc2, F.gelu(linear(module.fc1, u)))

    spatial = x.shape[2:]
    if model.grid_features:
        axes = torch.meshgrid(*[torch.arange(n, dtype=x.dtype) / n for n in spatial], indexing="ij")
        x = torch.cat([x, torch.stack(axes).expand(x.shape[0], ndim, *spatial)], dim=1)
    h = linear(model.lifting, x)
    pads = [round(model.domain_padding * n) for n in spatial]
    h = F.pad(h, [p for pad in reversed(pads) for p in (0, pad)])
    for i, block in enumerate(model.blocks):
        h = reference_spectral_conv(h, block.spectral.weight, block.spectral.modes) + linear(block.pointwise, h)
        if norm is not None:  # instance: each channel over space; group: 8 groups of channels
            groups = h.shape[1] if norm == "instance" else min(8, h.shape[1])
            h = F.group_norm(h, groups, block.norm.weight, block.norm.bias, eps=1e-5)
        if i < len(model.blocks) - 1:
            h = F.gelu(h)
        if block.mlp is not None:
            h = h + mlp(block.mlp, h)
    h = h[(..., *(slice(0, n) for n in spatial))]
    return mlp(model.projection, h)


@pytest.mark.parametrize(
    "spatial, modes, options",
    [
        ((24,), (5,), {}),
        ((20, 18), (4, 5), {"channel_mlp_ratio": 0.5}),
        ((16, 15), (3, 4), {"norm": "instance", "domain_padding": 0.25}),
        ((9, 8, 10), (2, 2, 3), {"norm": "group", "grid_features": False, "channel_mlp_ratio": 1.0}),
        ((8, 6), (2, 2), {"norm": "group", "width": 16}),  # 8 groups of 2 channels
        ((12, 10), (3, 3), {"domain_padding": 0.2, "channel_mlp_ratio": 0.5, "norm": "instance"}),
    ],
)
def test_matches_reference_definition(spatial, modes, options):
    torch.manual_seed(0)
    model = zoo.FNO(2, 3, modes, **{"width": 6, "n_layers": 3, "projection_channels": 8, **options}).double()
    for parameter in model.parameters():  # norms start at identity; make every weight count
        torch.nn.init.normal_(parameter, std=0.5)
    x = torch.randn(2, 2, *spatial, dtype=torch.float64)
    out = model(x)
    assert out.shape == (2, 3, *spatial)
    torch.testing.assert_close(out, reference_fno(model, x, options.get("norm")), rtol=1e-10, atol=1e-10)


def test_gradcheck_float64():
    torch.manual_seed(0)
    model = zoo.FNO(1, 1, (2, 2), width=2, n_layers=2, projection_channels=3, channel_mlp_ratio=1.0).double()
    params = {name: p.detach().clone().requires_grad_() for name, p in model.named_parameters()}
    x = torch.randn(1, 1, 5, 4, dtype=torch.float64, requires_grad=True)

    def run(x, *values):
        return torch.func.functional_call(model, dict(zip(params, values)), (x,))

    assert torch.autograd.gradcheck(run, (x, *params.values()))


def band_limited(n, modes, seed):
    """A periodic field on n x n points of [0, 1)^2 with frequencies below ``modes``."""
    rng = np.random.default_rng(seed)
    grid = np.arange(n) / n
    xx, yy = np.meshgrid(grid, grid, indexing="ij")
    field = sum(
        a * np.cos(2 * np.pi * (kx * xx + ky * yy)) + b * np.sin(2 * np.pi * (kx * xx + ky * yy))
        for kx in range(-modes + 1, modes)
        for ky in range(modes)
        for a, b in [rng.normal(size=2)]
    )
    return torch.from_numpy(field)[None, None]


def test_linear_fno_is_resolution_invariant():
    # Without activations or coordinate channels an FNO is a linear, translation-invariant operator
    # that maps fields of frequencies below `modes` to such fields: the same at every grid size.
    torch.manual_seed(0)
    model = zoo.FNO(1, 1, (5, 5), width=4, n_layers=2, activation="identity", grid_features=False).double()
    coarse, fine = model(band_limited(16, 5, seed=1)), model(band_limited(32, 5, seed=1))
    torch.testing.assert_close(fine[..., ::2, ::2], coarse, rtol=1e-10, atol=1e-10)


def test_nonlinear_fno_runs_at_any_resolution_with_consistent_coordinates():
    torch.manual_seed(0)
    model = zoo.FNO(1, 1, (4, 4), width=4, n_layers=2)
    assert model(torch.randn(1, 1, 12, 7)).shape == (1, 1, 12, 7)
    assert model(torch.randn(1, 1, 6, 5)).shape == (1, 1, 6, 5)  # coarser than the kept modes
    torch.testing.assert_close(grid_coordinates((32, 16))[:, ::4, ::2], grid_coordinates((8, 8)))


def test_config_round_trip_rebuilds_the_same_function():
    torch.manual_seed(0)
    model = zoo.FNO(
        2, 1, [6, 5], width=8, n_layers=2, projection_channels=12, channel_mlp_ratio=0.5, norm="group",
        domain_padding=0.1,
    )
    config = json.loads(json.dumps(model.config))
    rebuilt = zoo.create_model(type(model).__name__, **config)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(2, 2, 16, 12)
    torch.testing.assert_close(rebuilt(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    "make, x, error, message",
    [
        (lambda: zoo.FNO(2, 1, (4, 4)), torch.randn(1, 3, 8, 8), ValueError, "3 channels, expected 2"),
        (lambda: zoo.FNO(2, 1, (4, 4)), torch.randn(1, 2, 8), ValueError, "2 spatial axes"),
        (lambda: zoo.FNO(1, 1, (4,)), torch.randn(1, 1, 8, dtype=torch.complex64), TypeError, "must be real"),
        (lambda: zoo.FNO(1, 1, (4,), domain_padding=1.5), None, ValueError, "domain_padding must be in"),
        (lambda: zoo.FNO(1, 1, (4,), norm="batch"), None, ValueError, "unknown norm 'batch'"),
        (lambda: zoo.FNO(1, 1, (4,), activation="swish"), None, ValueError, "unknown activation 'swish'"),
        (lambda: zoo.FNO(1, 1, (4, 4, 4, 4)), None, ValueError, "1, 2 or 3 spatial axes"),
    ],
)
def test_bad_input_names_the_problem(make, x, error, message):
    with pytest.raises(error, match=message):
        make()(x)
