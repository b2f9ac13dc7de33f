"""Architectures: the FNO family and operator-transformer backbones, reachable by name."""

from zoo.models.field_operators import AutoregressiveOperator, FieldOperator
from zoo.models.fno import FNO
from zoo.models.unet import UNet2d
from zoo.models.registry import create_model, get_model_class, list_models, register_model

__all__ = ["AutoregressiveOperator", "FieldOperator", "FNO", "UNet2d", "create_model", "get_model_class", "list_models", "register_model"]
