"""A multi-physics operator transformer: any set of named fields, a context of frames -> next frame.

Design (issue #16, section 2):

* **Per-field embeddings (MPP, McCabe et al. 2023), with padding as a by-product.** Each field
  name in the vocabulary owns an encoder ``(context, width)`` that lifts that field's context
  frames at a grid point into the token space, and a decoder ``(width,)`` that reads its next
  frame back out. A sample's token is the *sum* of its fields' lifts, so the model accepts any
  subset of the vocabulary in any order, a permutation of the fields permutes the outputs
  exactly, and a new field (fine-tuning on new physics) is one new encoder/decoder row
  (:func:`with_fields`) rather than a new input layer. DPOT's alternative (Hao et al. 2024:
  pad every system to a fixed channel count, mask the padding) ties channel slots to positions,
  so which slot holds which physical field is a convention of the data, a new field needs a free
  slot and the field order matters. The sum makes padding free anyway: a field id of ``-1``
  contributes nothing and is predicted as zero, so batches mixing systems with different field
  counts are one tensor ``(B, T, C_max, H, W)`` with a ``(B, C_max)`` id tensor.
* **Resolution invariant by construction.** There is no patch embedding (issue #18: patches tie
  the model to pixels; the published patch-2 transformer loses 3x accuracy from 64x64 to 128x128).
  Every layer is pointwise (lifting, LayerNorm, MLP, decoder) or a :class:`~zoo.layers.FNOMixer`,
  whose ``norm="forward"`` mode-truncated convolution gives the same function on every grid that
  holds its modes; positions enter as ``sin``/``cos`` of ``2 pi x`` (periodic and band-limited,
  unlike ``x`` itself, whose jump at the wrap aliases differently on every grid). So a
  band-limited input gives the same output at 32x32, 64x64 or 128x128 up to the aliasing of the
  pointwise nonlinearities (tested).
* **Normalisation in two stages, both reversible.** Per-field statistics (constructor arguments,
  so they live in ``config.json``) bring every field to unit scale; then each sample's fields are
  normalised by their own mean and standard deviation over the context window (reversible
  instance normalisation, as MPP), since one field name (vorticity) spans systems whose scales
  differ by orders of magnitude. The network predicts the increment of the last frame in those
  units, and both normalisations are undone on the way out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from zoo.layers.activations import ACTIVATIONS
from zoo.layers.mixers import make_mixer
from zoo.layers.validation import check_model_input, parameter_dtype
from zoo.models.fourier_transformer import FourierMixerBlock
from zoo.models.registry import register_model

PADDING = -1  # the id of an absent field in a (B, C) id tensor
# Floor of a field's per-sample standard deviation, in units of its global statistics: a field that
# is (nearly) constant over the context keeps a finite scale instead of amplifying round-off.
INSTANCE_STD_FLOOR = 1e-3
POSITION_FEATURES = 4  # sin, cos of 2 pi x and of 2 pi y

Fields = Sequence[str | int] | torch.Tensor


@register_model
class MultiphysicsOperator(nn.Module):
    """Next frame of any set of named 2D periodic fields from ``context`` past frames.

    Args:
        fields: the field-name vocabulary, e.g. ``["vorticity", "velocity_x", "height"]``.
        field_mean, field_std: per-field statistics in vocabulary order (defaults 0 and 1).
        context: number of past frames read.
        width: channels of every token.
        depth: number of (LayerNorm, FNO mixer, LayerNorm, MLP) blocks.
        modes: Fourier modes kept per axis by each mixer (an int or ``[m_x, m_y]``).
        groups: channel groups of the mixers' block-diagonal spectral weights.
        mlp_ratio: hidden width of each block's MLP as a multiple of ``width``.
        activation: activation of the MLPs.
        instance_norm: normalise each sample's fields by their own context statistics (and undo it).

    Shapes: ``forward(x, fields)`` maps ``x (B, context, C, H, W)`` with ``fields`` naming its ``C``
    channels to ``(B, C, H, W)``; any ``H, W`` (the mixers use the modes a grid holds).
    """

    def __init__(
        self,
        fields: Sequence[str],
        field_mean: Sequence[float] | None = None,
        field_std: Sequence[float] | None = None,
        context: int = 4,
        width: int = 96,
        depth: int = 6,
        modes: int | Sequence[int] = 12,
        groups: int = 4,
        mlp_ratio: float = 2.0,
        activation: str = "gelu",
        instance_norm: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        fields = [str(name) for name in fields]
        if not fields or len(set(fields)) != len(fields):
            raise ValueError(f"fields must be a non-empty list of distinct names, got {fields}")
        if context < 1 or width < 1 or depth < 0:
            raise ValueError(f"need context >= 1, width >= 1, depth >= 0; got {context}, {width}, {depth}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        self.fields = fields
        self.context = context
        self.instance_norm = instance_norm
        factory = {"device": device, "dtype": dtype}
        vocabulary = len(fields)
        self.register_buffer("field_mean", _statistic(field_mean, fields, 0.0, "field_mean"), persistent=False)
        self.register_buffer("field_std", _statistic(field_std, fields, 1.0, "field_std", positive=True), persistent=False)
        # Lifting: the default init of a Linear(context, width), one per field.
        bound = 1.0 / math.sqrt(context)
        self.encoder_weight = nn.Parameter(torch.empty(vocabulary, context, width, **factory).uniform_(-bound, bound))
        self.encoder_bias = nn.Parameter(torch.zeros(vocabulary, width, **factory))
        self.position = nn.Linear(POSITION_FEATURES, width, bias=False, **factory)
        modes = [modes, modes] if isinstance(modes, int) else list(modes)
        self.blocks = nn.ModuleList(
            FourierMixerBlock(
                width,
                make_mixer("fno", width, ndim=2, modes=modes, groups=groups, **factory),
                mlp_ratio=mlp_ratio,
                activation=activation,
                **factory,
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(width, eps=1e-6, **factory)
        # Small decoders: at initialisation the model predicts nearly "no change" (persistence).
        self.decoder_weight = nn.Parameter(torch.empty(vocabulary, width, **factory))
        nn.init.trunc_normal_(self.decoder_weight, std=0.02)
        self.decoder_bias = nn.Parameter(torch.zeros(vocabulary, **factory))

    def field_ids(self, fields: Fields, batch: int | None = None) -> torch.Tensor:
        """Vocabulary ids ``(B, C)`` of ``fields``: names or ids shared by the batch, or a ``(B, C)`` tensor."""
        if isinstance(fields, torch.Tensor):
            ids = fields.to(device=self.field_mean.device, dtype=torch.long)
            if ids.ndim != 2:
                raise ValueError(f"a field-id tensor must be (batch, channels), got shape {tuple(ids.shape)}")
        else:
            if isinstance(fields, str):
                raise TypeError(f"fields must be a sequence of field names, got the string {fields!r}; use [{fields!r}]")
            known = [self._field_id(name) for name in fields]
            if len(set(known)) != len(known):
                raise ValueError(f"a sample names the same field twice: {[self.fields[i] for i in known]}")
            # Names are checked above in Python, so this path has no data-dependent branch (compiles whole).
            return torch.tensor(known, dtype=torch.long, device=self.field_mean.device).expand(batch or 1, -1)
        if torch.compiler.is_compiling():
            return ids
        if ((ids < PADDING) | (ids >= len(self.fields))).any():
            raise ValueError(f"field ids must lie in {PADDING}..{len(self.fields) - 1} (-1: padding), got {ids.unique().tolist()}")
        ordered = ids.sort(dim=1).values
        repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] != PADDING)
        if repeated.any():
            row = ordered[repeated.any(dim=1).nonzero()[0, 0]]
            raise ValueError(f"a sample names the same field twice: {[self.fields[i] for i in row.tolist() if i != PADDING]}")
        return ids

    def forward(self, x: torch.Tensor, fields: Fields) -> torch.Tensor:
        """``(B, context, C, H, W)`` -> ``(B, C, H, W)``, the frame after the last context frame."""
        self._check_input(x)
        ids = self.field_ids(fields, x.shape[0])
        if ids.shape != (x.shape[0], x.shape[2]):
            raise ValueError(
                f"fields name {ids.shape[-1]} channels (ids shape {tuple(ids.shape)}), but the input has "
                f"{x.shape[2]} channels and batch {x.shape[0]} (shape {tuple(x.shape)})"
            )
        present = (ids != PADDING).to(x.dtype)  # (B, C)
        known = ids.clamp(min=0)
        mean = self.field_mean[known].to(x.dtype)[:, None, :, None, None]
        std = self.field_std[known].to(x.dtype)[:, None, :, None, None]
        z = (x - mean) / std
        if self.instance_norm:
            shift = z.mean(dim=(1, 3, 4), keepdim=True)
            scale = (z.var(dim=(1, 3, 4), keepdim=True, unbiased=False) + INSTANCE_STD_FLOOR**2).sqrt()
        else:
            shift, scale = torch.zeros_like(std), torch.ones_like(std)
        z = (z - shift) / scale * present[:, None, :, None, None]
        encoder = self.encoder_weight[known] * present[:, :, None, None]  # (B, C, T, D)
        tokens = torch.einsum("btchw,bctd->bhwd", z, encoder)
        tokens = tokens + (self.encoder_bias[known] * present[..., None]).sum(1)[:, None, None, :]
        tokens = tokens + self.position(_position_features(x.shape[-2:], x))
        for block in self.blocks:
            tokens = block(tokens)
        increment = torch.einsum("bhwd,bcd->bchw", self.norm(tokens), self.decoder_weight[known])
        increment = increment + self.decoder_bias[known][..., None, None]
        z_next = z[:, -1] + increment
        out = (z_next * scale[:, 0] + shift[:, 0]) * std[:, 0] + mean[:, 0]
        return out * present[..., None, None]

    def rollout(self, context: torch.Tensor, steps: int, fields: Fields) -> torch.Tensor:
        """Predict ``steps`` frames autoregressively: ``(B, context, C, H, W)`` -> ``(B, steps, C, H, W)``."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self._check_input(context)
        ids = self.field_ids(fields, context.shape[0])
        window, predictions = context, []
        for _ in range(steps):
            frame = self(window, ids)
            predictions.append(frame)
            window = torch.cat([window[:, 1:], frame[:, None]], dim=1)
        return torch.stack(predictions, dim=1)

    def _field_id(self, name: str | int) -> int:
        if isinstance(name, int) and not isinstance(name, bool):
            if not 0 <= name < len(self.fields):
                raise ValueError(f"field id {name} outside the vocabulary 0..{len(self.fields) - 1}")
            return name
        try:
            return self.fields.index(name)
        except ValueError:
            raise ValueError(
                f"unknown field {name!r}; this model knows {self.fields}. Add new fields with "
                "zoo.models.multiphysics.with_fields(model, {name: (mean, std)}) and fine-tune"
            ) from None

    def _check_input(self, x: torch.Tensor) -> None:
        name = f"{type(self).__name__} input"
        if not isinstance(x, torch.Tensor) or x.ndim != 5 or x.is_complex() or not x.is_floating_point():
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a real tensor (batch, context, channels, H, W), got {shape}")
        if x.shape[1] != self.context:
            raise ValueError(
                f"{name} has {x.shape[1]} context frames, the model reads {self.context} (shape {tuple(x.shape)})"
            )
        # The input policy of zoo.layers.validation (dtype, empty batch or grid, NaN/Inf) on (B, T * C, H, W).
        check_model_input(x.flatten(1, 2), channels=None, ndim=2, dtype=parameter_dtype(self), name=name)


