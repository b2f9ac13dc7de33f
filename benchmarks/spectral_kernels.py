"""Speed of the spectral convolution: neuraloperator-style torch against zoo's torch and Triton paths.

On a GPU, one command (under 5 minutes on an H100/H200, autotuning included)::

    python benchmarks/spectral_kernels.py

writes ``benchmarks/results/spectral_kernels_<device>.json`` (every timing) and ``.md`` (the tables
for BENCHMARKS.md). A CPU smoke check of the script: ``--device cpu --quick``.

Three implementations of one layer (same shapes, float32):

* ``unfused``: neuraloperator's dense SpectralConv: ``rfftn``, gather the kept corners, ``einsum``
  with complex ``(in, out, *modes)`` weights, scatter into a zero spectrum, ``irfftn``.
* ``zoo-torch``: ``SpectralConv(backend="torch")``: pruned transforms, one batched GEMM per mode.
* ``zoo-triton``: ``SpectralConv(backend="triton")``: pruned transforms, and the Triton kernel reads
  the kept rows from the FFT output and writes the whole output spectrum (no gather/scatter).

Each is timed as a whole layer (forward, and forward+backward) and stage by stage (forward). Times
are medians over repeats after warm-up, with CUDA events on the GPU. The mode-product stage's
bandwidth counts the bytes it must move (kept input modes, weights, output spectrum as written)
and is given as a fraction of the device's peak memory bandwidth where that is known.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from results_files import announce, results_prefix, save_results  # noqa: E402  (run as a script from benchmarks/)
from tqdm import tqdm

from zoo.layers import SpectralConv
from zoo.layers.mode_product import mode_product, resolve_backend

# Peak DRAM bandwidth (bytes/s) by device-name fragment, most specific first (vendor data sheets).
PEAK_BANDWIDTH = [
    ("H200", 4.8e12),
    ("H100 NVL", 3.9e12),
    ("H100 PCIe", 2.0e12),
    ("H100", 3.35e12),  # SXM, reported as "NVIDIA H100 80GB HBM3"
    ("A100-SXM4-80GB", 2.039e12),
    ("A100 80GB PCIe", 1.935e12),
    ("A100", 1.555e12),
]

IMPLEMENTATIONS = ("unfused", "zoo-torch", "zoo-triton")


@dataclass(frozen=True)
class Shape:
    batch: int
    channels: int
    grid: tuple[int, ...]
    modes: int

    def label(self) -> str:
        return f"B={self.batch} C={self.channels} {'x'.join(map(str, self.grid))} m={self.modes}"


# FNO-typical shapes; 128^2 with 64 channels and 32 modes is the headline case.
GPU_SHAPES = [
    *(Shape(b, c, (128, 128), 32) for b in (8, 32) for c in (32, 64, 128)),
    Shape(8, 64, (64, 64), 12), Shape(32, 64, (64, 64), 16), Shape(32, 32, (64, 64), 32),
    Shape(8, 64, (256, 256), 32), Shape(32, 64, (256, 256), 64), Shape(8, 128, (256, 256), 64),
    Shape(8, 32, (64, 64, 64), 12), Shape(8, 32, (64, 64, 64), 16),
]
QUICK_SHAPES = [Shape(2, 8, (32, 32), 8), Shape(2, 4, (12, 12, 12), 4)]


class UnfusedSpectralConv(nn.Module):
    """neuraloperator's dense spectral convolution, as the baseline (weights ``(in, out, *kept)``)."""

    def __init__(self, channels_in: int, channels_out: int, modes: tuple[int, ...], device) -> None:
        super().__init__()
        self.modes = modes
        kept = [2 * m for m in modes[:-1]] + [modes[-1]]
        scale = (2 * channels_in) ** -0.5
        self.weight = nn.Parameter(scale * torch.randn(channels_in, channels_out, *kept, dtype=torch.cfloat, device=device))

    def corners(self):
        """Index of each corner of kept frequencies in the full spectrum and in the packed modes."""
        outer = [((slice(0, m), slice(0, m)), (slice(-m, None), slice(m, 2 * m))) for m in self.modes[:-1]]
        last = (slice(0, self.modes[-1]),)
        for picks in itertools.product(*outer):
            spectrum = tuple(p[0] for p in picks) + last
            packed = tuple(p[1] for p in picks) + last
            yield (..., *spectrum), (..., *packed)

    def fft(self, x):
        return torch.fft.rfftn(x, dim=tuple(range(2, x.ndim)), norm="forward")

    def gather(self, x_hat):
        packed = x_hat.new_empty(*x_hat.shape[:2], *self.weight.shape[2:])
        for spectrum, kept in self.corners():
            packed[kept] = x_hat[spectrum]
        return packed

    def contract(self, packed):
        return torch.einsum("bi...,io...->bo...", packed, self.weight)

    def scatter(self, y, spectrum_shape):
        out = y.new_zeros(spectrum_shape)
        for spectrum, kept in self.corners():
            out[spectrum] = y[kept]
        return out

    def ifft(self, out_hat, spatial):
        return torch.fft.irfftn(out_hat, s=spatial, dim=tuple(range(2, out_hat.ndim)), norm="forward")

    def forward(self, x):
        x_hat = self.fft(x)
        y = self.contract(self.gather(x_hat))
        out_hat = self.scatter(y, (x.shape[0], self.weight.shape[1], *x_hat.shape[2:]))
        return self.ifft(out_hat, x.shape[2:])


