"""Architecture registry: every `zoo` model is reachable by name and described by its arguments.

``@register_model`` records a class under its name and wraps its constructor so that each instance
carries ``model.config``: the constructor's keyword arguments (defaults filled in, tuples as
lists), which must be JSON-serialisable. ``create_model(name, **config)`` rebuilds the same
architecture, which is all that saving and loading need.
"""

from __future__ import annotations

import functools
import inspect
import json
from typing import Any, TypeVar

from torch import nn

_ARCHITECTURES: dict[str, type[nn.Module]] = {}
# Arguments that say where a model lives, not what it is: never part of its config.
_PLACEMENT_ARGUMENTS = ("device", "dtype")

ModelT = TypeVar("ModelT", bound=type[nn.Module])


def register_model(cls: ModelT) -> ModelT:
    """Class decorator: register ``cls`` by name and give its instances a ``config`` dict."""
    name = cls.__name__
    if name in _ARCHITECTURES and _ARCHITECTURES[name] is not cls:
        raise ValueError(f"an architecture named {name!r} is already registered")
    signature = inspect.signature(cls.__init__)
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if type(self) is cls:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = {k: v for k, v in list(bound.arguments.items())[1:] if k not in _PLACEMENT_ARGUMENTS}
            self.config = _json_config(name, arguments)

    cls.__init__ = __init__
    _ARCHITECTURES[name] = cls
    return cls


def _json_config(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(arguments))
    except TypeError as error:
        raise TypeError(
            f"{name} arguments must be JSON-serialisable to form its config: {error}"
        ) from None


def list_models() -> list[str]:
    """Names of every registered architecture."""
    return sorted(_ARCHITECTURES)


def get_model_class(name: str) -> type[nn.Module]:
    """The class registered as ``name`` (an error lists the known names)."""
    try:
        return _ARCHITECTURES[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(list_models())}") from None


def create_model(name: str, **config: Any) -> nn.Module:
    """Build the architecture ``name`` from its config (its constructor's keyword arguments)."""
    cls = get_model_class(name)
    parameters = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(config) - set(parameters) - {"self"})
    if unknown:
        raise TypeError(f"unknown config keys for {name}: {', '.join(unknown)}")
    return cls(**config)


def with_config(model: nn.Module, **changes: Any) -> nn.Module:
    """The same architecture rebuilt with some constructor arguments changed, keeping every
    weight whose name and shape are unchanged (others keep their fresh initialisation)."""
    config = {**model.config, **changes}
    new = create_model(type(model).__name__, **config).to(next(model.parameters()).device)
    old_state, new_state = model.state_dict(), new.state_dict()
    new.load_state_dict({k: v for k, v in old_state.items() if k in new_state and new_state[k].shape == v.shape}, strict=False)
    return new
