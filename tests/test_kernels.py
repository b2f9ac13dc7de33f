"""The mode product's dispatch, its custom ops and torch.compile on CPU, and the Triton kernels.

The kernels themselves are checked by ``tests/triton_kernels.py``, run here in subprocesses: in
Triton's interpreter (``TRITON_INTERPRET=1`` must be set before triton is imported, so not in this
process), and compiled on the GPU where there is one.
"""

import json
import math
import os
import pathlib
import re
import subprocess
import sys

import pytest
import torch

from mode_product_reference import reference_mode_product
from zoo.kernels import interpreter_incompatibility, triton_unavailable_reason
from zoo.layers import SpectralConv
from zoo.layers.mode_product import mode_product, mode_product_torch

ROOT = pathlib.Path(__file__).resolve().parents[1]

# a 2D layout whose first axis is an unpruned FFT output: rows 3..5 of 9 are not kept
LAYOUT = dict(kept=[(3, 3), (4, 0)], out_modes=(9, 4))


def layout_inputs(dtype=torch.complex64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 5, 9, 4, dtype=dtype, generator=gen)
    w = torch.randn(6, 5, 5, 6, 2, dtype=torch.float64 if dtype == torch.complex128 else torch.float32, generator=gen)
    g = torch.randn(3, 6, 9, 4, dtype=dtype, generator=gen)
    return x, w, g


def op_args(x, w):
    kept = LAYOUT["kept"]
    return (x, w, [p for p, _ in kept], [n for _, n in kept], list(LAYOUT["out_modes"]))


def run_triton_kernel_tests(env: dict) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests" / "triton_kernels.py"), "-q", "-p", "no:cacheprovider"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    report = result.stdout[-6000:] + result.stderr[-3000:]
    assert result.returncode == 0, report
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 20 and "skipped" not in result.stdout, report


def installed_interpreter_incompatibility() -> str | None:
    triton = pytest.importorskip("triton")
    import numpy

    return interpreter_incompatibility(triton.__version__, numpy.__version__)


def test_triton_kernels_pass_in_the_interpreter():
    if reason := installed_interpreter_incompatibility():
        pytest.skip(reason)
    run_triton_kernel_tests({**os.environ, "TRITON_INTERPRET": "1"})


