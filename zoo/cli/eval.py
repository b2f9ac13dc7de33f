"""``zoo eval NAME_OR_PATH --data PATH``: the table of :func:`zoo.eval.resolutions.evaluate_resolutions`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser("eval", help="relative L2 error of a model on data, at each resolution")
    evaluate.add_argument("model", help="checkpoint name, directory or Hub repo id")
    evaluate.add_argument("--data", required=True, nargs="+", help="test data files or directories")
    evaluate.add_argument(
        "--subsample",
        type=int,
        nargs="+",
        help="grid subsampling factors to evaluate (default: 1, 2, 4, ... while the grid holds the modes)",
    )
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--json", type=Path, help="also write the results to this JSON file")
    evaluate.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from zoo.devices import resolve_device
    from zoo.eval.resolutions import evaluate_resolutions
    from zoo.files import atomic_write_bytes
    from zoo.hub import from_pretrained

    device = resolve_device(args.device)
    model = from_pretrained(args.model).to(device)
    rows = evaluate_resolutions(model, args.data, subsample=args.subsample, batch_size=args.batch_size, device=device)
    width = max(len(r["data"]) for r in rows)
    print(f"{'data':<{width}}  {'grid':>9}  {'samples':>7}  relative_l2")
    for row in rows:
        grid = "x".join(map(str, row["grid"]))
        line = f"{row['data']:<{width}}  {grid:>9}  {row['samples']:>7}  {row['metrics']['relative_l2']:.4g}"
        per_step = row["metrics"].get("rollout_relative_l2")
        if per_step:
            line += f"   (first step {per_step[0]:.4g}, last step {per_step[-1]:.4g})"
        print(line)
    if args.json:
        atomic_write_bytes(args.json, (json.dumps({"model": str(args.model), "results": rows}, indent=2) + "\n").encode())
    return 0
