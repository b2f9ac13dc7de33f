"""Fourier token mixers against timm's softmax attention on CPU: forward time and peak memory.

    .venv/bin/python benchmarks/mixers_cpu.py [--trials 3] [--tokens 256 1024 4096 16384]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mixers_cpu.py --only-image-sizes --image-sizes 448 1024

Every measurement runs in its own subprocess with ``torch.set_num_threads(2)``: build the module
and input, run one forward on a tiny input (so that library start-up allocations are not counted),
then reset the kernel's peak-RSS counter (``/proc/self/clear_refs``), run one forward and read
``VmHWM - VmRSS``: the extra resident memory the forward needed. That counts every allocation,
torch's allocator, oneDNN/MKL scratch buffers and FFT plans alike, which ``tracemalloc`` (Python
objects only) and torch.profiler's memory events (torch's allocator only) do not. Then the forward
is timed (``torch.no_grad``) over several repeats: wall-clock median and best, and process CPU
time (both threads). The sweep is repeated ``--trials`` times, interleaved, and each figure is the
median over trials.

On a shared machine the wall-clock figures measure the scheduler as much as the code: with two
OpenMP threads on two busy cores every parallel region waits for a descheduled thread, which
costs milliseconds per operation. So workers run with ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads
sleep instead of spinning) and the CPU-time ratios, which such waits do not inflate, are printed
next to the wall-clock ones.

Width 64, batch 1, square token grids; attention is ``timm.layers.Attention(64, num_heads=1)``
(head dim 64, as in ViT) on its default fused ``scaled_dot_product_attention`` path. Then a whole
ViT-Tiny (``vit_tiny_patch16_224`` at 2048x2048: a 128x128 grid, 16384 patch tokens + 1 class
token) against the same model after ``zoo.replace_attention``.

``--image-sizes 448 1024`` adds the table a timm user asks for: ``vit_tiny_patch16_224`` built at
224px with ``dynamic_img_size=True``, and the same model after ``zoo.replace_attention`` with each
mixer's defaults (taken from the attention it replaces), run at each image size (784 and 4096
patch tokens). Every trial is one process that builds all five models and measures them
interleaved, so each ratio compares the attention model and a swapped one measured in the same
process seconds apart: forward (``torch.no_grad``, batch 1) wall and CPU time, the peak extra
memory of the forward (as above), and the parameter count.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

WIDTH = 64
MIXERS = {
    "attention": {},
    "fno": {"modes": 16},
    "afno": {"num_blocks": 8},
    "global_filter": {},
    "fnet": {},
}
VIT_SWAPS = {"vit_fno": ("fno", {"modes": 4, "groups": 6}), "vit_afno": ("afno", {"num_blocks": 8})}


VIT_MIXERS = ("attention", "fno", "afno", "global_filter", "fnet")


def _status_kib(key: str) -> int:
    return int(re.search(rf"{key}:\s+(\d+) kB", open("/proc/self/status").read()).group(1))


def _build(name: str, tokens: int):
    """Module and input for one measurement, plus a tiny input to warm the libraries up."""
    import timm
    import torch

    import zoo

    side = int(round(tokens**0.5))
    if name.startswith("vit"):
        model = timm.create_model(
            "vit_tiny_patch16_224", pretrained=False, img_size=16 * side, dynamic_img_size=True
        )
        if name in VIT_SWAPS:
            mixer, kwargs = VIT_SWAPS[name]
            zoo.replace_attention(model, mixer, **kwargs)
        return model.eval(), torch.randn(1, 3, 16 * side, 16 * side), torch.randn(1, 3, 64, 64)
    if name == "attention":
        module = timm.layers.Attention(WIDTH, num_heads=1)
    else:
        module = zoo.layers.make_mixer(name, WIDTH, grid_size=(side, side), **MIXERS[name])
    return module.eval(), torch.randn(1, side * side, WIDTH), torch.randn(1, 16, WIDTH)


def measure(name: str, tokens: int, repeats: int) -> dict[str, float]:
    """One subprocess's measurement: peak extra memory of a forward (MiB) and its times (s)."""
    import gc

    import torch

    torch.set_num_threads(2)
    module, x, tiny = _build(name, tokens)
    with torch.no_grad():
        if name != "attention" and not name.startswith("vit"):
            module(tiny, grid_size=(4, 4))
        else:
            module(tiny)
        gc.collect()
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # reset the peak-RSS counter to the current RSS
        before = _status_kib("VmRSS")
        module(x)
        peak_mib = (_status_kib("VmHWM") - before) / 1024
        wall, cpu = [], []
        for _ in range(repeats):
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            module(x)
            wall.append(time.perf_counter() - start_wall)
            cpu.append(time.process_time() - start_cpu)
    return {
        "wall": statistics.median(wall),
        "wall_best": min(wall),
        "cpu": statistics.median(cpu),
        "peak_mib": peak_mib,
    }


