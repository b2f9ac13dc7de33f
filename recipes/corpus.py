"""Quick-look plots of the multi-physics corpus (issue #16): test trajectory 0 of each finished system.

    python recipes/corpus.py OUT --plots      # OUT/<system>/frames.png, named in each DATACARD.md

Generating the corpus is the command line's job (docs/corpus.md)::

    zoo data corpus OUT [--systems NAME ...] [--splits train val test] [--corpus-only | --downstream | --table | --list]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zoo.data import load_fields
from zoo.data.corpus import SYSTEMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, nargs="?", default=Path("/work/data/corpus"))
    parser.add_argument("--plots", action="store_true", required=True, help="plot test trajectory 0 of each finished system to OUT/<system>/frames.png")
    args = parser.parse_args()
    for name in SYSTEMS:
        if (args.out / name / "test" / "stats.json").is_file():
            print(plot_frames(args.out, name))


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
