"""The package installs as declared: every subpackage listed, `kernels/` only as `zoo.kernels`."""

import pathlib
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "zoo").rglob("__init__.py")
    }
    found |= {"zoo.kernels." + ".".join(p.parent.relative_to(ROOT / "kernels").parts) for p in (ROOT / "kernels").rglob("*/__init__.py")}
    found |= {"zoo.kernels", "zoo.pretrained"}  # mapped from the top-level kernels/ and pretrained/
    assert set(config["packages"]) == found
    assert config["package-dir"]["zoo.kernels"] == "kernels"


def test_kernels_install_as_a_zoo_subpackage_only():
    import importlib.metadata

    import zoo.kernels

    assert zoo.kernels.__spec__.name == "zoo.kernels"
    top_level = importlib.metadata.distribution("zoo").read_text("top_level.txt")
    if top_level is not None:  # absent from some editable installs
        assert top_level.split() == ["zoo"]


def test_cli_help_runs():
    result = subprocess.run([sys.executable, "-m", "zoo", "--help"], capture_output=True, text=True, check=True)
    assert "usage: zoo" in result.stdout
