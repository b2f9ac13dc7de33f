"""zoo's FNO-2D and SpectralConv against neuraloperator 2.0 on CPU: forward+backward time ratios.

    ZOO_BENCH_DEPS=/work/bench-deps .venv/bin/python benchmarks/fno_cpu.py [--repeats 15]
    .venv/bin/python benchmarks/fno_cpu.py --baseline reference    # without neuraloperator

``--baseline reference`` times ``reference_fno.ReferenceFNO`` (a model of neuraloperator's FNO
built on the dense spectral layer of ``spectral_kernels.py``) instead; its figures are labelled
so and are not figures against neuraloperator.

neuraloperator is not a dependency of zoo: install it into a folder of its own (see
benchmarks/README.md) and point ``--deps`` or ``ZOO_BENCH_DEPS`` at it; this script adds that
folder to ``sys.path`` and nothing else.

The models (batch 16, 64x64, one channel in and out, float32, ``torch.set_num_threads(2)``):

* neuraloperator ``FNO(n_modes=(16, 16), hidden_channels=32, n_layers=4, in_channels=1,
  out_channels=1)`` with its defaults: grid embedding, lifting 3 -> 64 -> 32, four blocks of
  spectral conv + linear skip, GELU, channel MLP 32 -> 16 -> 32 with a soft-gating skip, GELU,
  and projection 32 -> 64 -> 1. Its ``n_modes=(16, 16)`` keeps frequencies -8..7 on the first
  axis and 0..8 on the last (``16 // 2 + 1`` rfft columns).
* zoo ``FNO(1, 1, modes=(8, 9), width=32, n_layers=4, projection_channels=64,
  channel_mlp_ratio=0.5)``: ``modes=(8, 9)`` keeps 0..7 and -8..-1 on the first axis and 0..8 on
  the last, the same 16 x 9 modes (checked below by probing both layers with single Fourier
  modes); grid features, a channel MLP 32 -> 16 -> 32 per block and a 32 -> 64 -> 1 projection as
  neuraloperator's. zoo lifts with one linear 3 -> 32 where neuraloperator uses a two-layer MLP,
  and has no soft gating; parameter counts (complex weights counted as two reals) are printed
  and differ by well under 10%.

Each measurement alternates the two libraries within every repeat (in alternating order) and
reports the median over repeats of the wall-clock time per step, and of the process CPU time
(both threads). On a machine shared with other jobs, OpenMP threads that spin while waiting for a
descheduled partner burn the time being measured, so by default the script runs with
``OMP_WAIT_POLICY=PASSIVE`` (set before torch loads OpenMP; ``--omp-wait-policy active`` for the
spinning default on an idle machine).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

BATCH, GRID, WIDTH, LAYERS = 16, 64, 32, 4
NEURALOP_MODES = (16, 16)
ZOO_MODES = (8, 9)  # 2 * 8 rows (0..7, -8..-1) x 9 rfft columns, as neuraloperator's n_modes=(16, 16)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--deps", default=os.environ.get("ZOO_BENCH_DEPS"), help="folder with neuraloperator 2.0 (pip --target)"
    )
    parser.add_argument("--baseline", choices=("neuralop", "reference"), default="neuralop")
    parser.add_argument(
        "--configs", nargs="+", default=["16x64", "16x128", "1x64"],
        help="BATCHxGRID of the FNO measurements (training step and inference each)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats per measurement")
    parser.add_argument("--steps", type=int, default=2, help="steps timed together in each repeat")
    parser.add_argument("--omp-wait-policy", choices=("passive", "active"), default="passive")
    parser.add_argument("--skip-layer", action="store_true", help="only the whole FNO, not SpectralConv alone")
    parser.add_argument("--profile", action="store_true", help="also print torch.profiler's top ops of zoo's FNO step")
    parser.add_argument(
        "--compile", action="store_true",
        help="also time torch.compile(zoo FNO, fullgraph=True) against the eager baseline (compiling takes minutes on CPU)",
    )
    return parser.parse_args()


def import_neuralop(deps: str | None):
    """neuraloperator from its own folder, or exit with the command that installs it."""
    if deps and os.path.isdir(deps):
        sys.path.append(deps)
    try:
        import neuralop
    except ImportError as error:
        sys.exit(
            f"neuraloperator is not importable ({error}); it is not a zoo dependency. Install it into a "
            "folder of its own and pass that folder with --deps or ZOO_BENCH_DEPS, e.g.\n"
            "  .venv/bin/pip install --target /work/bench-deps --no-deps neuraloperator==2.0.0 tensorly "
            "tensorly-torch opt-einsum zencfg configmypy ruamel.yaml requests urllib3 idna charset-normalizer certifi\n"
            "(see benchmarks/README.md)"
        )
    if not neuralop.__version__.startswith("2.0"):
        print(f"warning: neuraloperator {neuralop.__version__}, the baseline figures are for 2.0", file=sys.stderr)
    return neuralop


def real_parameter_count(model) -> int:
    """Parameters counted as real numbers (a complex weight is two)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def kept_mode_response(layer, n: int):
    """Which single-mode fields ``cos(2 pi (k1 i + k2 j) / n)`` a one-channel layer lets through.

    Columns ``0 < k2 < n / 2`` identify the kept frequency ``(k1, k2)`` exactly; on the columns
    that are their own mirror image (``k2 = 0``, ``n / 2``) the field holds ``(k1, k2)`` and
    ``(-k1, k2)`` both, so ``k1`` and ``-k1`` respond alike there, for both layers.
    """
    import torch

    i = torch.arange(n, dtype=torch.float64) / n
    k1, k2 = torch.meshgrid(torch.arange(-n // 2, n // 2), torch.arange(n // 2 + 1), indexing="ij")
    phase = k1.reshape(-1, 1, 1) * i[:, None] + k2.reshape(-1, 1, 1) * i[None, :]
    fields = torch.cos(2 * math.pi * phase).float()[:, None]
    with torch.no_grad():
        response = layer(fields).abs().amax(dim=(1, 2, 3))
    passed = response > 1e-4 * response.max()
    return {(int(a), int(b)) for a, b, p in zip(k1.reshape(-1), k2.reshape(-1), passed) if p}


def interleaved(runs: dict, repeats: int, steps: int) -> dict[str, dict[str, float]]:
    """Median (and best) wall and CPU milliseconds per step of each run, alternated every repeat,
    and the per-repeat speed-ups (baseline / zoo, the two measured back to back)."""
    for run in runs.values():  # warm-up: plans, caches, allocator
        run()
        run()
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                runs[name]()
            wall[name].append((time.perf_counter() - start_wall) / steps * 1e3)
            cpu[name].append((time.process_time() - start_cpu) / steps * 1e3)
    times = {
        name: {"wall": statistics.median(wall[name]), "best": min(wall[name]), "cpu": statistics.median(cpu[name])}
        for name in names
    }
    ratios = [b / z for z, b in zip(wall["zoo"], wall["neuralop"])]
    times["ratio"] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
    return times


def training_step(model, x):
    def step():
        model.zero_grad(set_to_none=True)
        model(x).square().mean().backward()

    return step


def inference(model, x):
    import torch

    def forward():
        with torch.no_grad():
            model(x)

    return forward


def layer_step(layer, x, grad):
    import torch

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        torch.autograd.backward(layer(x), grad)

    return step


def report(title: str, times: dict[str, dict[str, float]]) -> None:
    zoo, baseline, ratio = times["zoo"], times["neuralop"], times["ratio"]
    print(
        f"| {title} | {zoo['wall']:.1f} | {baseline['wall']:.1f} | **{ratio['median']:.2f}x** "
        f"({ratio['min']:.2f}-{ratio['max']:.2f}) | {zoo['best']:.1f} / {baseline['best']:.1f} "
        f"| {baseline['cpu'] / zoo['cpu']:.2f}x | {os.getloadavg()[0]:.1f} |",
        flush=True,
    )


def main() -> None:
    args = parse_args()
    os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()  # read when torch loads OpenMP
    import torch

    import zoo

    if args.baseline == "neuralop":
        neuralop = import_neuralop(args.deps)
        from neuralop.layers.spectral_convolution import SpectralConv as NeuralopSpectralConv
        from neuralop.models import FNO as NeuralopFNO

        version = f"neuraloperator {neuralop.__version__}"
        theirs = NeuralopFNO(n_modes=NEURALOP_MODES, hidden_channels=WIDTH, n_layers=LAYERS, in_channels=1, out_channels=1)

        def baseline_layer(channels: int):
            return NeuralopSpectralConv(channels, channels, n_modes=NEURALOP_MODES, bias=False)
    else:
        from reference_fno import ReferenceFNO
        from spectral_kernels import UnfusedSpectralConv

        version = "the neuraloperator-style reference (benchmarks/reference_fno.py), NOT neuraloperator"
        theirs = ReferenceFNO(1, 1, ZOO_MODES, width=WIDTH, n_layers=LAYERS)

        def baseline_layer(channels: int):
            return UnfusedSpectralConv(channels, channels, ZOO_MODES, "cpu")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ours = zoo.FNO(1, 1, ZOO_MODES, width=WIDTH, n_layers=LAYERS, projection_channels=64, channel_mlp_ratio=0.5)
    n_ours, n_theirs = real_parameter_count(ours), real_parameter_count(theirs)
    probe_ours = kept_mode_response(zoo.SpectralConv(1, 1, ZOO_MODES), GRID)
    probe_theirs = kept_mode_response(baseline_layer(1), GRID)
    if probe_ours != probe_theirs:
        only_ours, only_theirs = sorted(probe_ours - probe_theirs), sorted(probe_theirs - probe_ours)
        sys.exit(
            f"kept modes differ: {len(only_ours)} pass zoo only {only_ours[:8]}, "
            f"{len(only_theirs)} baseline only {only_theirs[:8]}"
        )
    print(
        f"torch {torch.__version__}, baseline: {version}, {args.threads} threads, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, {args.repeats} interleaved repeats x {args.steps} steps\n"
        f"kept modes identical ({len(probe_ours)} single-mode probes pass both layers at {GRID}x{GRID}); "
        f"real parameters: zoo {n_ours:,}, baseline {n_theirs:,} ({100 * (n_ours / n_theirs - 1):+.1f}%)\n"
    )
    print("| measurement | zoo ms | baseline ms | speed-up (wall, median of repeats; min-max) | best ms zoo / baseline | speed-up (CPU time) | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for config in args.configs:
        batch, grid = (int(v) for v in config.split("x"))
        x = torch.randn(batch, 1, grid, grid)
        report(
            f"FNO-2D forward+backward, batch {batch}, {grid}x{grid}",
            interleaved({"zoo": training_step(ours, x), "neuralop": training_step(theirs, x)}, args.repeats, args.steps),
        )
        report(
            f"FNO-2D forward (no grad), batch {batch}, {grid}x{grid}",
            interleaved({"zoo": inference(ours, x), "neuralop": inference(theirs, x)}, args.repeats, args.steps),
        )
        if args.compile:
            compiled = torch.compile(ours, fullgraph=True)
            report(
                f"FNO-2D forward+backward, batch {batch}, {grid}x{grid}, zoo compiled vs baseline eager",
                interleaved({"zoo": training_step(compiled, x), "neuralop": training_step(theirs, x)}, args.repeats, args.steps),
            )
    x = torch.randn(BATCH, 1, GRID, GRID)
    if not args.skip_layer:
        # neuraloperator's layer adds a bias by default; zoo's SpectralConv has none of its own.
        layer_ours = zoo.SpectralConv(WIDTH, WIDTH, ZOO_MODES)
        layer_theirs = baseline_layer(WIDTH)
        for batch, grid in ((BATCH, 64), (4, 256)):
            u = torch.randn(batch, WIDTH, grid, grid, requires_grad=True)
            grad = torch.randn(batch, WIDTH, grid, grid)
            report(
                f"SpectralConv 32->32 forward+backward, batch {batch}, {grid}x{grid}",
                interleaved(
                    {"zoo": layer_step(layer_ours, u, grad), "neuralop": layer_step(layer_theirs, u, grad)},
                    args.repeats,
                    args.steps,
                ),
            )
    if args.profile:
        from torch.profiler import profile

        step = training_step(ours, x)
        step()
        with profile() as prof:
            for _ in range(3):
                step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
