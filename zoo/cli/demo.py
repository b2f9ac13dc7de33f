"""``zoo demo``: a bundled pretrained operator against the solver on a new flow (:mod:`zoo.eval.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run a bundled pretrained operator against the solver on a new flow")
    demo.add_argument("--checkpoint", default="fno-ns2d-nu1e-3", help="pretrained name, directory or Hub repo id")
    demo.add_argument("--seed", type=int, default=2026, help="seed of the new initial vorticity")
    demo.add_argument("--t-end", type=int, default=50, help="last predicted time (the checkpoints were evaluated to 50)")
    demo.add_argument("--fine", type=int, default=128, help="finer grid for the zero-shot comparison (0: skip)")
    demo.add_argument("--out", type=Path, default=Path("zoo-demo"), help="folder for the PNG plots")
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from zoo.eval.demo import run_demo

    run_demo(args.checkpoint, seed=args.seed, t_end=args.t_end, fine=args.fine, out=args.out)
    return 0
