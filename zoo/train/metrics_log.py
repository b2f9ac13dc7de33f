"""The metrics log of a run: one JSON object per line, and a CSV copy for spreadsheets.

Each record holds ``step`` and ``split`` (``"train"`` or ``"eval"``) and scalar or list values
(``rollout_relative_l2`` is the error at each rollout step). The JSONL file is appended line by
line, so a killed run keeps everything it logged; on resume the lines written after the
checkpoint are dropped, so the log reads as if the run had never stopped.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from zoo.files import atomic_write_bytes


class MetricsLog:
    """Append-only JSONL metrics file at ``path`` (parents created on the first append)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as file:
            file.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        records = []
        for number, line in enumerate(lines, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                # A run killed mid-write leaves a partial last line; anything else is corruption.
                if number == len(lines):
                    break
                raise ValueError(f"{self.path}:{number} is not valid JSON") from None
        return records

    def truncate_after(self, step: int) -> None:
        """Drop records logged after ``step`` (atomically rewrites the file)."""
        kept = [r for r in self.records() if r["step"] <= step]
        atomic_write_bytes(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())

    def write_csv(self, path: str | os.PathLike) -> None:
        """Scalar values of every record as CSV (one column per key, blank where absent)."""
        records = self.records()
        columns: list[str] = []
        for record in records:
            columns += [k for k, v in record.items() if k not in columns and not isinstance(v, list)]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
        atomic_write_bytes(Path(path), buffer.getvalue().encode())
