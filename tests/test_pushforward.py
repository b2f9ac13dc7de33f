"""zoo.train.Pushforward: detached unroll, input noise, MNO's dissipativity term, seeded draws."""

import pytest
import torch
from torch import nn

from zoo.train import Pushforward
from zoo.losses import relative_l2


class Scale(nn.Module):
    """``u -> p u`` with one scalar parameter: the gradients of every loss term are known in closed form."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor(p, dtype=torch.float64))
        self.inputs: list[torch.Tensor] = []

    def forward(self, u):
        self.inputs.append(u.detach().clone())
        return self.p * u


def windows(batch=3, frames=4, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, n, n, generator=g, dtype=torch.float64)


def test_only_the_last_step_carries_gradient():
    # Depth d: prediction = p * (p0^d u0) with p0^d held constant. Backpropagating through the
    # unroll would give d + 1 times that gradient's first-order term: the test separates the two.
    batch = windows(frames=4)
    objective = Pushforward(1, max_unrolled=2)
    seen = set()
    for seed in range(12):
        model = Scale(1.3)
        torch.manual_seed(seed)
        terms = objective(model, batch)
        terms["loss"].backward()
        d = int(terms["unrolled"])
        seen.add(d)
        p = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
        constant = 1.3**d * batch[:, :1]
        expected = relative_l2(p * constant, batch[:, d + 1 : d + 2])
        expected.backward()
        assert torch.allclose(terms["pushforward"].detach(), expected.detach(), rtol=1e-12)
        assert torch.allclose(model.p.grad, p.grad, rtol=1e-10)
        # The model saw the detached states: u0, p u0, ..., p^d u0 (then nothing else).
        assert len(model.inputs) == d + 1
        assert torch.allclose(model.inputs[-1], constant)
    assert seen == {0, 1, 2}


def test_noise_has_the_configured_scale_and_is_seeded():
    batch = windows(batch=4, frames=2, n=64)
    batch = batch * torch.tensor([1.0, 2.0, 5.0, 0.5], dtype=torch.float64).view(4, 1, 1, 1)
    objective = Pushforward(1, max_unrolled=0, noise=0.1)
    model = Scale(1.0)
    torch.manual_seed(0)
    first = objective(model, batch)["loss"]
    noise = model.inputs[0] - batch[:, :1]
    ratio = noise.flatten(1).std(1) / batch[:, :1].flatten(1).std(1)
    assert torch.allclose(ratio, torch.full((4,), 0.1, dtype=torch.float64), rtol=0.05)  # 4096 draws a sample
    torch.manual_seed(0)
    assert objective(model, batch)["loss"] == first
    torch.manual_seed(1)
    assert objective(model, batch)["loss"] != first
    clean = Scale(1.0)
    Pushforward(1, max_unrolled=0)(clean, batch)
    assert torch.equal(clean.inputs[0], batch[:, :1])


def test_dissipativity_is_zero_for_the_contraction_and_one_for_the_identity():
    batch = windows(batch=8, frames=3, n=32)
    objective = Pushforward(1, max_unrolled=1, dissipativity=0.5, contraction=0.5, radius=(2.0, 4.0))
    contraction = Scale(0.5)
    terms = objective(contraction, batch)
    assert float(terms["dissipativity"].detach()) < 1e-12
    identity = Scale(1.0)
    terms = objective(identity, batch)
    assert float(terms["dissipativity"].detach()) == pytest.approx(1.0, rel=1e-6)  # |u - u/2| / |u/2|
    assert float(terms["loss"].detach()) == pytest.approx(float(terms["pushforward"].detach()) + 0.5, rel=1e-6)
    # A quarter of the batch's count of random fields, with rms in radius x the batch's std.
    fields = identity.inputs[-1]
    assert fields.shape == (2, 1, 32, 32)
    ratio = fields.square().mean((-2, -1)).sqrt().flatten() / batch[:, :1].std()
    assert bool(((ratio >= 2.0 - 1e-6) & (ratio <= 4.0 + 1e-6)).all())


def test_windows_too_short_for_the_unroll_and_bad_settings_are_named():
    with pytest.raises(ValueError, match="max_unrolled=3 needs 4"):
        Pushforward(1, max_unrolled=3)(Scale(1.0), windows(frames=3))
    with pytest.raises(ValueError, match="contraction"):
        Pushforward(1, contraction=1.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        Pushforward(1, noise=-0.1)
