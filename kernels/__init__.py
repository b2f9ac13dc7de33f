"""Triton kernels for `zoo`, installed as the subpackage ``zoo.kernels``.

``zoo.kernels.mode_product`` holds the spectral convolution's mode-product kernels (forward and
both gradients); layers reach them through the custom ops of ``zoo.layers.mode_product``. Importing
this package does not import Triton, so installs without it still work on the torch path.
"""

from __future__ import annotations

import re

import torch


def triton_unavailable_reason(x: torch.Tensor) -> str | None:
    """Why the Triton mode-product kernels cannot run here on the spectrum ``x`` (or on the real
    field it is the transform of), or ``None`` when they can."""
    return _unavailable_reason(x.device.type, x.device.index, x.dtype)


# Constant for a process and a (device, dtype): torch.compile evaluates it while tracing instead of
# tracing into Triton's environment lookups, which it cannot.
@torch.compiler.assume_constant_result
def _unavailable_reason(device_type: str, device_index: int | None, dtype: torch.dtype) -> str | None:
    try:
        import triton
    except ImportError as error:
        return f"triton is not installed ({error}); install it with `pip install triton`"
    if dtype not in (torch.complex64, torch.float32):
        return f"the Triton kernels compute in float32 and take complex64 spectra, got {dtype}"
    interpreting = bool(triton.knobs.runtime.interpret)
    if not (device_type == "cuda" or interpreting):
        return (
            f"the spectrum is on {device_type}, not a CUDA device (to run the kernels on CPU "
            "tensors in Triton's interpreter, set TRITON_INTERPRET=1 before triton is imported)"
        )
    if device_type == "cuda" and not interpreting:
        if torch.version.hip is not None:
            return "the Triton kernels are written for NVIDIA GPUs (TF32 tensor cores), not ROCm"
        capability = torch.cuda.get_device_capability(device_index)
        if capability < (8, 0):
            return f"the Triton kernels need TF32 tensor cores (compute capability 8.0+), this GPU has {capability}"
    if interpreting and (reason := interpreter_incompatibility(triton.__version__, _numpy_version())):
        return reason
    from zoo.kernels.mode_product import INTERPRETED

    if interpreting and not INTERPRETED:
        return "TRITON_INTERPRET=1 was set after zoo.kernels was imported; set it before the first import"
    return None


def _release(version: str) -> tuple[int, int]:
    major, minor = re.match(r"(\d+)\.(\d+)", version).groups()
    return int(major), int(minor)


def _numpy_version() -> str:
    import numpy

    return numpy.__version__


def interpreter_incompatibility(triton_version: str, numpy_version: str) -> str | None:
    """Why Triton's interpreter cannot run the kernels with these versions, or ``None``.

    Triton before 3.7 turns a one-element array into a Python int where a kernel uses a tensor as
    a loop bound, which NumPy 2.4 refuses ("only 0-dimensional arrays can be converted to Python
    scalars"; triton-lang/triton#9171, fixed in 3.7). Compiled kernels on a GPU are not affected.
    """
    if _release(triton_version) < (3, 7) and _release(numpy_version) >= (2, 4):
        return (
            f"Triton {triton_version}'s interpreter cannot run with NumPy {numpy_version} (triton-lang/triton#9171): "
            "use triton>=3.7 or numpy<2.4 for TRITON_INTERPRET=1; compiled kernels on a GPU are not affected"
        )
    return None
