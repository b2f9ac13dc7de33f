"""zoo: operator-transformer hybrids for physics.

The names below load on first use (PEP 562), so ``import zoo`` and ``zoo --help`` do not import
torch. Importing :mod:`zoo.models` or :mod:`zoo.timm` (which any of them does) registers the
``zoo_*`` timm variants; ``zoo.timm.create_model`` builds timm models with a ``mixer`` keyword.
"""

import importlib

from zoo.version import __version__

_MODULES = {
    "zoo.layers": ["SpectralConv"],
    "zoo.models": ["FNO", "FourierTransformer", "create_model", "list_models", "replace_attention"],
    "zoo.hub": ["from_pretrained", "list_pretrained", "push_to_hub", "save_pretrained"],
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_EXPORTS) + ["__version__", "timm"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name == "timm":
        return importlib.import_module("zoo.timm")
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
