"""Pointwise (1x1) linear maps against einsum, and the in-place accumulation's contract."""

import pytest
import torch

from zoo.layers.pointwise import ChannelMLP, PointwiseLinear, accumulate_pointwise, pointwise_linear


def einsum_linear(u, weight, bias=None):
    out = torch.einsum("oi,bi...->bo...", weight, u)
    return out if bias is None else out + bias.view(-1, *[1] * (u.ndim - 2))


@pytest.mark.parametrize("spatial", [(7,), (5, 6), (3, 4, 2)])
@pytest.mark.parametrize("with_bias, with_add", [(False, False), (True, False), (False, True), (True, True)])
def test_matches_einsum(spatial, with_bias, with_add):
    u = torch.randn(2, 3, *spatial, dtype=torch.float64)
    weight = torch.randn(4, 3, dtype=torch.float64)
    bias = torch.randn(4, dtype=torch.float64) if with_bias else None
    add = torch.randn(2, 4, *spatial, dtype=torch.float64) if with_add else None
    expected = einsum_linear(u, weight, bias) + (0 if add is None else add)
    torch.testing.assert_close(pointwise_linear(u, weight, bias, add=add), expected)


def test_add_is_left_unchanged():
    add = torch.randn(2, 4, 5, dtype=torch.float64)
    before = add.clone()
    pointwise_linear(torch.randn(2, 3, 5, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64), add=add)
    torch.testing.assert_close(add, before, rtol=0, atol=0)


def test_gradcheck_float64():
    u = torch.randn(2, 3, 4, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(2, dtype=torch.float64, requires_grad=True)
    add = torch.randn(2, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: pointwise_linear(a[0], a[1], a[2], add=a[3]), (u, weight, bias, add))

    def accumulated(u, weight, add):
        return accumulate_pointwise(add * 1.0, u, weight)  # a fresh tensor the op may overwrite

    assert torch.autograd.gradcheck(accumulated, (u, weight, add))
    assert torch.autograd.gradgradcheck(accumulated, (u, weight, add))


def test_accumulate_updates_in_place():
    acc = torch.randn(2, 4, 5)
    expected = acc + einsum_linear(u := torch.randn(2, 3, 5), weight := torch.randn(4, 3))
    out = accumulate_pointwise(acc, u, weight)
    assert out is acc
    torch.testing.assert_close(acc, expected)


def test_accumulate_into_a_saved_tensor_raises():
    weight = torch.randn(3, 3, requires_grad=True)
    u = torch.randn(1, 3, 4, requires_grad=True)
    hidden = torch.tanh(u)  # tanh saves its output for the backward pass
    accumulate_pointwise(hidden, u, weight)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        hidden.sum().backward()


def test_accumulate_needs_a_contiguous_target():
    acc = torch.randn(2, 5, 4).transpose(1, 2)
    with pytest.raises(ValueError, match="contiguous"):
        accumulate_pointwise(acc, torch.randn(2, 3, 5), torch.randn(4, 3))


def test_modules_use_their_parameters():
    torch.manual_seed(0)
    layer = PointwiseLinear(3, 4)
    mlp = ChannelMLP(3, 5, 2, activation="tanh")
    u = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(layer(u), einsum_linear(u, layer.weight, layer.bias))
    hidden = torch.tanh(einsum_linear(u, mlp.fc1.weight, mlp.fc1.bias))
    residual = torch.randn(2, 2, 6, 6)
    torch.testing.assert_close(mlp(u, add=residual), residual + einsum_linear(hidden, mlp.fc2.weight, mlp.fc2.bias))


def mlp_reference(mlp, u, add):
    """The channel MLP written with einsum and autograd: the independent reference for the tiled op."""
    hidden = mlp.act(einsum_linear(u, mlp.fc1.weight, mlp.fc1.bias))
    out = einsum_linear(hidden, mlp.fc2.weight, mlp.fc2.bias)
    return out if add is None else out + add


@pytest.mark.parametrize("activation", ["gelu", "relu", "silu", "tanh", "identity"])
@pytest.mark.parametrize("add_kind", [None, "other", "residual"])
def test_tiled_channel_mlp_matches_the_reference_with_gradients(monkeypatch, activation, add_kind):
    import zoo.layers.pointwise as pointwise

    monkeypatch.setattr(pointwise, "_TILE_POINTS", 16)  # 3 x 50 points: uneven tiles, several per sample
    torch.manual_seed(0)
    mlp = ChannelMLP(3, 7, 3, activation=activation).double()  # widens 3 -> 7: the tiled path
    u = torch.randn(3, 3, 5, 10, dtype=torch.float64, requires_grad=True)
    other = torch.randn(3, 3, 5, 10, dtype=torch.float64, requires_grad=True)
    add = {None: None, "other": other, "residual": u}[add_kind]
    out = mlp(u, add=add)
    assert "TiledChannelMLP" in out.grad_fn.name()
    grad = torch.randn_like(out)
    inputs = [u, *mlp.parameters()] + ([other] if add_kind == "other" else [])
    got = torch.autograd.grad(out, inputs, grad)
    expected_out = mlp_reference(mlp, u, add)
    expected = torch.autograd.grad(expected_out, inputs, grad)
    torch.testing.assert_close(out, expected_out)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_tiled_channel_mlp_gradcheck(monkeypatch):
    import zoo.layers.pointwise as pointwise

    monkeypatch.setattr(pointwise, "_TILE_POINTS", 4)
    torch.manual_seed(0)
    mlp = ChannelMLP(2, 3, 2, activation="gelu").double()
    u = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda u, *w: mlp(u, add=u), (u, *mlp.parameters()))


def test_narrowing_mlps_and_half_precision_keep_the_layer_by_layer_path(monkeypatch):
    import zoo.layers.pointwise as pointwise

    monkeypatch.setattr(pointwise, "_TILE_POINTS", 4)
    u = torch.randn(2, 4, 6, 6, requires_grad=True)
    assert "Tiled" not in ChannelMLP(4, 2, 4)(u).grad_fn.name()  # narrows 4 -> 2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert "Tiled" not in ChannelMLP(4, 8, 1)(u).grad_fn.name()
