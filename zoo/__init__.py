"""zoo: operator-transformer hybrids for physics."""

from zoo.layers import SpectralConv
from zoo.models import FNO, create_model, list_models

__version__ = "0.1.0"

__all__ = ["FNO", "SpectralConv", "create_model", "list_models", "__version__"]
