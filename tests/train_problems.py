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


def cole_hopf_trajectories(n, *, size=64, frames=21, dt=0.01, viscosity=0.02, amplitude=0.6, seed=0):
    """``(n, frames, size)`` exact viscous Burgers solutions on ``[0, 1)`` by the Cole-Hopf transform.

    ``u = -2 nu phi_x / phi`` solves ``u_t + u u_x = nu u_xx`` whenever ``phi > 0`` solves the heat
    equation ``phi_t = nu phi_xx``; here ``phi = 1 + sum_k b_k exp(-nu (2 pi k)^2 t) cos(2 pi k x + theta_k)``
    with ``k = 1, 2`` and ``|b_k| <= amplitude / (2 k)``.
    """
    g = torch.Generator().manual_seed(seed)
    k = torch.arange(1, 3, dtype=torch.float64)
    b = (torch.rand(n, 2, generator=g, dtype=torch.float64) - 0.5) * amplitude / k
    theta = 2 * math.pi * torch.rand(n, 2, generator=g, dtype=torch.float64)
    x = torch.arange(size, dtype=torch.float64) / size
    t = dt * torch.arange(frames, dtype=torch.float64)
    decay = torch.exp(-viscosity * (2 * math.pi * k) ** 2 * t[:, None])  # (T, 2)
    angle = 2 * math.pi * k[None, :, None] * x + theta[:, :, None]  # (n, 2, X)
    weights = b[:, None, :, None] * decay[None, :, :, None]  # (n, T, 2, 1)
    phi = 1 + (weights * torch.cos(angle)[:, None]).sum(2)
    phi_x = -(weights * 2 * math.pi * k[None, None, :, None] * torch.sin(angle)[:, None]).sum(2)
    return (-2 * viscosity * phi_x / phi).float()


def save_neuralop_pairs(path, dataset):
    """Write ``(x, y)`` pairs of single-channel fields in neuraloperator's ``{x, y}`` ``.pt`` layout."""
    x, y = dataset.tensors
    torch.save({"x": x[:, 0], "y": y[:, 0]}, path)
    return path
