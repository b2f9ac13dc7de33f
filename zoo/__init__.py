"""zoo: operator-transformer hybrids for physics."""

from zoo.layers import SpectralConv
from zoo.models import FNO, FourierTransformer, create_model, list_models, replace_attention
from zoo.hub import from_pretrained, list_pretrained, push_to_hub, save_pretrained
from zoo import timm  # noqa: E402  (zoo.timm.create_model: timm models with a mixer keyword)

__version__ = "0.1.0"

__all__ = [
    "FNO",
    "FourierTransformer",
    "SpectralConv",
    "create_model",
    "from_pretrained",
    "list_models",
    "list_pretrained",
    "push_to_hub",
    "replace_attention",
    "save_pretrained",
    "timm",
    "__version__",
]
