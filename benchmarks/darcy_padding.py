"""Why fno-darcy loses accuracy on grids it did not train on: its zero padding, grid by grid (#18 item 1).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/darcy_padding.py [--model pretrained/fno-darcy] \
        [--data /work/data/darcy/fno-paper/test] [--samples 20] [--out benchmarks/results/darcy_padding_cpu.json]

The FNO pads each axis with ``round(domain_padding * n)`` zeros on its high side before the Fourier
blocks (the Darcy problem is not periodic). On the node grids of the Darcy data (``n`` nodes,
``n - 1`` intervals of the unit square), that zero strip is ``p / (n - 1)`` of the domain wide, a
width that the rounding changes from grid to grid: ``domain_padding = 0.1`` gives 2/15, 3/30 and 8/84
at the training grids 16, 31 and 85, and 14/140, 21/210, 42/420 at 141, 211, 421. For each test
grid (every ``k``-th node of the 421-node solves) this scores the model with its own padding and
with other widths ``p``, among them the width closest to the 85-grid's 8/84: if the error follows
the strip's width rather than the grid, the model has learned the padded geometry of its
training grids.

Test data: the first ``--samples`` test samples (root seed 1, unseen in training); relative L2 per
sample, mean with a 95% percentile bootstrap interval. Float32, CPU, one thread.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from zoo.data import OperatorPairs, load_fields
from zoo.eval.bootstrap import bootstrap_interval
from zoo.files import atomic_write_text
from zoo.hub import from_pretrained
from zoo.losses import relative_l2

ROOT = Path(__file__).resolve().parents[1]
TRAINING_FRACTION = 8 / 84  # the 85-node training grid's zero strip, in units of the domain
# Grid (as a stride into the 421-node solve) -> the paddings to score besides the model's own.
PADDINGS = {5: [6, 7, 9, 10], 3: [12, 13, 14, 16], 2: [20, 21, 22], 1: [40, 42, 44], 4: [9, 10, 11, 12], 12: [3, 4, 5], 7: [5, 7]}


def scored(model: torch.nn.Module, inputs: torch.Tensor, truth: torch.Tensor, padding: int) -> dict:
    """Relative L2 ``(mean, interval)`` with ``padding`` zeros per axis (the model's own rule set aside)."""
    backbone = model.backbone
    own = backbone.domain_padding
    backbone.domain_padding = (padding + 0.25) / inputs.shape[-1]  # round(fraction * n) == padding
    try:
        with torch.no_grad():
            errors = torch.cat([relative_l2(model(inputs[i : i + 5]), truth[i : i + 5], reduction="none")
                                for i in range(0, len(inputs), 5)])
    finally:
        backbone.domain_padding = own
    low, high = bootstrap_interval(errors)
    return {"padding": padding, "strip_width": round(padding / (inputs.shape[-1] - 1), 4),
            "relative_l2": round(float(errors.mean()), 5), "interval": [round(low, 5), round(high, 5)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "pretrained" / "fno-darcy"))
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ZOO_DATA", "/work/data")) / "darcy" / "fno-paper" / "test")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "darcy_padding_cpu.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = from_pretrained(args.model)
    rows = []
    for stride, others in PADDINGS.items():
        data = OperatorPairs(load_fields(args.data, samples=(0, args.samples), subsample=stride), input_times=[], target_times=[0],
                             include_static=True)
        inputs, truth = (torch.stack(t) for t in zip(*(data[i] for i in range(len(data)))))
        n = inputs.shape[-1]
        own = int(round(model.backbone.domain_padding * n))
        closest = int(round(TRAINING_FRACTION * (n - 1)))
        results = [scored(model, inputs, truth, p) | {"which": "own" if p == own else "85's width" if p == closest else ""}
                   for p in sorted({own, closest, *others})]
        rows.append({"grid": n, "stride": stride, "results": results})
        print(f"{n:>3} nodes: " + "; ".join(f"p={r['padding']} ({r['strip_width']:.3f}{', ' + r['which'] if r['which'] else ''}) "
                                             f"{r['relative_l2']:.4f}" for r in results), flush=True)
    report = {"model": args.model, "data": str(args.data), "samples": args.samples, "metric": "relative L2, mean [95% bootstrap]",
              "training_strip_width": round(TRAINING_FRACTION, 4), "grids": rows}
    atomic_write_text(args.out, json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
