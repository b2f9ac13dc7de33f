"""The package layout of docs/architecture.md stays true: import contracts, unique names, no giant package."""

import ast
import collections
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIBRARY = sorted([*ROOT.glob("zoo/**/*.py"), *ROOT.glob("kernels/**/*.py")])
# The hook every command module of zoo.cli defines and zoo.cli.main alone calls, by module.
PROTOCOL_NAMES = {"add_commands"}


def _package(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).parts
    if parts[0] == "kernels":
        return "kernels"
    return "zoo." + parts[1] if len(parts) > 2 else "zoo (top-level modules)"


def test_import_contracts_hold():
    lint_imports = pathlib.Path(sys.executable).parent / "lint-imports"
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed (pip install 'zoo[test]')")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_two_public_functions_or_classes_share_a_name():
    homes = collections.defaultdict(list)
    for path in LIBRARY:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                homes[node.name].append(str(path.relative_to(ROOT)))
    # A name defined twice in one file is a typing.overload, not a clash.
    clashes = {name: paths for name, paths in homes.items() if len(set(paths)) > 1 and name not in PROTOCOL_NAMES}
    assert clashes == {}


def test_no_package_holds_more_than_a_fifth_of_the_library():
    lines = collections.Counter()
    for path in LIBRARY:
        lines[_package(path)] += len(path.read_text().splitlines())
    total = sum(lines.values())
    too_big = {package: f"{n / total:.0%}" for package, n in lines.items() if n > total / 5}
    assert too_big == {}
    assert len(lines) >= 8  # the count covers every package, not a stray subset


def test_the_command_line_parser_imports_no_torch():
    """`zoo --help` stays fast: the command modules import the library inside their commands only."""
    check = "import sys; from zoo.cli.main import build_parser; build_parser(); assert 'torch' not in sys.modules, sorted(sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("argv", [["card"], ["demo", "--t-end", "3"], ["train", "--no-such-option"]])
def test_argument_errors_come_back_without_importing_torch(argv):
    """A command's own argument check, like argparse's, answers before the library loads."""
    check = (f"import sys; from zoo.cli.main import main\ntry: main({argv!r})\nexcept SystemExit as e: assert e.code, e; print(e.code, file=sys.stderr)\n"
             "assert 'torch' not in sys.modules")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"zoo {argv[0]}" in result.stderr
