"""The mixed-precision policy: what zoo's operators keep in float32 under ``torch.autocast``.

Autocast chooses a dtype per op: GEMMs in bf16, a fixed list of precision-sensitive ops (norms,
softmax, reductions) in float32. An operator rolled out autoregressively needs more: its rollout
compounds every rounding of its one-step map, step after step. Measured on the pretrained
``fno-ns2d-nu1e-3`` rolled out t = 11..50 (4 held-out trajectories, BENCHMARKS.md "Mixed
precision"), everything under bf16 autocast gives 3.1x float32's trajectory error; the spectral
layers' bf16 truncated DFTs are the largest single source (the forward DFT alone 1.5x), then the
FNO's lifting and projection (the layers that read the physical input and write the prediction),
and the carried state would be one too (rounding it to bf16 each step, alone: 2.4x). So under
autocast zoo computes in float32:

* the carried state of a time stepper, its normalisation and its residual update
  (:class:`~zoo.models.field_operators.AutoregressiveOperator`): a rollout's state stays float32;
* the transforms and mode product of :class:`~zoo.layers.spectral_conv.SpectralConv` (its output
  is returned in the autocast dtype): on CPU a bf16 DFT with the split matrices it needs for
  accuracy costs two bf16 GEMMs, about what one float32 GEMM costs, and the layer saves only
  mode-sized tensors for its backward pass, so float32 here costs little speed or memory;
* the lifting and the projection of an :class:`~zoo.models.fno.FNO`.

What stays in the autocast dtype: the pointwise GEMMs inside the Fourier blocks and the residual
stream between them, which hold most of the activation memory of a training step. Their rounding
is what remains of the rollout error (1.15x float32's on the pretrained NS FNO over 4 held-out
trajectories, 1.08x over 8; with the residual stream in float32 too it is 1.02x, but a training
step then saves 24% of its activation memory instead of 43%). Models cast to half precision
explicitly (``model.to(torch.bfloat16)``, no autocast) compute every step in their dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch

T = TypeVar("T")

_HALF = (torch.float16, torch.bfloat16)


def in_float32(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in float32 when autocast is on for the first tensor argument's device.

    Then autocast is turned off for the call and bf16/fp16 tensor arguments are cast to float32;
    otherwise (no autocast, or no tensor argument) ``fn`` runs unchanged, so float64 stays float64.
    """
    device = next((a.device.type for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None)
    if device is None or not torch.is_autocast_enabled(device):
        return fn(*args, **kwargs)

    def full(a: Any) -> Any:
        return a.float() if isinstance(a, torch.Tensor) and a.dtype in _HALF else a

    with torch.autocast(device, enabled=False):
        return fn(*(full(a) for a in args), **{k: full(v) for k, v in kwargs.items()})
