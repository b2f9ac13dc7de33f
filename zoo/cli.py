"""The ``zoo`` command line. Each area of the package contributes its subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that define ``add_commands(subparsers)``; each subcommand sets ``func(args) -> int``.
COMMAND_MODULES: tuple[str, ...] = ("zoo.demo", "zoo.data.cli", "zoo.hub.cli", "zoo.train.cli")


def build_parser() -> argparse.ArgumentParser:
    from zoo import __version__

    parser = argparse.ArgumentParser(
        prog="zoo", description="Neural operators and Fourier transformers for physics."
    )
    parser.add_argument("--version", action="version", version=f"zoo {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
