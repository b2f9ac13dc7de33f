"""The speed scripts run end to end on CPU at tiny sizes, so they are known to work before a GPU
lease (their timings are not asserted: speed lives in benchmarks/ and BENCHMARKS.md). Each takes
about 10-30 s of CPU (minutes of wall time on the shared machine), so they are marked slow:
``pytest -m slow tests/test_speed_benchmarks.py`` before a GPU lease."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT / "benchmarks",
                   capture_output=True, text=True, check=True, timeout=900)


@pytest.mark.slow
def test_gpu_suite_smoke_on_cpu(tmp_path):
    prefix = tmp_path / "gpu_suite"
    run("gpu_suite.py", "--smoke", "--output", str(prefix))
    records = json.loads(prefix.with_suffix(".json").read_text())["records"]
    layers = {r["impl"]: r for r in records if r["section"] == "spectral layer"}
    assert all(layers[impl]["ms"] > 0 for impl in ("unfused", "fft", "dft", "dft-bf16"))
    assert "not a CUDA device" in layers["triton"]["skipped"]
    steps = [r for r in records if r["section"] == "training step"]
    assert {r["model"] for r in steps} == {"zoo FNO", "reference FNO", "zoo transformer"}
    assert all("ms" in r for r in steps)  # no errors: every model trains, eager and compiled, fp32 and bf16
    rollouts = [r for r in records if r["section"] == "rollout"]
    assert {r["precision"] for r in rollouts} == {"fp32", "bf16"} and all(r["relative_l2"] < 1 for r in rollouts)
    assert "| zoo FNO | 2 | 16 | bf16 | True |" in prefix.with_suffix(".md").read_text()


@pytest.mark.slow
def test_mixed_precision_benchmark_smoke_on_cpu(tmp_path):
    prefix = tmp_path / "mixed"
    run("mixed_precision.py", "--quick", "--output", str(prefix))
    results = json.loads(prefix.with_suffix(".json").read_text())
    # (at these tiny sizes the bf16 copies of the weights outweigh the halved activations: no
    # saving is expected, only that both were counted)
    assert results["memory"]["bf16 bytes"] > 0 and results["memory"]["fp32 bytes"] > 0
    assert results["speed"]["fp32 ms"] > 0 and results["speed"]["bf16 ms"] > 0
