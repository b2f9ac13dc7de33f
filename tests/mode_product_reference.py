"""The mode product and its gradients written from their definitions, for the kernel tests.

A layout axis of length ``n`` with kept frequencies ``(n_pos, n_neg)`` holds kept modes at
positions ``0..n_pos-1`` and ``n-n_neg..n-1``; they are picked by explicit index lists here.
"""

import numpy as np
import torch


def kept_positions(length, n_pos, n_neg):
    return list(range(n_pos)) + list(range(length - n_neg, length))


def mode_index(lengths, kept):
    """Open-mesh index of the kept modes in a layout of ``lengths`` (one index list per axis)."""
    return np.ix_(*[kept_positions(n, p, q) for n, (p, q) in zip(lengths, kept)])


def reference_mode_product(x, w, g, kept, out_modes):
    """y[b, o, k] = sum_i x[b, i, k] W[k, i, o] (zero off the kept modes), grad_x = sum_o g conj(W)
    and grad_W = sum_b conj(x) g (as (re, im)), all in complex128 / float64."""
    x, g = x.detach().to(torch.complex128), g.to(torch.complex128)
    w = torch.view_as_complex(w.detach().to(torch.float64).contiguous())
    nd = len(kept)
    at = lambda lengths: (slice(None), slice(None), *mode_index(lengths, kept))
    x_k = x[at(x.shape[2:])]
    w_k = w[mode_index(w.shape[:nd], kept)]
    g_k = g[at(out_modes)]
    y = torch.zeros(x.shape[0], w.shape[-1], *out_modes, dtype=torch.complex128)
    y[at(out_modes)] = torch.einsum("bi...,...io->bo...", x_k, w_k)
    grad_x = torch.zeros_like(x)
    grad_x[at(x.shape[2:])] = torch.einsum("bo...,...io->bi...", g_k, w_k.conj())
    grad_w = torch.zeros_like(w)
    grad_w[mode_index(w.shape[:nd], kept)] = torch.einsum("bi...,bo...->...io", x_k.conj(), g_k)
    return y, grad_x, torch.view_as_real(grad_w)