def time_ms(fn, device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds (CUDA events on the GPU)."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
        for start, end in events:
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize(device)
        return statistics.median(start.elapsed_time(end) for start, end in events)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def stage_functions(impl: str, layer: nn.Module, x: torch.Tensor) -> tuple[dict[str, callable], int]:
    """The forward stages of one implementation, each on precomputed inputs, and the bytes its
    mode-product stage must move (kept input modes, kept weights, output spectrum as written)."""
    spatial = tuple(x.shape[2:])
    if impl == "unfused":
        x_hat = layer.fft(x)
        packed = layer.gather(x_hat)
        y = layer.contract(packed)
        out_hat = layer.scatter(y, (x.shape[0], layer.weight.shape[1], *x_hat.shape[2:]))
        stages = {
            "fft": lambda: layer.fft(x),
            "gather": lambda: layer.gather(x_hat),
            "mode product": lambda: layer.contract(packed),
            "scatter": lambda: layer.scatter(y, out_hat.shape),
            "inverse fft": lambda: layer.ifft(out_hat, spatial),
        }
        return stages, _bytes(packed, layer.weight, y)
    if impl == "zoo-torch":
        x_hat = layer.transform(x)
        weight = layer.weight_for(spatial)
        y_hat = mode_product(x_hat, weight, backend="torch")
        stages = {
            "fft": lambda: layer.transform(x),
            "mode product": lambda: mode_product(x_hat, weight, backend="torch"),
            "inverse fft": lambda: layer.inverse_transform(y_hat, spatial),
        }
        return stages, _bytes(x_hat, weight, y_hat)
    # The Triton path's layouts, as SpectralConv.forward sets them up for backend="triton" (2D, 3D).
    kept = layer.kept_per_axis(spatial)
    x_hat = layer.transform(x, full_axes=(layer.ndim - 2,))
    out_modes = [spatial[0], *(p + n for p, n in kept[1:])]
    product = lambda: mode_product(x_hat, layer.weight, kept=kept, out_modes=out_modes, backend="triton")
    y_hat = product()
    stages = {
        "fft": lambda: layer.transform(x, full_axes=(layer.ndim - 2,)),
        "mode product": product,
        "inverse fft": lambda: layer.inverse_transform(y_hat, spatial),
    }
    kept_modes = 1
    for p, n in kept:
        kept_modes *= p + n
    kept_bytes = kept_modes * x_hat.element_size() * (x.shape[0] + layer.weight.shape[-2]) * layer.weight.shape[-3]
    return stages, kept_bytes + y_hat.numel() * y_hat.element_size()


def _bytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def build(impl: str, shape: Shape, device: torch.device) -> nn.Module:
    modes = (shape.modes,) * len(shape.grid)
    if impl == "unfused":
        return UnfusedSpectralConv(shape.channels, shape.channels, modes, device)
    backend = "torch" if impl == "zoo-torch" else "triton"
    return SpectralConv(shape.channels, shape.channels, modes, backend=backend, device=device)


def measure(impl: str, layer: nn.Module, x: torch.Tensor, device, warmup: int, repeats: int, peak) -> dict:
    record = {}
    x_grad = x.clone().requires_grad_()
    grad_out = torch.randn_like(x)
    with torch.no_grad():
        record["forward ms"] = time_ms(lambda: layer(x), device, warmup, repeats)
        stages, moved = stage_functions(impl, layer, x)
        record["stages ms"] = {name: time_ms(fn, device, warmup, repeats) for name, fn in stages.items()}

    def forward_backward():
        # autograd.grad rather than .backward: no gradient accumulation kernels in the timing
        return torch.autograd.grad(layer(x_grad), (x_grad, layer.weight), grad_outputs=grad_out)

    record["forward+backward ms"] = time_ms(forward_backward, device, warmup, repeats)
    seconds = record["stages ms"]["mode product"] * 1e-3
    record["mode product GB/s"] = moved / seconds / 1e9
    record["mode product fraction of peak bandwidth"] = moved / seconds / peak if peak else None
    return record


def relative_errors(layer: nn.Module, reference: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Largest deviation of ``layer`` from ``reference`` (same weights), relative to the largest value."""
    results = []
    for module in (layer, reference):
        x_grad = x.clone().requires_grad_()
        out = module(x_grad)
        results.append((out.detach(), *torch.autograd.grad(out.square().sum(), (x_grad, module.weight))))
    names = ("forward", "grad input", "grad weight")
    return {name: float((a - b).abs().max() / b.abs().max()) for name, a, b in zip(names, *results)}


def benchmark_shape(shape: Shape, device: torch.device, warmup: int, repeats: int, peak: float | None) -> list[dict]:
    torch.manual_seed(0)
    x = torch.randn(shape.batch, shape.channels, *shape.grid, device=device)
    records, layers = [], {}
    for impl in IMPLEMENTATIONS:
        record = {"shape": asdict(shape), "label": shape.label(), "implementation": impl}
        layer = layers[impl] = build(impl, shape, device)
        try:
            if impl == "zoo-triton":
                resolve_backend(x, "triton")
                layer.load_state_dict(layers["zoo-torch"].state_dict())
                record["relative error vs zoo-torch"] = relative_errors(layer, layers["zoo-torch"], x)
            record.update(measure(impl, layer, x, device, warmup, repeats, peak))
        except RuntimeError as error:  # one failing implementation must not lose the others' figures
            record["skipped"] = f"{type(error).__name__}: {error}"[:500]
            tqdm.write(f"{shape.label()} {impl}: {record['skipped']}")
        records.append(record)
    baseline = records[0]
    for record in records:
        if "skipped" not in record and "skipped" not in baseline:
            record["forward speed-up vs unfused"] = baseline["forward ms"] / record["forward ms"]
            record["forward+backward speed-up vs unfused"] = baseline["forward+backward ms"] / record["forward+backward ms"]
    return records


def peak_bandwidth(device: torch.device) -> tuple[str, float | None]:
    if device.type != "cuda":
        return platform.processor() or platform.machine(), None
    name = torch.cuda.get_device_name(device)
    return name, next((bw for fragment, bw in PEAK_BANDWIDTH if fragment in name), None)


def markdown(results: dict) -> str:
    lines = [
        f"Device: {results['device']} (peak bandwidth {results['peak bandwidth GB/s'] or 'unknown'} GB/s); "
        f"torch {results['torch']}, triton {results['triton']}; median of {results['repeats']} after "
        f"{results['warmup']} warm-up runs. Command: `{results['command']}`.",
        "",
        "| shape | fwd ms unfused / zoo-torch / zoo-triton | fwd+bwd ms unfused / zoo-torch / zoo-triton "
        "| fwd+bwd speed-up torch / triton | mode product ms einsum / torch / triton | triton mode product % peak BW "
        "| triton max rel. error fwd / grad x / grad W |",
        "|---|---|---|---|---|---|---|",
    ]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
    by_shape = {}
    for record in results["records"]:
        by_shape.setdefault(record["label"], {})[record["implementation"]] = record
    for label, impls in by_shape.items():
        get = lambda impl, key: impls.get(impl, {}).get(key)
        stage = lambda impl: (impls.get(impl, {}).get("stages ms") or {}).get("mode product")
        fraction = get("zoo-triton", "mode product fraction of peak bandwidth")
        errors = get("zoo-triton", "relative error vs zoo-torch")
        lines.append(
            f"| {label} | {' / '.join(fmt(get(i, 'forward ms')) for i in IMPLEMENTATIONS)} "
            f"| {' / '.join(fmt(get(i, 'forward+backward ms')) for i in IMPLEMENTATIONS)} "
            f"| {' / '.join(fmt(get(i, 'forward+backward speed-up vs unfused')) for i in IMPLEMENTATIONS[1:])} "
            f"| {' / '.join(fmt(stage(i)) for i in IMPLEMENTATIONS)} "
            f"| {'n/a' if fraction is None else f'{100 * fraction:.0f}%'} "
            f"| {'n/a' if errors is None else ' / '.join(f'{e:.1e}' for e in errors.values())} |"
        )
    lines += ["", "Forward stages (ms):", "", "| shape | implementation | stages |", "|---|---|---|"]
    for label, impls in by_shape.items():
        for impl, record in impls.items():
            stages = record.get("stages ms")
            text = ", ".join(f"{k} {v:.3f}" for k, v in stages.items()) if stages else f"skipped: {record['skipped']}"
            lines.append(f"| {label} | {impl} | {text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="two tiny shapes, few repeats: a smoke check")
    parser.add_argument("--output", type=Path, default=None, help="results prefix (writes .json and .md)")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device here; use --device cpu --quick for a smoke check")
    shapes = QUICK_SHAPES if args.quick else GPU_SHAPES
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 20)
    name, peak = peak_bandwidth(device)
    prefix = results_prefix("spectral_kernels", name, args.output)

    import triton

    results = {
        "device": name,
        "peak bandwidth GB/s": peak / 1e9 if peak else None,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "warmup": warmup,
        "repeats": repeats,
        "command": " ".join(["python", "benchmarks/spectral_kernels.py", *(argv if argv is not None else sys.argv[1:])]),
        "records": [],
    }
    for shape in tqdm(shapes, desc="spectral conv shapes"):
        results["records"] += benchmark_shape(shape, device, warmup, repeats, peak)
        save_results(prefix, results, markdown(results))
    return announce(prefix, markdown(results))


if __name__ == "__main__":
    sys.exit(main())
