"""The ``zoo`` command line: one parser, one thin module per command group, one error report.

Each module in :data:`COMMAND_MODULES` defines ``add_commands(subparsers)``, importing the library
only inside its commands (so ``zoo --help`` never imports torch); each subcommand sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from zoo.version import __version__

COMMAND_MODULES: tuple[str, ...] = ("zoo.cli.demo", "zoo.cli.data", "zoo.cli.hub", "zoo.cli.train", "zoo.cli.eval")


def build_parser() -> argparse.ArgumentParser:
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
    try:
        return int(args.func(args) or 0)
    except Exception as error:
        # The known errors' modules import torch: only when a command fails, and never for the
        # SystemExit of a command's own argument check (which an `except _known_errors()` would).
        if not isinstance(error, _known_errors()):
            raise
        # The hub's commands (list, download, card) have always reported without "error: ".
        print(f"zoo {args.command}: {getattr(args, 'error_label', 'error: ')}{error}", file=sys.stderr)
        return 1


def _known_errors() -> tuple[type[Exception], ...]:
    """Failures that are the user's to fix (bad config, data that do not fit, missing or broken
    checkpoints): one line naming the problem, exit status 1, no traceback."""
    from zoo.data import DataFileError
    from zoo.data.specs import ConfigError
    from zoo.hub.errors import CheckpointError, CheckpointNotFoundError
    from zoo.models.adapt import DataMismatchError

    return (ConfigError, DataMismatchError, DataFileError, CheckpointError, CheckpointNotFoundError)


if __name__ == "__main__":
    sys.exit(main())
