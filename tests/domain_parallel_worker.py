"""Run under torchrun with 2 processes: slab-parallel spectral layers, results saved per rank.

Every rank draws the same full fields from one seed and keeps its slab of rows; the test compares
the gathered slabs with the single-process layer (see tests/test_distributed.py).
"""

import sys

import torch
import torch.distributed as dist

from zoo.layers import SpectralConv
from zoo.models import FNO
from zoo.layers.domain_parallel import SlabSpectralConv2d, shard_spectral_layers, sum_gradients

dist.init_process_group("gloo")
rank, ranks = dist.get_rank(), dist.get_world_size()
results = {}
for name, modes, width in (("even", (5, 4), 12), ("padded", (3, 5), 12)):
    torch.manual_seed(0)
    conv = SpectralConv(3, 2, modes).double()
    x = torch.randn(2, 3, 16, width, dtype=torch.float64)
    output_grad = torch.randn(2, 2, 16, width, dtype=torch.float64)
    rows = slice(rank * 16 // ranks, (rank + 1) * 16 // ranks)
    x_slab = x[:, :, rows].clone().requires_grad_()
    y_slab = SlabSpectralConv2d(conv)(x_slab)
    (y_slab * output_grad[:, :, rows]).sum().backward()
    sum_gradients(conv)
    results[name] = {"output": y_slab.detach(), "input_grad": x_slab.grad, "weight_grad": conv.weight.grad}

torch.manual_seed(1)
model = FNO(2, 1, modes=[4, 3], width=6, n_layers=2, projection_channels=8, grid_features=False).double()
x = torch.randn(2, 2, 16, 10, dtype=torch.float64)
with torch.no_grad():
    results["fno"] = {"output": shard_spectral_layers(model)(x[:, :, rank * 8 : (rank + 1) * 8])}
torch.save(results, f"{sys.argv[1]}/rank{rank}.pt")
dist.destroy_process_group()
