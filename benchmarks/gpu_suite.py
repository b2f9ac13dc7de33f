"""Everything a GPU lease should measure for zoo's speed, in one command under 10 minutes.

    python benchmarks/gpu_suite.py                         # on the GPU; writes benchmarks/results/gpu_suite_<device>
    python benchmarks/gpu_suite.py --output $OUT/gpu_suite # results where the lease collects them
    .venv/bin/python benchmarks/gpu_suite.py --smoke       # CPU, tiny sizes: proves the script runs (the tests do this)

Sections, each written to the results file as soon as it is measured (a run cut short keeps what
it measured), in order of importance:

1. **spectral layer** forward+backward, B = 8, 64^2 to 256^2, C = 32 to 128, modes 16 to 64
   (half the grid's resolvable modes at most): ``unfused`` (neuraloperator's dense layer:
   ``rfftn``, gather, einsum, scatter, ``irfftn``; ``spectral_kernels.UnfusedSpectralConv``), zoo
   ``fft`` (pruned FFTs, torch mode product; what ``auto`` picks in float32), zoo ``dft`` float32
   and bf16 (the truncated DFT as real GEMMs, tensor cores in bf16), zoo ``triton`` (fused mode
   product); ms, speed-up over unfused, peak memory;
2. **training step** (forward, loss, backward, AdamW) of the FNO-2D (4 layers, width 32, 16 x 9
   modes, batch 16, 64^2 and 128^2) against the neuraloperator-style reference
   (``reference_fno.ReferenceFNO``; neuraloperator itself is not installed on a lease), float32
   and bf16 autocast, eager and ``torch.compile``; and of the Fourier-mixer transformer
   (``transformer-fno-ns2d-nu1e-3``'s architecture, batch 16, 64^2), the same four ways;
3. **rollout throughput** of the pretrained NS operators against the GPU solver on the same
   trajectories (``zoo.eval.speed``), 64^2 and 256^2.

``auto`` keeps choosing the torch path on the GPU until section 1 measures the fused kernels faster.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from reference_fno import ReferenceFNO
from results_files import announce, results_prefix, save_results  # noqa: E402  (run as a script from benchmarks/)
from spectral_kernels import UnfusedSpectralConv

import zoo
from zoo.devices import describe_device
from zoo.losses import relative_l2

TIME_BOX_S = 540  # stop starting new measurements after this many seconds (the lease's limit is 600)


class Clock:
    def __init__(self, box: float) -> None:
        self.start, self.box = time.perf_counter(), box

    def left(self) -> float:
        return self.box - (time.perf_counter() - self.start)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, warmup: int, repeats: int) -> dict:
    """Median and spread of wall ms per call, and the peak memory of one call (CUDA only)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append((time.perf_counter() - start) * 1e3)
    peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20 if device.type == "cuda" else None
    return {"ms": statistics.median(times), "min ms": min(times), "max ms": max(times), "peak MB": peak}


def layer(impl: str, channels: int, modes: tuple[int, int], device: torch.device) -> torch.nn.Module:
    if impl == "unfused":
        return UnfusedSpectralConv(channels, channels, modes, device)
    transform = "dft" if impl.startswith("dft") else "fft"
    backend = "triton" if impl == "triton" else "torch"
    return zoo.SpectralConv(channels, channels, modes, backend=backend, transform=transform, device=device)


LAYER_IMPLS = {"unfused": torch.float32, "fft": torch.float32, "dft": torch.float32, "dft-bf16": torch.bfloat16, "triton": torch.float32}


def spectral_layers(shapes, device, warmup, repeats, clock, record) -> None:
    for batch, channels, grid, modes in shapes:
        for impl, dtype in LAYER_IMPLS.items():
            key = {"section": "spectral layer", "B": batch, "C": channels, "grid": grid, "modes": list(modes), "impl": impl}
            if clock.left() < 0:
                return record({**key, "skipped": "time box"})
            if impl == "triton":
                from zoo.kernels import triton_unavailable_reason

                reason = triton_unavailable_reason(torch.empty(0, device=device))
                if reason is not None:
                    record({**key, "skipped": reason})
                    continue
            torch.manual_seed(0)
            module = layer(impl, channels, modes, device)
            if dtype != torch.float32:  # (Module.to(float32) would drop the unfused layer's imaginary parts)
                module = module.to(dtype)
            x = torch.randn(batch, channels, grid, grid, device=device, dtype=dtype, requires_grad=True)
            grad = torch.randn(batch, channels, grid, grid, device=device, dtype=dtype)

            def step():
                module.zero_grad(set_to_none=True)
                x.grad = None
                torch.autograd.backward(module(x), grad)

            record({**key, **timed(step, device, warmup, repeats)})