def _forward_cost(model, x, repeats: int) -> dict[str, float]:
    """Peak extra memory (MiB) of one forward of ``model`` on ``x``, then its median times (s)."""
    import gc

    import torch

    with torch.no_grad():
        gc.collect()
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        before = _status_kib("VmRSS")
        model(x)
        peak_mib = (_status_kib("VmHWM") - before) / 1024
        wall, cpu = [], []
        for _ in range(repeats):
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            model(x)
            wall.append(time.perf_counter() - start_wall)
            cpu.append(time.process_time() - start_cpu)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu), "peak_mib": peak_mib}


def measure_vit_sizes(size: int, repeats: int, threads: int) -> dict[str, dict[str, float]]:
    """One process: the attention ViT-Tiny and its four swaps at ``size`` px, measured interleaved."""
    import warnings

    import timm
    import torch

    import zoo

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    models = {}
    for name in VIT_MIXERS:
        model = timm.create_model("vit_tiny_patch16_224", pretrained=False, dynamic_img_size=True)
        if name != "attention":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                zoo.replace_attention(model, name)
        models[name] = model.eval()
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        for model in models.values():
            model(torch.randn(1, 3, 64, 64))  # library start-up allocations, FFT plans
    results = {name: {"wall": [], "cpu": [], "peak_mib": []} for name in VIT_MIXERS}
    for _ in range(repeats):  # interleaved: each round measures every model once
        for name, model in models.items():
            for metric, value in _forward_cost(model, x, 1).items():
                results[name][metric].append(value)
    summary = {}
    for name, values in results.items():
        summary[name] = {metric: statistics.median(v) for metric, v in values.items()}
        summary[name]["params"] = sum(p.numel() for p in models[name].parameters())
    return summary


def print_vit_sizes(sizes: list[int], trials: int, repeats: int, threads: int) -> None:
    runs: dict[int, list[dict[str, dict[str, float]]]] = {size: [] for size in sizes}
    for trial in range(trials):
        for size in sizes:
            command = [sys.executable, __file__, "--vit-size-worker", str(size), str(repeats), str(threads)]
            env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
            output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
            runs[size].append(json.loads(output.strip().splitlines()[-1]))
            print(f"trial {trial + 1}/{trials}: ViT-Tiny at {size}px done", file=sys.stderr, flush=True)
    print(f"\nvit_tiny_patch16_224 (built at 224px, dynamic_img_size) and its swaps with default "
          f"arguments; forward, batch 1, {threads} thread(s); per trial the median of {repeats} "
          f"interleaved forwards, then the median over {trials} trials (one process each) of the "
          "ratio to attention measured in the same process")
    print(f"{'image':>6} {'model':>14} {'params':>10} | {'wall ms':>9} {'vs attn':>8} | {'CPU ms':>9} "
          f"{'vs attn':>8} | {'peak MiB':>9} {'vs attn':>8}")
    for size in sizes:
        for name in VIT_MIXERS:
            cells = []
            for metric, scale in (("wall", 1e3), ("cpu", 1e3), ("peak_mib", 1.0)):
                value = statistics.median(run[name][metric] for run in runs[size])
                if all(run["attention"][metric] > 0 for run in runs[size]):
                    ratio = statistics.median(run[name][metric] / run["attention"][metric] for run in runs[size])
                    cells.append(f"{scale * value:>9.1f} {ratio:>7.2f}x")
                else:  # a forward too small to raise the resident-memory peak
                    cells.append(f"{scale * value:>9.1f} {'-':>8}")
            params = runs[size][0][name]["params"]
            print(f"{size:>5}px {name:>14} {params / 1e6:>9.2f}M | " + " | ".join(cells))


