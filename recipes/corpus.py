"""Generate zoo's multi-physics pretraining corpus and its downstream transfer systems (issue #16).

    python recipes/corpus.py [OUT] [--systems NAME ...] [--splits train val test] [--downstream | --corpus-only]
    python recipes/corpus.py [OUT] --table     # the table of what is generated so far, as Markdown

Generates system after system, split by split, shard by shard into ``OUT`` (default
``/work/data/corpus``); rerunning resumes (finished shards are kept). Writes ``OUT/corpus.json``
and ``OUT/<system>/DATACARD.md`` as splits finish. The table: ``zoo.data.corpus.SYSTEMS``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from zoo.data import load_fields
from zoo.data.corpus import ROOT_SEED, SPLITS, SYSTEMS, corpus_markdown, corpus_systems, generate_corpus, write_corpus_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, nargs="?", default=Path("/work/data/corpus"))
    parser.add_argument("--systems", nargs="+", choices=sorted(SYSTEMS), help="default: the corpus, then the downstream systems")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--corpus-only", action="store_true", help="only the pretraining systems")
    which.add_argument("--downstream", action="store_true", help="only the downstream transfer systems")
    parser.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS))
    parser.add_argument("--seed", type=int, default=ROOT_SEED, help="root seed of every split's seed stream")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--table", action="store_true", help="only print OUT/corpus.json as a Markdown table (no generation)")
    parser.add_argument("--plots", action="store_true", help="only plot test trajectory 0 of each finished system to OUT/<system>/frames.png")
    args = parser.parse_args()
    if args.table:
        write_corpus_table(args.out, args.seed)
        print(corpus_markdown(args.out), end="")
        return
    if args.plots:
        for name in SYSTEMS:
            if (args.out / name / "test" / "stats.json").is_file():
                print(plot_frames(args.out, name))
        return
    torch.set_num_threads(args.threads)
    systems = args.systems
    if args.corpus_only or args.downstream:
        systems = [s.name for s in corpus_systems(downstream=args.downstream)]
    generate_corpus(args.out, systems=systems, splits=args.splits, seed=args.seed)


def plot_frames(root: Path, name: str, frames: tuple[int, ...] = (0, 1, 5, 10, 20)) -> Path:
    """Fields (rows) of test trajectory 0 at a few frames (columns), one colour scale per field."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = load_fields(root / name / "test", samples=(0, 1))
    u = data.trajectories[0]  # (T, C, H, W)
    frames = tuple(f for f in frames if f < u.shape[0])
    figure, axes = plt.subplots(len(data.channels), len(frames), figsize=(2.2 * len(frames), 2.2 * len(data.channels)), squeeze=False)
    for c, channel in enumerate(data.channels):
        low, high = float(u[:, c].min()), float(u[:, c].max())
        for column, f in enumerate(frames):
            axis = axes[c][column]
            axis.imshow(u[f, c].T, origin="lower", cmap="RdBu_r", vmin=low, vmax=high, extent=(0, 1, 0, 1))
            axis.set_xticks([]), axis.set_yticks([])
            axis.set_title(f"t = {float(data.times[f]):g}", fontsize=8)
        axes[c][0].set_ylabel(channel, fontsize=9)
    figure.suptitle(f"{name}: test trajectory 0", fontsize=10)
    figure.tight_layout()
    path = root / name / "frames.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


if __name__ == "__main__":
    main()