def training_step(model, x, y, device, bf16: bool):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            prediction = model(x)
        loss = relative_l2(prediction.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def models(name: str, device: torch.device, smoke: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    width = 8 if smoke else 32
    if name == "zoo FNO":
        return zoo.FNO(1, 1, (8, 9), width=width, n_layers=4, projection_channels=64, channel_mlp_ratio=0.5).to(device)
    if name == "reference FNO":
        return ReferenceFNO(1, 1, (8, 9), width=width, n_layers=4, device=device)
    config = zoo.from_pretrained("transformer-fno-ns2d-nu1e-3").config["backbone"]["config"]
    if smoke:
        config = {**config, "embed_dim": 16, "depth": 1, "mixer_kwargs": {"modes": [4, 4], "groups": 2}}
    return zoo.create_model("FourierTransformer", **config).to(device)


def training_steps(configs, device, warmup, repeats, clock, record, smoke: bool) -> None:
    # The smoke run traces the compiled models without generating code (inductor's C++ build
    # takes minutes on a shared CPU); tests/test_compile.py covers inductor.
    backend = "aot_eager" if smoke else "inductor"
    for name, batch, grid in configs:
        channels = 10 if name == "zoo transformer" else 1
        x = torch.randn(batch, channels, grid, grid, device=device)
        y = torch.randn(batch, 1, grid, grid, device=device)
        for bf16 in (False, True):
            for compiled in (False, True):
                key = {"section": "training step", "model": name, "B": batch, "grid": grid,
                       "precision": "bf16" if bf16 else "fp32", "compiled": compiled}
                if clock.left() < 0:
                    return record({**key, "skipped": "time box"})
                model = models(name, device, smoke)
                if compiled:
                    if name == "reference FNO":
                        continue  # complex FFTs: inductor would run them as eager kernels anyway
                    model = torch.compile(model, fullgraph=True, backend=backend)
                try:
                    record({**key, **timed(training_step(model, x, y, device, bf16), device, warmup, repeats)})
                except Exception as error:  # a failure is a result too: record it and go on
                    record({**key, "error": f"{type(error).__name__}: {error}"[:300]})


def rollouts(grids, samples, frames, device, clock, record) -> None:
    from zoo.data.recipes import navier_stokes_recipe
    from zoo.eval.speed import ns2d_operator_vs_solver

    for grid in grids:
        if clock.left() < 60:
            return record({"section": "rollout", "grid": grid, "skipped": "time box"})
        dt = {64: 0.01, 256: 0.005}.get(grid, 0.01)
        recipe = navier_stokes_recipe(viscosity=1e-3, resolution=grid, steps=frames, dt=dt, device=str(device))
        truth = recipe.solve(0, samples, 7)["vorticity"][:, 1:].to(device)
        for name in ("fno-ns2d-nu1e-3", "transformer-fno-ns2d-nu1e-3")[: 1 if frames < 50 else 2]:
            model = zoo.from_pretrained(name)
            for bf16 in (False, True):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    result = ns2d_operator_vs_solver(model, truth, history=10, viscosity=1e-3, dt=dt)
                record({"section": "rollout", "model": name, "precision": "bf16" if bf16 else "fp32", **result})


def markdown(results: dict) -> str:
    lines = [f"Device: {results['device']}. Command: `{results['command']}`.", ""]
    rows = [r for r in results["records"] if r["section"] == "spectral layer"]
    if rows:
        lines += ["Spectral layer forward+backward (ms, speed-up over unfused, peak MB):", "",
                  "| B C grid modes | " + " | ".join(LAYER_IMPLS) + " |", "| --- |" + " ---: |" * len(LAYER_IMPLS)]
        shapes = sorted({(r["B"], r["C"], r["grid"], tuple(r["modes"])) for r in rows})
        for shape in shapes:
            cells, base = [], None
            for impl in LAYER_IMPLS:
                match = [r for r in rows if (r["B"], r["C"], r["grid"], tuple(r["modes"])) == shape and r["impl"] == impl]
                if not match or "ms" not in match[0]:
                    cells.append("-")
                    continue
                r = match[0]
                base = r["ms"] if impl == "unfused" else base
                speed = f" ({base / r['ms']:.2f}x)" if base else ""
                peak = f", {r['peak MB']:.0f} MB" if r["peak MB"] is not None else ""
                cells.append(f"{r['ms']:.2f}{speed}{peak}")
            lines.append(f"| {shape[0]} {shape[1]} {shape[2]}^2 {shape[3][0]}x{shape[3][1]} | " + " | ".join(cells) + " |")
        lines.append("")
    rows = [r for r in results["records"] if r["section"] == "training step"]
    if rows:
        lines += ["Training step (forward, relative L2, backward, AdamW), ms (min-max), peak MB:", "",
                  "| model | B | grid | precision | compiled | ms | peak MB |", "| --- | ---: | ---: | --- | --- | ---: | ---: |"]
        for r in rows:
            value = f"{r['ms']:.2f} ({r['min ms']:.2f}-{r['max ms']:.2f})" if "ms" in r else r.get("error", r.get("skipped", "-"))
            peak = f"{r['peak MB']:.0f}" if r.get("peak MB") is not None else "-"
            lines.append(f"| {r['model']} | {r['B']} | {r['grid']} | {r['precision']} | {r['compiled']} | {value} | {peak} |")
        lines.append("")
    rows = [r for r in results["records"] if r["section"] == "rollout" and "model_seconds" in r]
    if rows:
        lines += ["Rollout from t = 1..10 (to t = 50 unless a smoke run) against the solver on the same trajectories:", "",
                  "| model | precision | grid | operator s | solver s | speed-up | relative L2 |", "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
        for r in rows:
            lines.append(f"| {r['model']} | {r['precision']} | {r['grid'][0]}x{r['grid'][1]} | {r['model_seconds']:.4g} | "
                         f"{r['solver_seconds']:.4g} | {r['solver_seconds'] / r['model_seconds']:.3g}x | {r['relative_l2']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--smoke", action="store_true", help="CPU-sized shapes, one repeat: proves the script runs")
    parser.add_argument("--time-box", type=float, default=TIME_BOX_S, help="seconds after which no new measurement starts")
    parser.add_argument("--output", type=Path, default=None, help="results prefix (writes .json and .md)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device here; use --device cpu or --smoke")
    if args.smoke:
        warmup, repeats = 1, 1
        shapes = [(2, 8, 16, (4, 5))]
        steps = [("zoo FNO", 2, 16), ("reference FNO", 2, 16), ("zoo transformer", 2, 16)]
        grids, samples, frames = [16], 1, 12  # t = 11, 12 only
    else:
        warmup, repeats = 3, 10
        shapes = [(8, c, g, (m, m)) for g, m in ((64, 16), (128, 32), (256, 64)) for c in (32, 64, 128)]
        steps = [("zoo FNO", 16, 64), ("reference FNO", 16, 64), ("zoo FNO", 16, 128), ("reference FNO", 16, 128),
                 ("zoo transformer", 16, 64)]
        grids, samples, frames = [64, 256], 10, 50
    prefix = results_prefix("gpu_suite", describe_device(device).split(" (")[0], args.output)
    results = {
        "device": describe_device(device), "torch": torch.__version__, "smoke": args.smoke,
        "command": " ".join(["python", "benchmarks/gpu_suite.py", *(argv if argv is not None else sys.argv[1:])]),
        "records": [],
    }

    def record(entry: dict) -> None:
        results["records"].append(entry)
        save_results(prefix, results, markdown(results))
        print(entry, flush=True)

    clock = Clock(args.time_box)
    spectral_layers(shapes, device, warmup, repeats, clock, record)
    training_steps(steps, device, warmup, repeats, clock, record, args.smoke)
    rollouts(grids, samples, frames, device, clock, record)
    return announce(prefix, markdown(results))


if __name__ == "__main__":
    sys.exit(main())