def run_in_subprocess(name: str, tokens: int, repeats: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--worker", name, str(tokens), str(repeats)]
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--tokens", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    parser.add_argument("--vit-tokens", type=int, default=16384)
    parser.add_argument("--skip-vit", action="store_true")
    parser.add_argument("--image-sizes", type=int, nargs="*", default=[],
                        help="also time ViT-Tiny and its swaps at these image sizes (e.g. 448 1024)")
    parser.add_argument("--image-repeats", type=int, default=3)
    parser.add_argument("--image-threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 2)))
    parser.add_argument("--only-image-sizes", action="store_true", help="skip the mixer and 2048px tables")
    parser.add_argument("--worker", nargs=3, metavar=("NAME", "TOKENS", "REPEATS"), help=argparse.SUPPRESS)
    parser.add_argument("--vit-size-worker", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.vit_size_worker:
        print(json.dumps(measure_vit_sizes(*args.vit_size_worker)))
        return
    if args.only_image_sizes:
        print_vit_sizes(args.image_sizes, args.trials, args.image_repeats, args.image_threads)
        return
    if args.worker:
        name, tokens, repeats = args.worker
        print(json.dumps(measure(name, int(tokens), int(repeats))))
        return

    configs = [(name, n, 3 if n >= 16384 else 15) for n in args.tokens for name in MIXERS]
    if not args.skip_vit:
        configs += [(name, args.vit_tokens, 1) for name in ("vit", *VIT_SWAPS)]
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for trial in range(args.trials):
        for name, n, repeats in configs:
            results.setdefault((name, n), []).append(run_in_subprocess(name, n, repeats))
            print(f"trial {trial + 1}/{args.trials}: {name} at {n} tokens done", file=sys.stderr, flush=True)
    metrics = ("wall", "wall_best", "cpu", "peak_mib")
    median = {
        key: {metric: statistics.median(r[metric] for r in runs) for metric in metrics}
        for key, runs in results.items()
    }

    print(f"\nForward, batch 1, width {WIDTH}, 2 threads; median of {args.trials} trials; "
          "speed-up = attention's time / module's time")
    print(f"{'tokens':>7} {'module':>14} | {'wall ms':>9} {'speed-up':>8} | {'best ms':>9} {'speed-up':>8} "
          f"| {'CPU ms':>9} {'speed-up':>8} | {'peak MiB':>8}")
    for n in args.tokens:
        base = median[("attention", n)]
        for name in MIXERS:
            m = median[(name, n)]
            cells = " | ".join(
                f"{1e3 * m[metric]:>9.2f} {base[metric] / m[metric]:>7.1f}x"
                for metric in ("wall", "wall_best", "cpu")
            )
            print(f"{n:>7} {name:>14} | {cells} | {m['peak_mib']:>8.1f}")
    print("\nPeak extra memory of a forward, MiB, by token count (linear growth: "
          f"{args.tokens[-1] / args.tokens[0]:.0f}x from first to last):")
    for name in MIXERS:
        print(f"  {name:>14}: " + "  ".join(f"{median[(name, n)]['peak_mib']:.1f}" for n in args.tokens))
    if not args.skip_vit:
        base = median[("vit", args.vit_tokens)]
        print(f"\nWhole ViT-Tiny, {args.vit_tokens} patch tokens, forward, batch 1, "
              "one timed forward per trial")
        for name in ("vit", *VIT_SWAPS):
            m = median[(name, args.vit_tokens)]
            print(
                f"  {name:>9}: wall {m['wall']:.2f} s ({base['wall'] / m['wall']:.1f}x), "
                f"CPU {m['cpu']:.2f} s ({base['cpu'] / m['cpu']:.1f}x), peak {m['peak_mib']:.0f} MiB"
            )
    if args.image_sizes:
        print_vit_sizes(args.image_sizes, args.trials, args.image_repeats, args.image_threads)

if __name__ == "__main__":
    main()
