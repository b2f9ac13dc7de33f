"""Shared fixtures: the examples under ``examples/`` are scripts, imported here by file name; one torch thread."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def example():
    """``example("finetune_regime")`` imports ``examples/finetune_regime.py`` (and its ``common``)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield lambda name: importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest on one thread, and the test machine is shared (``pytestmark`` it)."""
    from train_problems import one_thread

    with one_thread():
        yield