@pytest.mark.parametrize(
    "triton_version, numpy_version, broken",
    [("3.6.0", "2.5.2", True), ("3.6.0", "2.4.0", True), ("3.6.0", "2.3.5", False), ("3.7.0", "2.5.2", False),
     ("3.8.0+git1234", "2.4.6", False), ("2.3.1", "1.26.4", False)],
)
def test_interpreter_incompatibility_names_both_versions(triton_version, numpy_version, broken):
    reason = interpreter_incompatibility(triton_version, numpy_version)
    if broken:
        assert f"Triton {triton_version}" in reason and f"NumPy {numpy_version}" in reason and "triton>=3.7" in reason
    else:
        assert reason is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_triton_kernels_pass_on_the_gpu():
    run_triton_kernel_tests({k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"})


def test_auto_backend_on_cpu_is_the_torch_path():
    x, w, _ = layout_inputs()
    x, w = x[..., :6, :], w[:, :4]  # packed modes: x (3, 5, 6, 4), w (6, 4, 5, 6, 2)
    assert torch.equal(mode_product(x, w), mode_product_torch(x, w))


def test_triton_backend_on_cpu_names_why(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    layer = SpectralConv(2, 2, (3, 3), backend="triton")
    with pytest.raises(RuntimeError, match="backend='triton' cannot run here: .*on cpu, not a CUDA device.*TRITON_INTERPRET=1"):
        layer(torch.randn(1, 2, 8, 8))


def test_triton_backend_without_triton_names_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "triton", None)  # makes `import triton` fail
    assert "triton is not installed" in triton_unavailable_reason(torch.zeros(1, dtype=torch.complex64))
    with pytest.raises(RuntimeError, match="triton is not installed"):
        mode_product(torch.zeros(1, 1, 2, dtype=torch.complex64), torch.zeros(2, 1, 1, 2), backend="triton")


def test_float64_spectra_stay_on_the_torch_path():
    assert "complex64" in triton_unavailable_reason(torch.zeros(1, dtype=torch.complex128))
    layer = SpectralConv(2, 2, (3, 3), backend="auto").double()
    assert layer(torch.randn(1, 2, 8, 8, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize(
    "x_shape, w_shape, kwargs, message",
    [
        ((2, 3, 4), (4, 2, 5, 2), {}, "3 channels but weight expects 2"),
        ((2, 3, 4), (5, 3, 5, 2), {}, "pass kept="),
        ((2, 3, 4, 4), (4, 3, 5, 2), {}, "for 2 mode axes"),
        ((2, 3, 9), (6, 3, 5, 2), {"kept": [(4, 3)]}, "do not fit weight"),
    ],
)
def test_bad_shapes_name_the_problem(x_shape, w_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        mode_product(torch.zeros(x_shape, dtype=torch.complex64), torch.zeros(w_shape), **kwargs)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_custom_op_on_cpu_matches_the_definition(dtype):
    x, w, g = layout_inputs(dtype)
    x.requires_grad_(), w.requires_grad_()
    y = torch.ops.zoo.mode_product(*op_args(x, w))
    grad_x, grad_w = torch.autograd.grad(y, (x, w), grad_outputs=g)
    expected = reference_mode_product(x, w, g, **LAYOUT)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.complex64 else dict(rtol=1e-12, atol=1e-12)
    for value, reference in zip((y, grad_x, grad_w), expected):
        torch.testing.assert_close(value.to(reference.dtype), reference, **tol)


def test_custom_op_gradients_pass_gradcheck():
    x, w, _ = layout_inputs(torch.complex128)
    x, w = x[:2, :2].clone().requires_grad_(), w[:, :, :2, :3].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: torch.ops.zoo.mode_product(*op_args(x, w)), (x, w))


def test_custom_ops_pass_opcheck_on_cpu():
    x, w, g = layout_inputs()
    kp, kn, out_modes = op_args(x, w)[2:]
    torch.library.opcheck(torch.ops.zoo.mode_product, (x.requires_grad_(), w.requires_grad_(), kp, kn, out_modes))
    torch.library.opcheck(torch.ops.zoo.mode_product_grad_input, (g, w.detach(), kp, kn, list(x.shape[2:])))
    torch.library.opcheck(torch.ops.zoo.mode_product_grad_weight, (x.detach(), g, w.detach().bfloat16(), kp, kn))


def test_compiled_custom_op_matches_eager():
    x, w, g = layout_inputs()
    x.requires_grad_(), w.requires_grad_()
    compiled = torch.compile(lambda x, w: torch.ops.zoo.mode_product(*op_args(x, w)), fullgraph=True)
    eager_y = torch.ops.zoo.mode_product(*op_args(x, w))
    compiled_y = compiled(x, w)
    torch.testing.assert_close(compiled_y, eager_y)
    for a, b in zip(torch.autograd.grad(compiled_y, (x, w), g), torch.autograd.grad(eager_y, (x, w), g)):
        torch.testing.assert_close(a, b)


def test_compiled_spectral_conv_matches_eager():
    torch.manual_seed(0)
    layer = SpectralConv(3, 4, (4, 3))
    x = torch.randn(2, 3, 12, 10, requires_grad=True)
    compiled = torch.compile(layer, fullgraph=True)
    out, eager = compiled(x), layer(x)
    # Compiled and eager code sum in different orders (the compiled layer even transforms by DFT
    # GEMMs where eager uses FFTs): float32 sums of n terms then differ by about sqrt(n) * eps *
    # (size of the terms), so the tolerance scales with each tensor's largest value. The longest
    # sums here run over a grid (12 * 10 points) times the batch (2): sqrt(240) * eps ~ 1.8e-6.
    def close(a, b):
        scale = b.abs().max().item()
        torch.testing.assert_close(a, b, rtol=0, atol=math.sqrt(2 * 12 * 10) * torch.finfo(torch.float32).eps * scale)

    close(out, eager)
    for a, b in zip(torch.autograd.grad(out.square().sum(), (x, layer.weight)), torch.autograd.grad(eager.square().sum(), (x, layer.weight))):
        close(a, b)


def test_benchmark_script_smoke_on_cpu(tmp_path):
    prefix = tmp_path / "spectral"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "spectral_kernels.py"), "--device", "cpu", "--quick",
         "--repeats", "1", "--warmup", "0", "--output", str(prefix)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=300,
    )
    results = json.loads(prefix.with_suffix(".json").read_text())
    by_impl = {}
    for record in results["records"]:
        by_impl.setdefault(record["implementation"], []).append(record)
    assert set(by_impl) == {"unfused", "zoo-torch", "zoo-triton"}
    for record in by_impl["unfused"] + by_impl["zoo-torch"]:
        assert record["forward ms"] > 0 and record["forward+backward ms"] > 0 and record["stages ms"]["mode product"] > 0
    assert all("not a CUDA device" in record["skipped"] for record in by_impl["zoo-triton"])
    assert "| B=2 C=8 32x32 m=8 |" in prefix.with_suffix(".md").read_text()
