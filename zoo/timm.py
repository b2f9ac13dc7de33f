"""zoo for timm users: ``zoo.timm.create_model(name, mixer="fno", ...)``.

``timm.create_model`` with a ``mixer`` keyword (see :mod:`zoo.models.timm_create`), and the swap
itself, :func:`replace_attention`. The ``zoo_*`` models are registered with timm when ``zoo`` is
imported: ``timm.list_models("zoo_*")``.
"""

# Named as timm names it, so `zoo.timm.create_model` reads like `timm.create_model` (issue #20).
from zoo.models.timm_create import create_timm_model as create_model
from zoo.models.timm_swap import AttentionSwap, replace_attention

__all__ = ["AttentionSwap", "create_model", "replace_attention"]
