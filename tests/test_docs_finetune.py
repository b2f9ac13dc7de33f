"""The fine-tuning snippet of docs/finetune.md (pasted into the README) runs as written in a fresh shell.

Only the budget shrinks: fewer and shorter trajectories on a coarser grid, and one epoch.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "finetune.md"
TINY = {"--samples 16": "--samples 6", "--steps 19": "--steps 11 --resolution 32", "--data my.npy": "--data my.npy --epochs 1 --patience 1 --quiet"}


def first_bash_block(text: str) -> list[str]:
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def snippet() -> list[str]:
    return first_bash_block(DOC.read_text())


def test_the_snippet_is_five_lines_and_names_the_documented_command():
    lines = snippet()
    assert len(lines) == 5
    assert sum(line.startswith("zoo finetune --from fno-ns2d-nu1e-3 --data my.npy") for line in lines) == 2
    assert all(any(old in line for line in lines) for old in TINY)


def test_the_readme_shows_the_same_snippet():
    readme = (ROOT / "README.md").read_text()
    assert first_bash_block(readme[readme.index("## Fine-tune on your own data"):]) == snippet()


@pytest.mark.slow
def test_the_snippet_runs_in_a_fresh_shell(tmp_path):
    bin_dir = str(Path(sys.executable).parent)  # where `zoo` and `python` of this environment live
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    outputs = []
    for line in snippet():
        for old, new in TINY.items():
            line = line.replace(old, new)
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
        outputs.append(done.stdout)
    metrics = json.loads(outputs[3])
    assert metrics["data"]["file"] == "my.npy" and metrics["data"]["shape"] == [6, 12, 1, 32, 32]
    assert "finetuned one-step" in outputs[2] and "scratch   one-step" in outputs[2]
    assert "AutoregressiveOperator" in outputs[4]
    assert (tmp_path / "zoo-finetune-my" / "scratch" / "model" / "README.md").is_file()
