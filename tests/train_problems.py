"""Tiny problems with exact solutions for the training tests: the periodic heat equation.

``u_t = nu u_xx`` on ``[0, 1)`` damps Fourier mode ``k`` by ``exp(-nu (2 pi k)^2 t)``, so a random
band-limited initial field and its exact evolution give labelled data in microseconds, and the
solution operator is exactly representable by one spectral convolution.
"""

import contextlib
import math

import torch
from torch.utils.data import TensorDataset

DIFFUSIVITY = 0.01


def heat_fields(n, size, times, *, seed, modes=5):
    """``(n, len(times), size)``: exact heat-equation fields from random initial data at ``times``."""
    g = torch.Generator().manual_seed(seed)
    k = torch.arange(1, modes + 1, dtype=torch.float64)
    a = torch.randn(n, modes, generator=g, dtype=torch.float64) / k
    b = torch.randn(n, modes, generator=g, dtype=torch.float64) / k
    x = torch.arange(size, dtype=torch.float64) / size
    phase = 2 * math.pi * k[:, None] * x[None, :]  # (modes, size)
    times = torch.as_tensor(times, dtype=torch.float64)
    decay = torch.exp(-DIFFUSIVITY * (2 * math.pi * k) ** 2 * times[:, None])  # (T, modes)
    fields = torch.einsum("tm,nm,mx->ntx", decay, a, torch.cos(phase)) + torch.einsum(
        "tm,nm,mx->ntx", decay, b, torch.sin(phase)
    )
    return fields.float()


def heat_pairs(n, size=32, *, t=1.0, seed=0):
    """``(u(0), u(t))`` pairs ``(n, 1, size)`` each, as a dataset."""
    fields = heat_fields(n, size, [0.0, t], seed=seed)
    return TensorDataset(fields[:, :1], fields[:, 1:])


@contextlib.contextmanager
def one_thread():
    """Tiny models run fastest on one thread, and the test machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
