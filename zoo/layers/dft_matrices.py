"""DFT matrices of a few kept modes, built once per grid, dtype and device.

Built in float64 from angles reduced modulo ``n`` (exact), then cast. They are cached in a plain
dict: ``functools.lru_cache`` makes ``torch.compile`` warn on every call site, and a cache must not
be filled from inside a traced region (the compiler would record the dict update as a side
effect). While compiling, the matrices are therefore built in the graph from constants, which
costs a few elementwise ops on ``(modes, n)`` values per call.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

_CACHE: dict[tuple, torch.Tensor] = {}


def _cached(key: tuple, build: Callable[[], torch.Tensor]) -> torch.Tensor:
    if torch.compiler.is_compiling():
        return build()
    matrix = _CACHE.get(key)
    if matrix is None:
        if len(_CACHE) >= 256:  # grids of a long multi-resolution session: start over, never grow
            _CACHE.clear()
        matrix = _CACHE[key] = build()
    return matrix


def dft_matrix(n: int, n_pos: int, n_neg: int, norm: str, *, inverse: bool, dtype, device) -> torch.Tensor:
    """Complex DFT matrix between ``n`` points and frequencies ``0..n_pos-1, -n_neg..-1``.

    Forward ``(modes, n)``: ``exp(-2 pi i f j / n)``; inverse ``(n, modes)``: ``exp(2 pi i f j / n)``;
    divided by ``n`` on the side ``norm`` names.
    """

    def build() -> torch.Tensor:
        j = torch.arange(n, dtype=torch.float64)
        f = torch.cat([torch.arange(n_pos), torch.arange(n - n_neg, n)]).to(torch.float64)
        angle = (2 * math.pi / n) * torch.remainder(f[:, None] * j[None, :], n)
        scaled = (norm == "forward") != inverse
        matrix = torch.polar(torch.full_like(angle, 1.0 / n if scaled else 1.0), -angle if not inverse else angle)
        return (matrix.T if inverse else matrix).to(dtype=dtype, device=device).contiguous()

    return _cached(("complex", n, n_pos, n_neg, norm, inverse, dtype, device), build)


def stacked_dft_matrix(n: int, n_pos: int, n_neg: int, norm: str, *, inverse: bool, dtype, device) -> torch.Tensor:
    """:func:`dft_matrix` ``A`` as the real ``[Re A; Im A]``: ``(2 modes, n)`` forward, ``(2 n, modes)`` inverse.

    For dtypes with no complex counterpart (bf16, fp16): one real GEMM applies both parts.
    """

    def build() -> torch.Tensor:
        # Real arithmetic only: a compiled model builds this in its graph, which must hold no
        # complex tensors.
        j = torch.arange(n, dtype=torch.float64)
        f = torch.cat([torch.arange(n_pos), torch.arange(n - n_neg, n)]).to(torch.float64)
        angle = (2 * math.pi / n) * torch.remainder(f[:, None] * j[None, :], n)
        scale = 1.0 / n if (norm == "forward") != inverse else 1.0
        cos, sin = scale * torch.cos(angle), scale * torch.sin(angle)
        if inverse:
            cos, sin = cos.T, sin.T
        return torch.cat([cos, sin if inverse else -sin]).to(dtype=dtype, device=device).contiguous()

    return _cached(("stacked", n, n_pos, n_neg, norm, inverse, dtype, device), build)


def real_dft_matrix(n: int, columns: int, norm: str, pair_weighted: bool, *, inverse: bool, dtype, device) -> torch.Tensor:
    """Real DFT matrix of the first ``columns`` frequencies of ``n`` points, ``(re, im)`` interleaved.

    Forward ``(n, 2 columns)``: ``x @ D`` gives ``w_k (Re, Im)`` of ``sum_j x_j e^{-2 pi i k j / n}``.
    Inverse ``(2 columns, n)``: ``[Re Y, Im Y] @ D`` gives ``Re sum_k w_k Y_k e^{2 pi i k j / n}``,
    ``irfft`` when ``w = c``, with the imaginary parts of the zero and Nyquist columns ignored
    (their sine rows are exactly zero). ``w_k = c_k`` (:func:`pair_counts`) if ``pair_weighted``
    else 1.
    """

    def build() -> torch.Tensor:
        j = torch.arange(n, dtype=torch.float64)
        k = torch.arange(columns, dtype=torch.float64)
        angle = (2 * math.pi / n) * torch.remainder(k[:, None] * j[None, :], n)
        cos, sin = torch.cos(angle), torch.sin(angle)
        sin[0] = 0.0
        if n % 2 == 0 and columns > n // 2:
            sin[n // 2] = 0.0
        scaled = (norm == "forward") != inverse
        w = (pair_counts(n, columns) if pair_weighted else torch.ones(columns, dtype=torch.float64))[:, None]
        w = w / n if scaled else w
        matrix = torch.stack([w * cos, -w * sin], dim=1).reshape(2 * columns, n)
        return (matrix if inverse else matrix.T).to(dtype=dtype, device=device).contiguous()

    return _cached(("real", n, columns, norm, pair_weighted, inverse, dtype, device), build)


def pair_counts(n: int, columns: int) -> torch.Tensor:
    """``c_k`` of the first ``columns`` rfft columns of ``n`` points: 1 for zero and Nyquist, else 2."""
    c = torch.full((columns,), 2.0, dtype=torch.float64)
    c[0] = 1.0
    if n % 2 == 0 and columns > n // 2:
        c[n // 2] = 1.0
    return c
