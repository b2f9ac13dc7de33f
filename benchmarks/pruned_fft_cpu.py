"""Pruned transforms on CPU: DFT-matrix GEMMs against FFTs, to place the switch between them.

    .venv/bin/python benchmarks/pruned_fft_cpu.py [--repeats 9]

For square grids ``n x n`` and ``m`` kept frequencies per axis (``2 m`` rows on the first axis,
``m`` rfft columns on the last), times the forward transform, the inverse and both gradients
(``pruned_rfftn`` then ``pruned_irfftn``, forward+backward) with every axis transformed by GEMM
and with every axis by FFT, alternating the two in each repeat (medians; 2 threads,
``OMP_WAIT_POLICY=PASSIVE`` as in ``fno_cpu.py``). ``zoo.layers.pruned_fft`` uses a GEMM on an
axis of ``n`` points keeping ``k`` modes when ``k <= 8 log2(n)``; the last column says what that
rule picks for each axis.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

SHAPES = [  # (batch x channels, n, m)
    (512, 32, 4), (512, 32, 8), (512, 32, 16),
    (512, 64, 8), (512, 64, 12), (512, 64, 16), (512, 64, 24), (512, 64, 32),
    (128, 128, 8), (128, 128, 16), (128, 128, 24), (128, 128, 32),
    (32, 256, 8), (32, 256, 16), (32, 256, 32), (32, 256, 64),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from zoo.layers import pruned_fft
    from zoo.layers.spectral_conv import kept_frequencies

    torch.set_num_threads(args.threads)
    default_bound = pruned_fft._GEMM_MODES_PER_LOG2
    print(f"torch {torch.__version__}, {args.threads} threads, {args.repeats} interleaved repeats, float32\n")
    print("| fields x grid | modes (rows x cols) | GEMM ms | FFT ms | FFT / GEMM | rule picks (rows, cols) |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for fields, n, m in SHAPES:
        kept = [kept_frequencies(n, m, last_axis=False), kept_frequencies(n, m, last_axis=True)]
        x = torch.randn(fields, n, n, requires_grad=True)
        grad = torch.randn(fields, n, n)

        def step():
            x.grad = None
            y = pruned_fft.pruned_irfftn(pruned_fft.pruned_rfftn(x, (1, 2), kept), (1, 2), kept, (n, n))
            torch.autograd.backward(y, grad)

        times = {"gemm": [], "fft": []}
        for method, bound in (("gemm", math.inf), ("fft", 0)):  # warm-up, matrix caches
            pruned_fft._GEMM_MODES_PER_LOG2 = bound
            step()
        for repeat in range(args.repeats):
            for method, bound in (("gemm", math.inf), ("fft", 0))[:: 1 if repeat % 2 == 0 else -1]:
                pruned_fft._GEMM_MODES_PER_LOG2 = bound
                start = time.perf_counter()
                step()
                times[method].append((time.perf_counter() - start) * 1e3)
        pruned_fft._GEMM_MODES_PER_LOG2 = default_bound
        gemm, fft = statistics.median(times["gemm"]), statistics.median(times["fft"])
        probe = torch.empty(0)
        picks = ["GEMM" if pruned_fft._by_gemm(probe, n, k) else "FFT" for k in (sum(kept[0]), kept[1][0])]
        print(
            f"| {fields} x {n}x{n} | {sum(kept[0])} x {kept[1][0]} | {gemm:.2f} | {fft:.2f} "
            f"| {fft / gemm:.2f} | {', '.join(picks)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
