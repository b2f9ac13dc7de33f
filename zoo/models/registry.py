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
    signature = constructor_signature(cls)
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


def constructor_signature(cls: type) -> inspect.Signature:
    """The arguments ``cls(...)`` takes, as its config records them.

    A constructor ending in ``**kwargs`` that it forwards to its first base class (a subclass that
    adds arguments, e.g. :class:`~zoo.models.multiphysics_stepper.MultiphysicsStepper`) takes the
    base's arguments too: they become keyword-only parameters of the returned signature, so the
    subclass need not repeat them and its config still names every one.
    """
    signature = inspect.signature(cls.__init__)
    parameters = list(signature.parameters.values())
    if not parameters or parameters[-1].kind is not inspect.Parameter.VAR_KEYWORD:
        return signature
    own = parameters[:-1]
    names = {p.name for p in own}
    inherited = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in list(constructor_signature(cls.__bases__[0]).parameters.values())[1:]
        if p.name not in names and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    return signature.replace(parameters=own + inherited)


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


# Upper bounds of every size argument a config can give, under any architecture that takes it
# (nested backbones and mixer_kwargs included). Configs come from files that strangers write: a
# size is checked before anything is built, so `n_layers: 10000000` is an error, not an hour of
# allocation. Each bound is far above any model in the literature.
SIZE_LIMITS: dict[str, int] = {
    "in_channels": 2**16,
    "out_channels": 2**16,
    "channels": 2**12,
    "history": 2**12,
    "width": 2**14,
    "embed_dim": 2**14,
    "projection_channels": 2**16,
    "n_layers": 2**10,
    "depth": 2**10,
    "modes": 2**12,
    "patch_size": 2**12,
    "num_blocks": 2**14,
    "groups": 2**14,
    "filter_size": 2**14,
    "coarse_grid": 2**14,
    "frames": 2**16,
}


def check_config_sizes(name: str, config: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the field when a size in ``config`` (nested ones too) is not an
    integer in ``[0, SIZE_LIMITS[field]]``."""
    for key, value in config.items():
        where = f"{name} config {key!r}"
        if key in SIZE_LIMITS:
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if isinstance(item, bool) or not isinstance(item, int):
                    raise ValueError(f"{where} must be an integer or a list of integers, got {value!r}")
                if not 0 <= item <= SIZE_LIMITS[key]:
                    raise ValueError(f"{where} is {item}, outside the supported range 0..{SIZE_LIMITS[key]}")
        elif isinstance(value, dict):
            if isinstance(value.get("architecture"), str) and isinstance(value.get("config"), dict):
                check_config_sizes(value["architecture"], value["config"])
            else:
                check_config_sizes(name, value)


def create_model(name: str, **config: Any) -> nn.Module:
    """Build the architecture ``name`` from its config (its constructor's keyword arguments),
    after checking its sizes against :data:`SIZE_LIMITS`."""
    cls = get_model_class(name)
    parameters = constructor_signature(cls).parameters
    unknown = sorted(set(config) - set(parameters) - {"self"})
    if unknown:
        raise TypeError(f"unknown config keys for {name}: {', '.join(unknown)}")
    check_config_sizes(name, config)
    return cls(**config)


def with_config(model: nn.Module, **changes: Any) -> nn.Module:
    """The same architecture rebuilt with some constructor arguments changed, keeping every
    weight whose name and shape are unchanged (others keep their fresh initialisation)."""
    config = {**model.config, **changes}
    new = create_model(type(model).__name__, **config).to(next(model.parameters()).device)
    old_state, new_state = model.state_dict(), new.state_dict()
    new.load_state_dict({k: v for k, v in old_state.items() if k in new_state and new_state[k].shape == v.shape}, strict=False)
    return new
