"""``zoo data generate EQUATION ... OUT``, ``zoo data corpus OUT`` and ``zoo data info PATH`` (:mod:`zoo.data`)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

# The keys of zoo.pde.navier_stokes.NAMED_FORCINGS, spelled out so that `zoo --help` imports no torch.
FORCINGS = ("fno", "kolmogorov")
SPLITS = ("train", "val", "test")  # zoo.data.corpus.SPLITS


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
    ns2d.set_defaults(func=_generate, computes=True, recipe=("navier_stokes_recipe", keys, True), default_shard_size=100)

    burgers = equations.add_parser("burgers", help="1D viscous Burgers on the periodic interval")
    burgers.add_argument("--viscosity", type=float, required=True)
    burgers.add_argument("--resolution", type=int, default=1024, help="grid points")
    burgers.add_argument("--steps", type=int, required=True, help="records after t = 0 (stored: steps + 1 frames)")
    burgers.add_argument("--record-every", type=float, default=0.01, help="time between records")
    _common_options(burgers)
    keys = ("viscosity", "resolution", "steps", "record_every", "device")
    burgers.set_defaults(func=_generate, computes=True, recipe=("burgers_recipe", keys, True), default_shard_size=200)

    darcy = equations.add_parser("darcy", help="2D Darcy flow with a two-valued coefficient, zero Dirichlet boundary")
    darcy.add_argument("--resolution", type=int, default=64, help="stored nodes per axis, boundary included")
    darcy.add_argument("--solve-factor", type=int, default=1, help="solve on factor * (resolution - 1) + 1 nodes, keep every factor-th")
    darcy.add_argument("--high", type=float, default=12.0, help="coefficient where the random field is >= 0")
    darcy.add_argument("--low", type=float, default=3.0, help="coefficient where it is < 0")
    darcy.add_argument("--forcing", type=float, default=1.0, help="constant right-hand side f")
    _common_options(darcy)
    keys = ("resolution", "solve_factor", "high", "low", "forcing")
    darcy.set_defaults(func=_generate, computes=True, recipe=("darcy_recipe", keys, False), default_shard_size=500)

    kolmogorov = equations.add_parser("kolmogorov", help="2D Kolmogorov flow with linear drag, on its attractor (docs/kolmogorov.md)")
    kolmogorov.add_argument("--reynolds", type=float, required=True)
    kolmogorov.add_argument("--steps", type=int, required=True, help="records after t = 0 (stored: steps + 1 frames)")
    kolmogorov.add_argument("--record-every", type=float, default=0.1, help="time between records (the Markov operator's step)")
    kolmogorov.add_argument("--drag", type=float, default=0.1, help="linear drag coefficient")
    kolmogorov.add_argument("--resolution", type=int, default=64, help="stored grid points per axis (divides --solve-resolution)")
    kolmogorov.add_argument("--solve-resolution", type=int, default=128)
    kolmogorov.add_argument("--spin-up", type=float, default=50.0, help="time units from the random field onto the attractor")
    kolmogorov.add_argument("--spin-up-resolution", type=int, default=64)
    kolmogorov.add_argument("--settle", type=float, default=5.0, help="time units at the solver grid before t = 0")
    _common_options(kolmogorov)
    keys = ("reynolds", "steps", "record_every", "drag", "resolution", "solve_resolution", "spin_up", "spin_up_resolution", "settle", "device")
    kolmogorov.set_defaults(func=_generate, computes=True, recipe=("zoo.data.kolmogorov:kolmogorov_recipe", keys, True), default_shard_size=10)

    system = equations.add_parser("corpus", help="one split of a multi-physics corpus system (zoo.data.corpus.SYSTEMS, docs/corpus.md)")
    system.add_argument("system", help="the system's name, e.g. burgers (`zoo data corpus --list` names them all)")
    system.add_argument("--split", choices=SPLITS, required=True, help="seeds the split's own stream")
    system.add_argument("--resolution", type=int, help="solve and store on this grid (default: the system's)")
    system.add_argument("--records", type=int, help="records after t = 0 (default: the system's)")
    _common_options(system, solver=False, seed=("root seed of the corpus's seed streams", 16))
    system.set_defaults(func=_generate, computes=True, default_shard_size=None)

    corpus = commands.add_parser("corpus", help="generate (or resume) the multi-physics corpus and its transfer systems")
    corpus.add_argument("out", type=Path, nargs="?", help="root directory (OUT/<system>/<split>; rerun to resume)")
    corpus.add_argument("--systems", nargs="+", help="default: the corpus, then the downstream systems")
    which = corpus.add_mutually_exclusive_group()
    which.add_argument("--corpus-only", action="store_true", help="only the pretraining systems")
    which.add_argument("--downstream", action="store_true", help="only the downstream transfer systems")
    which.add_argument("--table", action="store_true", help="only print OUT/corpus.json as a Markdown table (no generation)")
    which.add_argument("--list", action="store_true", help="only name the systems")
    corpus.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS))
    corpus.add_argument("--seed", type=int, default=16, help="root seed of every split's seed stream")
    corpus.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    corpus.add_argument("--quiet", action="store_true", help="no progress bars")
    corpus.set_defaults(func=_corpus)

    info = commands.add_parser("info", help="describe a data set directory or file")
    info.add_argument("path", type=Path)
    info.set_defaults(func=_info)


def _common_options(parser: argparse.ArgumentParser, *, solver: bool = True, seed: tuple[str, int] = ("root seed", 0)) -> None:
    parser.add_argument("--samples", type=int, required=True)
    parser.add_argument("--seed", type=int, default=seed[1], help=f"{seed[0]} (default {seed[1]})")
    parser.add_argument("--shard-size", type=int, default=None, help="samples per file (and per solver batch)")
    if solver:
        parser.add_argument("--float64", action="store_true", help="solve in float64 (stored as float32)")
        parser.add_argument("--device", default="cpu", help="torch device to solve on, e.g. cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("out", type=Path, help="output directory (created; rerun to resume), or FILE.npy: one array (N, T, C, H, W), "
                        "the plain file zoo finetune --data reads (solved in memory: for small sets)")


def _recipe(args: argparse.Namespace):
    """The equation's recipe (:mod:`zoo.data.equations`) with the options its parser collected."""
    import importlib

    import torch

    name, keys, takes_dtype = args.recipe
    module, _, name = name.rpartition(":")
    options = {key: getattr(args, key) for key in keys}
    if takes_dtype:
        options["dtype"] = torch.float64 if args.float64 else torch.float32
    return getattr(importlib.import_module(module or "zoo.data.equations"), name)(**options)


