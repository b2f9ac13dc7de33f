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
    args = parser.parse_args()
    if args.table:
        write_corpus_table(args.out, args.seed)
        print(corpus_markdown(args.out), end="")
        return
    torch.set_num_threads(args.threads)
    systems = args.systems
    if args.corpus_only or args.downstream:
        systems = [s.name for s in corpus_systems(downstream=args.downstream)]
    generate_corpus(args.out, systems=systems, splits=args.splits, seed=args.seed)


if __name__ == "__main__":
    main()
