"""Where a benchmark's results go and how they are written: ``<prefix>.json`` (every figure) and
``<prefix>.md`` (the tables for BENCHMARKS.md), rewritten after every measurement so that a run
cut short (a GPU lease's time box, say) keeps what it measured."""

from __future__ import annotations

import json
from pathlib import Path

from zoo.files import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def results_prefix(script: str, device_name: str, output: Path | None) -> Path:
    """``output``, or ``benchmarks/results/<script>_<device slug>``; its folder is created."""
    slug = "".join(c if c.isalnum() else "-" for c in device_name).strip("-").lower()
    prefix = output or RESULTS / f"{script}_{slug}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    return prefix


def save_results(prefix: Path, results: dict, markdown: str) -> None:
    atomic_write_text(prefix.with_suffix(".json"), json.dumps(results, indent=1))
    atomic_write_text(prefix.with_suffix(".md"), markdown)


def announce(prefix: Path, markdown: str) -> int:
    """Print the tables and where they were written; the script's exit status."""
    print(markdown)
    print(f"wrote {prefix.with_suffix('.json')} and {prefix.with_suffix('.md')}")
    return 0