def _corpus_system(args: argparse.Namespace):
    """``(recipe, seed, shard size)`` of one corpus system's split, smaller where the options say."""
    from zoo.data.corpus import SYSTEMS, dataset_seed
    from zoo.data.specs import ConfigError

    if args.system not in SYSTEMS:
        raise ConfigError(f"unknown corpus system {args.system!r}; choose one of {', '.join(sorted(SYSTEMS))}")
    system = SYSTEMS[args.system]
    changes = {} if args.resolution is None else {"solve_resolution": args.resolution, "store_resolution": args.resolution}
    if args.records is not None:
        changes["records"] = args.records
    return system.recipe_with(**changes), dataset_seed(args.seed, system.name, args.split), system.shard_size


def _generate(args: argparse.Namespace) -> int:
    import torch

    from zoo.data.generate import generate, generate_array
    from zoo.data.specs import ConfigError

    if args.threads:
        torch.set_num_threads(args.threads)
    recipe, seed, shard_size = _corpus_system(args) if args.equation == "corpus" else (_recipe(args), args.seed, args.default_shard_size)
    single_file = args.out.suffix.lower() == ".npy"
    if args.out.suffix.lower() in (".safetensors", ".h5", ".hdf5", ".hdf"):
        raise ConfigError(f"{args.out}: zoo data generate writes one array as .npy, or a data set directory; not {args.out.suffix}")
    options = {
        "samples": args.samples,
        "seed": seed,
        "shard_size": args.shard_size or shard_size,
        "command": shlex.join(["zoo", *sys.argv[1:]]) if Path(sys.argv[0]).name in ("zoo", "__main__.py") else "",
        "progress": not args.quiet,
    }
    if single_file:
        record = generate_array(args.out, recipe, **options)
        times = record["times"]
        print(f"{args.out}: {record['samples']} trajectories of {record['equation']}, shape {tuple(record['shape'])} "
              f"(N, T, C, H, W; fields {', '.join(record['fields'])}; t = {times[0]:g}..{times[-1]:g}); what they are: {args.out}.json")
        return 0
    manifest = generate(args.out, recipe, **options)
    print(f"{args.out}: {manifest['samples']} samples of {manifest['equation']} complete")
    return 0


def _corpus(args: argparse.Namespace) -> int:
    import torch

    from zoo.data.corpus import SYSTEMS, corpus_markdown, corpus_systems, generate_corpus, write_corpus_table
    from zoo.data.specs import ConfigError

    if args.list:
        for system in SYSTEMS.values():
            print(f"{system.name:<26} {'downstream' if system.downstream else 'corpus':<10} {', '.join(system.fields)}")
        return 0
    if args.out is None:
        raise ConfigError("zoo data corpus needs the output directory OUT (or --list)")
    if args.table:
        write_corpus_table(args.out, args.seed)
        print(corpus_markdown(args.out), end="")
        return 0
    unknown = sorted(set(args.systems or ()) - set(SYSTEMS))
    if unknown:
        raise ConfigError(f"unknown corpus systems {unknown}; choose from {', '.join(sorted(SYSTEMS))}")
    torch.set_num_threads(args.threads)
    systems = args.systems
    if args.corpus_only or args.downstream:
        systems = [s.name for s in corpus_systems(downstream=args.downstream)]
    generate_corpus(args.out, systems=systems, splits=args.splits, seed=args.seed, progress=not args.quiet)
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
