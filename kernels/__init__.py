"""Triton kernels for `zoo`, installed as the subpackage ``zoo.kernels``."""

from __future__ import annotations

import torch


def triton_unavailable_reason(x: torch.Tensor) -> str | None:
    """Why the Triton mode product cannot run on ``x`` here, or ``None`` when it can."""
    return "the Triton mode-product kernel is not implemented yet"


def mode_product_triton(x_hat: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError(triton_unavailable_reason(x_hat))
