"""Architectures: the FNO family and operator-transformer backbones, reachable by name."""

from zoo.models.field_operators import AutoregressiveOperator, FieldOperator
from zoo.models.fno import FNO
from zoo.models.fourier_transformer import FourierTransformer
from zoo.models.multiscale import MultiscaleOperator, spectral_resample
from zoo.models.multiphysics import MultiphysicsOperator, with_fields
from zoo.models.multiphysics_stepper import MultiphysicsStepper, as_stepper
from zoo.models.unet import UNet2d
from zoo.models.residual_width import ResidualWidth
from zoo.models.space_time import SpaceTimeFNO
from zoo.models.registry import create_model, get_model_class, list_models, register_model
from zoo.models.timm_swap import replace_attention
from zoo.models import timm_variants  # noqa: F401  (registers the zoo_* models with timm)

__all__ = ["AutoregressiveOperator", "FieldOperator", "FNO", "FourierTransformer", "MultiphysicsOperator", "MultiphysicsStepper", "MultiscaleOperator", "ResidualWidth", "SpaceTimeFNO", "UNet2d", "as_stepper", "create_model", "get_model_class", "list_models", "register_model", "replace_attention", "spectral_resample", "with_fields"]
