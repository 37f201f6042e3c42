"""Every environment variable the code reads is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_fabcore_variable_is_in_the_readme() -> None:
    read = {name for path in (ROOT / "src" / "fabcore").rglob("*.py")
            for name in re.findall(r"\bFABCORE_[A-Z_]*[A-Z]\b", path.read_text("utf-8"))}
    readme = (ROOT / "README.md").read_text("utf-8")
    assert {"FABCORE_JOBS", "FABCORE_WORKER_STALLED_S", "FABCORE_LOG_FORMAT"} <= read
    assert sorted(name for name in read if f"`{name}`" not in readme
                  and f"{name}=" not in readme and f"{name}," not in readme) == []
