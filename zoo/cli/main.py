"""The ``zoo`` command line: one parser, one thin module per command group, one error report.

Each module in :data:`COMMAND_MODULES` defines ``add_commands(subparsers)``, importing the library
only inside its commands (so ``zoo --help`` never imports torch); each subcommand sets ``func(args) -> int``,
and ``computes=True`` if it computes: it then runs on the CPU cores other jobs leave free
(:func:`zoo.devices.threads_for_free_cores`; ``OMP_NUM_THREADS`` or a ``--threads`` option overrides).

A user's mistake (a bad option or config, a missing or broken file, data that do not fit, a folder
in use) ends in one line on stderr, ``zoo COMMAND: error: ...``, and exit status 2, as argparse's
own usage errors do; ``zoo --debug COMMAND`` shows the traceback instead. Anything else is a bug in
zoo and keeps its traceback. docs/troubleshooting.md lists the errors and what to do.
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
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
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
        if getattr(args, "computes", False) and not getattr(args, "threads", None):
            _compute_on_free_cores()
        return int(args.func(args) or 0)
    except Exception as error:
        if args.debug or not _is_user_error(error):
            raise
            raise
        # The hub's commands (list, download, card) have always reported without "error: ".
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"zoo {args.command}: {getattr(args, 'error_label', 'error: ')}{message}", file=sys.stderr)
        return 2


def _compute_on_free_cores() -> None:
    """Commands that compute (``computes=True`` in their defaults) use the free CPU cores only."""
    from zoo.devices import threads_for_free_cores

    note = threads_for_free_cores()
    if note:
        print(note, file=sys.stderr)


def _is_user_error(error: Exception) -> bool:
    """Failures that are the user's to fix: bad values, configs, data and checkpoints
    (``ValueError``: zoo's ConfigError, DataFileError, DataMismatchError and CheckpointError are
    ones), a checkpoint that is not there, missing or unreadable files (``OSError``), a folder
    another process holds, a run that diverged. The checks that import zoo's modules (and torch)
    run last, so a command's own argument check answers at once."""
    if isinstance(error, (ValueError, OSError, FloatingPointError)):
        return True
    from zoo.files import FolderLockedError
    from zoo.hub.errors import CheckpointNotFoundError

    return isinstance(error, (CheckpointNotFoundError, FolderLockedError))

if __name__ == "__main__":
    sys.exit(main())
