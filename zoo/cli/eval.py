"""``zoo eval NAME_OR_PATH --data PATH``: the table of :func:`zoo.eval.resolutions.evaluate_resolutions`, or with
``--calibration CALIB`` the coverage of conformal bands (:func:`zoo.eval.resolutions.evaluate_bands`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser("eval", help="relative L2 error of a model on data, at each resolution")
    evaluate.add_argument("model", help="checkpoint name, directory or Hub repo id")
    evaluate.add_argument("--data", required=True, nargs="+", help="test data files or directories (one with --calibration)")
    evaluate.add_argument(
        "--subsample",
        type=int,
        nargs="+",
        help="grid subsampling factors to evaluate (default: 1, 2, 4, ... while the grid holds the modes)",
    )
    evaluate.add_argument(
        "--calibration",
        help="calibration data (unseen in training): report conformal band coverage on --data instead of the table",
    )
    evaluate.add_argument("--level", type=float, default=0.9, help="band level 1 - alpha, in (0, 1) (with --calibration)")
    evaluate.add_argument("--mode", choices=("pointwise", "domain"), default="pointwise", help="conformal guarantee (with --calibration)")
    evaluate.add_argument("--delta", type=float, default=0.1, help="the domain mode's failure probability")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--json", type=Path, help="also write the results to this JSON file")
    evaluate.set_defaults(func=_evaluate, computes=True)


def _evaluate(args: argparse.Namespace) -> int:
    from zoo.devices import resolve_device
    from zoo.eval.resolutions import evaluate_resolutions
    from zoo.files import atomic_write_bytes
    from zoo.hub import from_pretrained

    device = resolve_device(args.device)
    model = from_pretrained(args.model).to(device)
    if args.calibration:
        return _bands(model, args)
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


def _bands(model, args: argparse.Namespace) -> int:
    """Coverage and half-width of conformal bands calibrated on ``--calibration``, scored on ``--data``."""
    from zoo.data.specs import ConfigError
    from zoo.eval.resolutions import evaluate_bands
    from zoo.files import atomic_write_bytes

    if len(args.data) != 1:
        raise ConfigError(f"--calibration scores one --data path, got {len(args.data)}; run once per test set")
    # conformalize's checks (level, delta, too few functions, shapes) raise ValueError: one line, exit 2.
    result = evaluate_bands(
        model, args.data[0], args.calibration, level=args.level, mode=args.mode, delta=args.delta, batch_size=args.batch_size
    )
    figures = result["levels"][f"{args.level:g}"]
    print(f"conformal bands ({result['mode']}, level {args.level:g}): calibrated on {result['calibration_functions']} "
          f"functions of {args.calibration}, tested on {result['test_functions']} of {args.data[0]}")
    print(f"{'':<10}  {'coverage':>8}  {'half_width':>10}")
    print(f"{'overall':<10}  {figures['coverage']:>8.4f}  {figures['half_width']:>10.4g}"
          f"   (relative to the truth's rms: {figures['relative_half_width']:.4g})")
    steps = figures["coverage_per_step"]
    if len(steps) > 1:
        for name, s in (("first step", 0), ("last step", -1)):
            print(f"{name:<10}  {steps[s]:>8.4f}  {figures['half_width_per_step'][s]:>10.4g}")
    if args.json:
        payload = {"model": str(args.model), "data": args.data[0], "calibration": args.calibration, "level": args.level, **result}
        atomic_write_bytes(args.json, (json.dumps(payload, indent=2) + "\n").encode())
    return 0
