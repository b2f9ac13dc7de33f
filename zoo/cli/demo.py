"""``zoo demo``: a bundled pretrained operator against the solver on a new flow (:mod:`zoo.eval.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_FINE_GRID = 128
FULL_FINE_GRIDS = (128, 256)


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run a bundled pretrained operator against the solver on a new flow (about 30 s)",
        description="Solve a new 2D Navier-Stokes flow (nu = 1e-3) to t = 50 at 64x64 and, zero-shot, at 128x128; "
        "let the pretrained operator predict t = 11..50 from t = 1..10; print its error and speed-up and write "
        "PNG plots (vorticity, error against time, energy spectra) to --out. Offline. Takes about 30 s of one "
        "CPU core (longer on a busy machine); --full adds the 256x256 grid of the model card (about 5 minutes).",
    )
    demo.add_argument("--checkpoint", default="fno-ns2d-nu1e-3", help="pretrained name, directory or Hub repo id")
    demo.add_argument("--seed", type=int, default=2026, help="seed of the new initial vorticity")
    demo.add_argument("--t-end", type=_after_history, default=50, help="last predicted time (the checkpoints were evaluated to 50)")
    grids = demo.add_mutually_exclusive_group()
    grids.add_argument("--fine", type=int, default=DEFAULT_FINE_GRID, help=f"finer grid for the zero-shot comparison (default {DEFAULT_FINE_GRID}; 0: skip)")
    grids.add_argument("--full", action="store_true", help="zero-shot at 128x128 and 256x256, as on the model card (about 5 minutes)")
    demo.add_argument("--out", type=Path, default=Path("zoo-demo"), help="folder for the PNG plots (default: ./zoo-demo/)")
    demo.set_defaults(func=_demo)


def _after_history(text: str) -> int:
    t_end = int(text)
    if t_end <= 10:
        raise argparse.ArgumentTypeError(f"must exceed the 10 input frames of the bundled checkpoints, got {t_end}")
    return t_end


def _demo(args: argparse.Namespace) -> int:
    from zoo.eval.demo import run_demo

    fine_grids = FULL_FINE_GRIDS if args.full else (args.fine,) if args.fine else ()
    run_demo(args.checkpoint, seed=args.seed, t_end=args.t_end, fine_grids=fine_grids, out=args.out)
    return 0
