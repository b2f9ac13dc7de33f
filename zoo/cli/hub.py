"""``zoo list``, ``zoo download NAME`` and ``zoo card NAME``: the hub (:mod:`zoo.hub`) on the command line."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    listing = subparsers.add_parser("list", help="show every pretrained checkpoint")
    listing.set_defaults(func=_list, error_label="")

    fetch = subparsers.add_parser("download", help="fetch a checkpoint from the Hub into the cache")
    fetch.add_argument("name", help="Hub repo id org/name (or a pretrained name: prints where it is)")
    fetch.add_argument("--revision", help="branch, tag or commit hash (default: main)")
    fetch.add_argument("--cache-dir", help="Hub cache directory (default: $HF_HUB_CACHE)")
    fetch.set_defaults(func=_download, error_label="")

    card = subparsers.add_parser("card", help="print a checkpoint's model card, generated from its stored evaluation")
    card.add_argument("name", nargs="?", help="checkpoint name, directory or Hub repo id")
    card.add_argument("--revision", help="Hub revision, for repo ids")
    where = card.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, metavar="FILE", help="write the card to FILE (plot links relative to it) instead of printing it")
    where.add_argument("--all", action="store_true",
                       help="maintainers: regenerate pretrained/*/README.md and model_cards/ of a source checkout "
                       "(and the cards of $ZOO_PRETRAINED_PATH checkpoints)")
    card.set_defaults(func=_card, error_label="")


def _list(args: argparse.Namespace) -> int:
    from zoo.hub.catalog import format_table, list_pretrained
    from zoo.hub.sources import pretrained_roots

    checkpoints = list_pretrained(details=True)
    if not checkpoints:
        roots = ", ".join(str(root) for root in pretrained_roots()) or "no pretrained directory found"
        print(f"no pretrained checkpoints ({roots})")
        return 0
    print(format_table(checkpoints))
    return 0


def _download(args: argparse.Namespace) -> int:
    from zoo.hub.sources import locate

    directory = locate(args.name, args.revision, cache_dir=args.cache_dir)
    print(directory)
    return 0


def _card(args: argparse.Namespace) -> int:
    if args.all == (args.name is not None):
        raise ValueError("give a checkpoint NAME or --all")
    from zoo.hub.cards import checkpoint_card, write_card, write_pretrained_cards
    from zoo.hub.sources import PACKAGE_DIR, REPO_ID, bundled_roots, locate, pretrained_directories

    if args.all:
        # The checkpoints inside an installed package are its data: never rewritten.
        writable = {name: path for name, path in pretrained_directories().items() if not path.resolve().is_relative_to(PACKAGE_DIR)}
        if not writable:
            raise ValueError(f"--all: no checkpoint outside the installed package {PACKAGE_DIR} (run it in a source checkout)")
        for name in write_pretrained_cards(writable):
            print(f"{name}: card regenerated")
        return 0
    directory = locate(args.name, args.revision)
    name = args.name if REPO_ID.match(args.name) and not Path(args.name).is_dir() else None
    if args.out is None:
        print(checkpoint_card(directory, name=name), end="")
        return 0
    out = args.out.resolve()
    if any(out.is_relative_to(folder.resolve()) for folder in [PACKAGE_DIR, *bundled_roots()]):
        raise ValueError(f"{args.out} is inside zoo's own folders; write the card elsewhere (maintainers: zoo card --all)")
    write_card(directory, args.out, name=name)
    print(f"card written to {args.out}")
    return 0
