"""The Triton mode-product kernels against the definition and the torch path.

Runs on CUDA tensors when a GPU is present, else on CPU tensors in Triton's interpreter, which
needs ``TRITON_INTERPRET=1`` set before triton is imported (it is read when kernels are defined).
``tests/test_kernels.py`` therefore runs this module in subprocesses: once in the interpreter, and
once on the GPU where there is one. On its own::

    TRITON_INTERPRET=1 python -m pytest tests/triton_kernels.py   # CPU, interpreter
    python -m pytest tests/triton_kernels.py                      # GPU

Every result is compared with an einsum written from the definition (kept modes picked by explicit
index lists, gradients from grad_x = sum_o g conj(W), grad_W = sum_b conj(x) g) and with the torch
path. Shapes are tiny (the interpreter is slow) but span several of the interpreter's 4-wide tiles
with ragged edges on every axis.
"""

import os

import pytest
import torch

INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
if not (INTERPRETED or torch.cuda.is_available()):
    pytest.skip("needs a GPU, or TRITON_INTERPRET=1 set before triton is imported", allow_module_level=True)
DEVICE = "cpu" if INTERPRETED else "cuda"

from zoo.kernels import triton_unavailable_reason  # noqa: E402
from zoo.kernels.mode_product import INTERPRETER_TILE  # noqa: E402
from zoo.layers import SpectralConv  # noqa: E402
from zoo.layers.mode_product import mode_product  # noqa: E402

from mode_product_reference import reference_mode_product as reference  # noqa: E402


@pytest.fixture(autouse=True)
def uninitialized_memory_is_nan():
    """torch.empty fills with NaN in deterministic mode: a position a kernel fails to write shows."""
    previous = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)  # warn only: cuBLAS needs no workspace setting
    assert torch.utils.deterministic.fill_uninitialized_memory
    yield
    torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])


# (batch, in, out, x layout, weight layout, kept (n_pos, n_neg) per axis, output layout)
CASES = {
    "1d": (3, 5, 6, (7,), (7,), [(7, 0)], (7,)),
    "1d-batch1-weight-longer-than-grid": (1, 4, 3, (8,), (10,), [(8, 0)], (8,)),
    "2d-odd-packed": (2, 3, 5, (5, 4), (6, 4), [(3, 2), (4, 0)], (5, 4)),
    "2d-unpruned-rows-zeros-written": (3, 6, 5, (9, 4), (6, 5), [(3, 3), (4, 0)], (9, 4)),
    "2d-every-position-kept": (2, 5, 2, (4, 3), (6, 3), [(2, 2), (3, 0)], (4, 3)),
    "3d-packed": (2, 5, 3, (4, 5, 3), (4, 6, 3), [(2, 2), (3, 2), (3, 0)], (4, 5, 3)),
    "3d-mixed-layouts": (2, 3, 6, (4, 9, 3), (4, 6, 3), [(2, 2), (3, 3), (3, 0)], (8, 6, 3)),
}


def make_inputs(case, contiguous, weight_dtype=torch.float32, seed=0):
    batch, c_in, c_out, x_modes, w_modes, _, out_modes = CASES[case]
    gen = torch.Generator().manual_seed(seed)
    if contiguous:
        x = torch.randn(batch, c_in, *x_modes, dtype=torch.complex64, generator=gen)
        w = torch.randn(*w_modes, c_in, c_out, 2, generator=gen)
    else:
        # channels-major storage and a padded last axis: no stride of x is the packed one, and
        # the weight's in/out strides are swapped
        padded = torch.randn(c_in, batch, *x_modes[:-1], x_modes[-1] + 3, dtype=torch.complex64, generator=gen)
        x = padded.to(DEVICE).transpose(0, 1)[..., 1 : x_modes[-1] + 1]
        w = torch.randn(*w_modes, c_out, c_in, 2, generator=gen).to(DEVICE).transpose(-3, -2)
    g = torch.randn(batch, c_out, *out_modes, dtype=torch.complex64, generator=gen)
    return x.to(DEVICE), w.to(DEVICE, weight_dtype), g.to(DEVICE)


def triton_and_torch(x, w, g, kept, out_modes):
    """Output and (grad_x, grad_W) from the Triton path and from the torch path."""
    results = []
    for backend in ("triton", "torch"):
        xb, wb = x.detach().requires_grad_(), w.detach().requires_grad_()
        y = mode_product(xb, wb, backend=backend, kept=kept, out_modes=out_modes)
        results.append((y, *torch.autograd.grad(y, (xb, wb), grad_outputs=g)))
    return results


def on_cpu(*tensors):
    return [t.cpu() for t in tensors]


