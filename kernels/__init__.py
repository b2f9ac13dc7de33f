"""Triton kernels for `zoo`, installed as the subpackage ``zoo.kernels``.

``zoo.kernels.mode_product`` holds the spectral convolution's mode-product kernels (forward and
both gradients); layers reach them through the custom ops of ``zoo.layers.mode_product``. Importing
this package does not import Triton, so installs without it still work on the torch path.
"""

from __future__ import annotations

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
    from zoo.kernels.mode_product import INTERPRETED

    if interpreting and not INTERPRETED:
        return "TRITON_INTERPRET=1 was set after zoo.kernels was imported; set it before the first import"
    return None
