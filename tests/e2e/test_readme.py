"""The README's Python examples run exactly as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PART = ROOT / "tests" / "data" / "20mm-xyz-cube.stl"
PART_3MF = ROOT / "tests" / "data" / "pyramids.3mf"
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), re.S)


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_readme_example_runs(number: int, tmp_path: Path) -> None:
    shutil.copyfile(PART, tmp_path / "part.stl")
    shutil.copyfile(PART_3MF, tmp_path / "part.3mf")
    script = tmp_path / f"example_{number}.py"
    script.write_text(BLOCKS[number], "utf-8")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    if "print(" in BLOCKS[number]:
        assert done.stdout.strip(), "an example prints what it shows"