def test_kernels_can_run_here():
    assert triton_unavailable_reason(torch.zeros(1, dtype=torch.complex64, device=DEVICE)) is None
    assert min(CASES[c][1] for c in CASES) < INTERPRETER_TILE["BLOCK_IN"] < max(CASES[c][1] for c in CASES)


@pytest.mark.parametrize("contiguous", [True, False], ids=["contiguous", "strided"])
@pytest.mark.parametrize("case", CASES)
def test_forward_and_gradients_match_references(case, contiguous):
    kept, out_modes = CASES[case][5], CASES[case][6]
    x, w, g = make_inputs(case, contiguous)
    (y, grad_x, grad_w), (y_torch, grad_x_torch, grad_w_torch) = triton_and_torch(x, w, g, kept, out_modes)
    y_ref, grad_x_ref, grad_w_ref = reference(*on_cpu(x, w, g), kept, out_modes)
    tol = dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(y.cpu().to(torch.complex128), y_ref, **tol)
    torch.testing.assert_close(grad_x.cpu().to(torch.complex128), grad_x_ref, **tol)
    torch.testing.assert_close(grad_w.cpu().double(), grad_w_ref, **tol)
    torch.testing.assert_close(y, y_torch, **tol)
    torch.testing.assert_close(grad_x, grad_x_torch, **tol)
    torch.testing.assert_close(grad_w, grad_w_torch, **tol)
    assert grad_w.shape == w.shape and grad_x.shape == x.shape


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_weights_accumulate_in_float32(dtype):
    kept, out_modes = CASES["2d-unpruned-rows-zeros-written"][5:]
    x, w, g = make_inputs("2d-unpruned-rows-zeros-written", True, weight_dtype=dtype)
    (y, grad_x, grad_w), _ = triton_and_torch(x, w, g, kept, out_modes)
    y_ref, grad_x_ref, grad_w_ref = reference(*on_cpu(x, w, g), kept, out_modes)
    # the half-precision weights are exact in float64, so only float32 accumulation errs ...
    torch.testing.assert_close(y.cpu().to(torch.complex128), y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad_x.cpu().to(torch.complex128), grad_x_ref, rtol=1e-5, atol=1e-5)
    # ... while the weight gradient is rounded to the weight's dtype
    assert grad_w.dtype == dtype
    torch.testing.assert_close(grad_w.cpu().double(), grad_w_ref.to(dtype).double(), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize(
    "spatial, modes",
    [((11,), (4,)), ((9, 8), (3, 4)), ((6, 5), (5, 4)), ((5, 6, 7), (2, 2, 3))],
    ids=["1d-odd", "2d", "2d-grid-coarser-than-modes", "3d-odd"],
)
def test_spectral_conv_triton_matches_torch(spatial, modes):
    torch.manual_seed(0)
    layer = SpectralConv(6, 5, modes, backend="triton", device=DEVICE)
    reference_layer = SpectralConv(6, 5, modes, backend="torch", device=DEVICE)
    reference_layer.load_state_dict(layer.state_dict())
    x = torch.randn(2, 6, *spatial, device=DEVICE)
    grads = []
    for module in (layer, reference_layer):
        xb = x.clone().requires_grad_()
        out = module(xb)
        grads.append((out, *torch.autograd.grad(out.square().sum(), (xb, module.weight))))
    for triton_value, torch_value in zip(*grads):
        torch.testing.assert_close(triton_value, torch_value, rtol=1e-5, atol=1e-5)


def test_opcheck_on_the_triton_ops():
    kept, out_modes = CASES["2d-unpruned-rows-zeros-written"][5:]
    x, w, g = make_inputs("2d-unpruned-rows-zeros-written", False)
    kp, kn = [p for p, _ in kept], [n for _, n in kept]
    torch.library.opcheck(torch.ops.zoo.mode_product, (x.requires_grad_(), w.requires_grad_(), kp, kn, list(out_modes)))
    torch.library.opcheck(torch.ops.zoo.mode_product_grad_input, (g, w.detach(), kp, kn, list(x.shape[2:])))
    torch.library.opcheck(torch.ops.zoo.mode_product_grad_weight, (x.detach(), g, w.detach(), kp, kn))


def test_compiled_spectral_conv_matches_eager():
    torch.manual_seed(0)
    layer = SpectralConv(3, 4, (3, 2), backend="triton", device=DEVICE)
    x = torch.randn(2, 3, 8, 6, device=DEVICE)
    compiled = torch.compile(layer, fullgraph=True)
    out = compiled(x)
    torch.testing.assert_close(out, layer(x), rtol=1e-5, atol=1e-5)
    grad_compiled = torch.autograd.grad(out.sum(), layer.weight)[0]
    grad_eager = torch.autograd.grad(layer(x).sum(), layer.weight)[0]
    torch.testing.assert_close(grad_compiled, grad_eager, rtol=1e-5, atol=1e-5)
