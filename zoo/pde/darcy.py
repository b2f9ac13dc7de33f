"""2D Darcy flow ``-div(a grad u) = f`` on the unit square with ``u = 0`` on the boundary.

Fields live on the ``n x n`` nodes ``x_i = i / (n - 1)``, boundary included (the FNO convention).
Five-point finite differences with the coefficient averaged onto cell faces (arithmetic mean of
the two nodes, as the FNO paper's ``solve_gwf``): second order for smooth ``a``, and conservative,
so it stays meaningful for the piecewise-constant coefficients of the benchmark. Each sample is
one sparse direct solve (SuperLU via scipy) with the minimum-degree ordering of ``A + A^T``: the
matrix is symmetric, and that ordering fills the LU factors less than SuperLU's default (COLAMD,
made for unsymmetric matrices): 1.3x less CPU time at 421 nodes, 1.06x at 211 (BENCHMARKS.md).

The scheme is exactly equivariant under the eight symmetries of the square (reflections and the
transpose act on nodes, faces and the stencil alike), as the continuous problem is for a constant
``f``: ``darcy_2d`` of a reflected coefficient is the reflected solution, to round-off.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

from zoo.pde.random_fields import cosine_random_field


def _as_batch(value, batch: int, n: int, name: str) -> np.ndarray:
    array = value.detach().cpu().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full((batch, n, n), float(array))
    if array.shape == (n, n):
        return np.broadcast_to(array, (batch, n, n))
    if array.shape == (batch, n, n):
        return array
    raise ValueError(f"{name} must be a scalar, (n, n) or (B, n, n) = ({batch}, {n}, {n}); got shape {array.shape}")


def darcy_2d(coefficient: torch.Tensor | np.ndarray, forcing: float | torch.Tensor | np.ndarray = 1.0) -> torch.Tensor:
    """Pressure ``u`` ``(B, n, n)`` (zero on the boundary) for ``a = coefficient`` ``(B, n, n)`` and ``f = forcing``.

    ``forcing`` is a scalar, ``(n, n)`` or ``(B, n, n)``. Returns float64 (float32 input: float32).
    """
    a = _as_batch(coefficient, *np.shape(coefficient)[:2], "coefficient") if np.ndim(coefficient) == 3 else None
    if a is None or a.shape[1] != a.shape[2] or a.shape[1] < 3:
        raise ValueError(f"coefficient must have shape (B, n, n) with n >= 3, got {tuple(np.shape(coefficient))}")
    if not np.isfinite(a).all() or (a <= 0).any():
        raise ValueError("coefficient must be finite and positive everywhere (the operator is elliptic only then)")
    batch, n = a.shape[0], a.shape[1]
    f = _as_batch(forcing, batch, n, "forcing")
    m, h2 = n - 2, 1.0 / (n - 1) ** 2
    index = np.arange(m * m).reshape(m, m)  # unknown number of interior node (i, j), i along x
    solutions = np.zeros((batch, n, n))
    for b in range(batch):
        # Face coefficients between node (i, j) and its neighbour along x and along y.
        ax = 0.5 * (a[b, 1:, :] + a[b, :-1, :])  # (n-1, n): face between i and i+1
        ay = 0.5 * (a[b, :, 1:] + a[b, :, :-1])  # (n, n-1): face between j and j+1
        east, west = ax[1:, 1:-1], ax[:-1, 1:-1]  # (m, m) faces of interior nodes
        north, south = ay[1:-1, 1:], ay[1:-1, :-1]
        rows, cols, vals = [index.ravel()], [index.ravel()], [(east + west + north + south).ravel()]
        neighbours = (  # (this node, neighbour, coefficient of the face between them)
            (index[:-1, :], index[1:, :], east[:-1, :]),
            (index[1:, :], index[:-1, :], west[1:, :]),
            (index[:, :-1], index[:, 1:], north[:, :-1]),
            (index[:, 1:], index[:, :-1], south[:, 1:]),
        )
        for node, neighbour, face in neighbours:
            rows.append(node.ravel())
            cols.append(neighbour.ravel())
            vals.append(-face.ravel())
        matrix = scipy.sparse.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m * m, m * m)
        )
        rhs = h2 * f[b, 1:-1, 1:-1].ravel()
        solutions[b, 1:-1, 1:-1] = scipy.sparse.linalg.spsolve(matrix, rhs, permc_spec="MMD_AT_PLUS_A").reshape(m, m)
    dtype = coefficient.dtype if isinstance(coefficient, torch.Tensor) and coefficient.is_floating_point() else torch.float64
    return torch.from_numpy(solutions).to(dtype)


def threshold_coefficient(
    batch: int,
    resolution: int,
    *,
    high: float = 12.0,
    low: float = 3.0,
    alpha: float = 2.0,
    tau: float = 3.0,
    generator: torch.Generator | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """The FNO paper's Darcy coefficient: ``high`` where a Neumann GRF ``N(0, (-lap + 9 I)^-2)`` is >= 0, else ``low``.

    Returns ``(batch, resolution, resolution)`` float64.
    """
    field = cosine_random_field(batch, resolution, alpha=alpha, tau=tau, generator=generator, seed=seed)
    return torch.from_numpy(np.where(field >= 0, high, low))
