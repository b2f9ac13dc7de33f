"""The size of another operator's error as an operator (UQNO's residual operator, Ma et al. 2024)."""

from __future__ import annotations

import torch

from zoo.models.field_operators import FieldOperator
from zoo.models.registry import register_model


@register_model
class ResidualWidth(FieldOperator):
    """``u -> exp(FieldOperator(u))``: a positive width per output value, e.g. the predicted ``|error|``
    of an operator reading the same inputs. Constructor arguments are :class:`FieldOperator`'s; its
    output statistics are those of ``log |error|``. Shapes: ``(B, C_in, *spatial) -> (B, C_out, *spatial)``.
    """

    def log_width(self, u: torch.Tensor) -> torch.Tensor:
        return super().forward(u)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_width(u))
