"""Fourier token mixers against timm's softmax attention on CPU: forward time and peak memory.

    .venv/bin/python benchmarks/mixers_cpu.py [--trials 3] [--tokens 256 1024 4096 16384]

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
    parser.add_argument("--worker", nargs=3, metavar=("NAME", "TOKENS", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
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

if __name__ == "__main__":
    main()
