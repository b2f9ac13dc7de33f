"""``zoo data generate EQUATION ... OUT`` and ``zoo data info PATH`` (:mod:`zoo.data`)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

# The keys of zoo.pde.navier_stokes.NAMED_FORCINGS, spelled out so that `zoo --help` imports no torch.
FORCINGS = ("fno", "kolmogorov")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="generate and inspect PDE data sets")
    commands = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)

    generate = commands.add_parser("generate", help="solve a PDE for many random inputs into sharded files")
    equations = generate.add_subparsers(dest="equation", metavar="EQUATION", required=True)

    ns2d = equations.add_parser("ns2d", help="2D Navier-Stokes vorticity, the FNO paper's setting")
    ns2d.add_argument("--viscosity", type=float, required=True)
    ns2d.add_argument("--resolution", type=int, default=64, help="grid points per axis (solved and stored)")
    ns2d.add_argument("--steps", type=int, required=True, help="records after t = 0 (stored: steps + 1 frames)")
    ns2d.add_argument("--record-every", type=float, default=1.0, help="time between records")
    ns2d.add_argument("--dt", type=float, default=None, help="time step (default: 0.64 / resolution)")
    _common_options(ns2d)
    ns2d.add_argument("--forcing", choices=FORCINGS, default="fno", help="named forcing (default: the FNO paper's)")
    ns2d.add_argument("--diffusivity", type=float, default=None, help="also carry a passive scalar with this diffusivity")
    keys = ("viscosity", "resolution", "steps", "record_every", "dt", "device", "diffusivity", "forcing")
    ns2d.set_defaults(func=_generate, recipe=("navier_stokes_recipe", keys, True), default_shard_size=100)

    burgers = equations.add_parser("burgers", help="1D viscous Burgers on the periodic interval")
    burgers.add_argument("--viscosity", type=float, required=True)
    burgers.add_argument("--resolution", type=int, default=1024, help="grid points")
    burgers.add_argument("--steps", type=int, required=True, help="records after t = 0 (stored: steps + 1 frames)")
    burgers.add_argument("--record-every", type=float, default=0.01, help="time between records")
    _common_options(burgers)
    keys = ("viscosity", "resolution", "steps", "record_every", "device")
    burgers.set_defaults(func=_generate, recipe=("burgers_recipe", keys, True), default_shard_size=200)

    darcy = equations.add_parser("darcy", help="2D Darcy flow with a two-valued coefficient, zero Dirichlet boundary")
    darcy.add_argument("--resolution", type=int, default=64, help="stored nodes per axis, boundary included")
    darcy.add_argument("--solve-factor", type=int, default=1, help="solve on factor * (resolution - 1) + 1 nodes, keep every factor-th")
    darcy.add_argument("--high", type=float, default=12.0, help="coefficient where the random field is >= 0")
    darcy.add_argument("--low", type=float, default=3.0, help="coefficient where it is < 0")
    darcy.add_argument("--forcing", type=float, default=1.0, help="constant right-hand side f")
    _common_options(darcy)
    keys = ("resolution", "solve_factor", "high", "low", "forcing")
    darcy.set_defaults(func=_generate, recipe=("darcy_recipe", keys, False), default_shard_size=500)

    info = commands.add_parser("info", help="describe a data set directory or file")
    info.add_argument("path", type=Path)
    info.set_defaults(func=_info)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-size", type=int, default=None, help="samples per file (and per solver batch)")
    parser.add_argument("--float64", action="store_true", help="solve in float64 (stored as float32)")
    parser.add_argument("--device", default="cpu", help="torch device to solve on, e.g. cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("out", type=Path, help="output directory (created; rerun to resume)")


def _recipe(args: argparse.Namespace):
    """The equation's recipe (:mod:`zoo.data.equations`) with the options its parser collected."""
    import torch

    from zoo.data import equations

    name, keys, takes_dtype = args.recipe
    options = {key: getattr(args, key) for key in keys}
    if takes_dtype:
        options["dtype"] = torch.float64 if args.float64 else torch.float32
    return getattr(equations, name)(**options)


def _generate(args: argparse.Namespace) -> int:
    import torch

    from zoo.data.generate import generate

    if args.threads:
        torch.set_num_threads(args.threads)
    manifest = generate(
        args.out,
        _recipe(args),
        samples=args.samples,
        seed=args.seed,
        shard_size=args.shard_size or args.default_shard_size,
        command=shlex.join(["zoo", *sys.argv[1:]]) if Path(sys.argv[0]).name in ("zoo", "__main__.py") else "",
        progress=not args.quiet,
    )
    print(f"{args.out}: {manifest['samples']} samples of {manifest['equation']} complete")
    return 0


def _info(args: argparse.Namespace) -> int:
    from zoo.data import DataFileError
    from zoo.data.formats import describe

    summary = describe(args.path)
    print(json.dumps(summary, indent=2))
    bad = summary.get("bad_shards")
    if bad:
        listed = "; ".join(f"{name}: {problem}" for name, problem in sorted(bad.items()))
        raise DataFileError(
            f"{args.path}: {len(bad)} bad shard(s): {listed}; delete the bad files and rerun the data set's "
            "generate command (in dataset.json) to rewrite them"
        )
    return 0