def with_fields(
    model: MultiphysicsOperator,
    statistics: Mapping[str, tuple[float, float]],
    *,
    like: Mapping[str, str] | None = None,
) -> MultiphysicsOperator:
    """A copy of ``model`` whose vocabulary also holds the fields of ``statistics`` (name -> (mean, std)).

    Existing weights are copied. A new field's encoder starts as the mean of the known fields'
    encoders (so its lift has the typical scale and direction of a physical field) and its decoder
    at zero, so before fine-tuning the model predicts that field unchanged (persistence) and every
    known field exactly as before. ``like={"new": "known"}`` starts a new field from a known
    field's encoder and decoder instead (e.g. a tracer like a passive scalar).
    """
    like = dict(like or {})
    added = [name for name in statistics if name not in model.fields]
    if not added:
        raise ValueError(f"no new fields: {sorted(statistics)} are all known ({model.fields})")
    for new, known in like.items():
        if new not in added or known not in model.fields:
            raise ValueError(f"like maps a new field to a known one; got {new!r} -> {known!r} (known: {model.fields})")
    config = dict(model.config)
    config["fields"] = model.fields + added
    config["field_mean"] = model.field_mean.tolist() + [float(statistics[name][0]) for name in added]
    config["field_std"] = model.field_std.tolist() + [float(statistics[name][1]) for name in added]
    reference = model.encoder_weight
    extended = MultiphysicsOperator(**config, device=reference.device, dtype=reference.dtype)
    state = model.state_dict()
    with torch.no_grad():
        for key, fill in (("encoder_weight", "mean"), ("encoder_bias", "mean"), ("decoder_weight", "zero"), ("decoder_bias", "zero")):
            old = state.pop(key)
            rows = []
            for name in added:
                if name in like:
                    rows.append(old[model.fields.index(like[name])])
                else:
                    rows.append(old.mean(0) if fill == "mean" else torch.zeros_like(old[0]))
            getattr(extended, key).copy_(torch.cat([old, torch.stack(rows)]))
    missing, unexpected = extended.load_state_dict(state, strict=False)
    if unexpected or set(missing) != {"encoder_weight", "encoder_bias", "decoder_weight", "decoder_bias"}:
        raise RuntimeError(f"with_fields: state mismatch (missing {missing}, unexpected {unexpected})")
    return extended.train(model.training)


def _statistic(values: Sequence[float] | None, fields: list[str], default: float, name: str, *, positive: bool = False) -> torch.Tensor:
    # Checked in Python, so a model can be built on the meta device (shapes checked before loading).
    values = [default] * len(fields) if values is None else [float(v) for v in values]
    if len(values) != len(fields):
        raise ValueError(f"{name} needs one value per field ({len(fields)}: {fields}), got {len(values)}")
    if positive and min(values, default=1.0) <= 0:
        raise ValueError(f"{name} must be positive, got {values}")
    return torch.tensor(values, dtype=torch.float32)


def _position_features(spatial: Sequence[int], like: torch.Tensor) -> torch.Tensor:
    """``(H, W, 4)``: sin and cos of ``2 pi x`` and ``2 pi y`` at ``x_i = i / H``, ``y_j = j / W``."""
    axes = [2 * math.pi * torch.arange(n, device=like.device, dtype=like.dtype) / n for n in spatial]
    x, y = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([x.sin(), x.cos(), y.sin(), y.cos()], dim=-1)
