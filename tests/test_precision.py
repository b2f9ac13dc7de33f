"""The mixed-precision policy (zoo.layers.precision): what stays float32 under autocast."""

import pytest
import torch

from zoo.layers.precision import in_float32
from zoo.models.field_operators import AutoregressiveOperator
from zoo.models.fno import FNO

BF16 = torch.bfloat16


def autocast():
    return torch.autocast("cpu", dtype=BF16)


def seen(*args, **kwargs):
    """What a function called through ``in_float32`` sees: its arguments' dtypes and autocast."""
    return [a.dtype for a in (*args, *kwargs.values())], torch.is_autocast_enabled("cpu")


def test_in_float32_turns_autocast_off_and_upcasts_half_tensors_only():
    half, double = torch.ones(2, dtype=BF16), torch.ones(2, dtype=torch.float64)
    with autocast():
        assert in_float32(seen, half, x=double) == ([torch.float32, torch.float64], False)
    assert in_float32(seen, half, x=double) == ([BF16, torch.float64], False)  # no autocast: unchanged


def small_stepper(history: int = 2, increment_scale: float = 0.5) -> AutoregressiveOperator:
    """A residual time stepper on 16x16 whose step changes the field by a few percent, as a trained one does."""
    torch.manual_seed(0)
    backbone = {"architecture": "FNO", "config": {"in_channels": history, "out_channels": 1, "modes": [5, 5], "width": 12, "n_layers": 3}}
    model = AutoregressiveOperator(backbone, history=history, field_std=[2.0])
    with torch.no_grad():
        model.backbone.projection.fc2.weight.mul_(increment_scale)
        model.backbone.projection.fc2.bias.zero_()
    return model.eval()


def smooth_fields(batch: int, frames: int, n: int = 16) -> torch.Tensor:
    """``(batch, frames, n, n)`` sums of the lowest Fourier modes, slowly drifting in time."""
    torch.manual_seed(1)
    x = torch.arange(n) / n
    xx, yy = torch.meshgrid(x, x, indexing="ij")
    fields = []
    for t in range(frames):
        field = 0
        for kx in range(3):
            for ky in range(3):
                phase = torch.rand(batch, 1, 1) * 6.28 + 0.1 * t
                field = field + torch.randn(batch, 1, 1) * torch.cos(2 * torch.pi * (kx * xx + ky * yy) + phase)
        fields.append(field)
    return torch.stack(fields, 1)


def test_fno_lifting_and_projection_run_in_float32_under_autocast():
    model = FNO(3, 1, (4, 4), width=8, n_layers=2)
    calls = {}

    def record(name):
        def hook(module, args):
            calls[name] = (args[0].dtype, torch.is_autocast_enabled("cpu"))
        return hook

    for name in ("lifting", "projection"):
        getattr(model, name).register_forward_pre_hook(record(name))
    with autocast():
        out = model(torch.randn(2, 3, 16, 16))
    assert calls == {"lifting": (torch.float32, False), "projection": (torch.float32, False)}
    assert out.dtype == torch.float32


def test_autoregressive_step_is_float32_state_plus_float32_update_of_the_bf16_backbone():
    model = small_stepper()
    window = smooth_fields(2, 2)
    with torch.no_grad(), autocast():
        step = model(window)
        increment = model.backbone(model._normalise(window, model.history))
    assert step.dtype == torch.float32
    # The update is exact float32 arithmetic on the state: the last frame is never rounded to bf16.
    assert torch.equal(step, window[:, -1:] + increment.float() * model.field_std.view(1, -1, 1, 1))


def test_rollout_state_stays_float32_under_autocast():
    model = small_stepper()
    states = []
    model.register_forward_pre_hook(lambda module, args: states.append(args[0].dtype))
    with torch.no_grad(), autocast():
        rollout = model.rollout(smooth_fields(2, 2), 5)
    assert rollout.dtype == torch.float32
    assert states == [torch.float32] * 5


# Under the policy the only bf16 roundings of a step are inside the Fourier blocks, so a step's
# increment errs by about a bf16 layer's error, at most 2.5 * 2^-8 of the increment (the bound the
# spectral layer's tests hold a whole bf16 layer to), and a near-identity step carries earlier
# errors forward about unchanged: after S steps the state errs by at most that fraction of the sum
# of the increments' norms. Rounding the state itself to bf16 (up to 2^-9 of the field per step,
# with increments of about 5% of the field) exceeds it.
INCREMENT_BOUND = 2.5 * 2.0**-8


def test_bf16_rollout_error_against_float32_is_bounded_by_the_increments_error():
    model = small_stepper()
    initial = smooth_fields(4, 2)
    steps = 10
    with torch.no_grad():
        exact = model.rollout(initial, steps)
        with autocast():
            mixed = model.rollout(initial, steps)
    frames = torch.cat([initial[:, -1:], exact], 1)
    increments = torch.linalg.vector_norm(frames.diff(dim=1), dim=(2, 3))  # (B, steps)
    deviation = torch.linalg.vector_norm(mixed - exact, dim=(2, 3))  # (B, steps)
    bound = INCREMENT_BOUND * increments.cumsum(1)
    assert (deviation <= bound).all(), (deviation / bound).max()
    # the test can tell: state rounding alone breaks the bound
    rounded = initial
    with torch.no_grad():
        for _ in range(steps):
            rounded = torch.cat([rounded[:, 1:], model(rounded).bfloat16().float()], 1)
    assert torch.linalg.vector_norm(rounded[:, -1] - exact[:, -1], dim=(1, 2)).gt(bound[:, -1]).all()


def test_float64_models_are_left_alone_under_autocast():
    # autocast never touches float64, and neither does the policy: same output, same dtype
    torch.manual_seed(0)
    model = FNO(3, 1, (4, 4), width=8, n_layers=2).double()
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    with autocast():
        out = model(x)
    assert out.dtype == torch.float64
    assert torch.allclose(out, model(x), rtol=1e-12, atol=1e-12)
