"""The README's curl walkthrough of the three cases, run as written against ``fabcore serve``."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fabcore.entrypoints.web.serve import DEFAULT_OWNER
from http_server import OWNER_EMAIL, OWNER_PASSWORD, LiveServer, start_server

ROOT = Path(__file__).resolve().parents[2]
CUBE = ROOT / "tests" / "data" / "20mm-xyz-cube.stl"


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### The three cases with curl", 1)[1]
    found = re.search(r"```bash\n(.*?)```", section, re.S)
    assert found is not None, "no bash block in the curl walkthrough"
    return found.group(1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "server")
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("jq") is None,
                    reason="the walkthrough needs curl and jq")
def test_the_curl_walkthrough_runs_the_three_cases(server: LiveServer, tmp_path: Path) -> None:
    script = walkthrough()
    script = re.sub(r"(?m)^API=.*$", f"API={server.url}/api/v1", script, count=1)
    assert re.search(rf"(?m)^OWNER_EMAIL={re.escape(DEFAULT_OWNER)}$", script)
    script = re.sub(r"(?m)^OWNER_EMAIL=.*$", f"OWNER_EMAIL={OWNER_EMAIL}", script, count=1)
    script = re.sub(r"(?m)^OWNER_PASSWORD=.*$", f"OWNER_PASSWORD='{OWNER_PASSWORD}'", script,
                    count=1)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(CUBE, work / "part.stl")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "check your mail to confirm your address; you can sign in now"
    options = dict(line.split(": ") for line in lines if "/" in line and ": " in line)
    assert float(options["fdm/pla"]) > 0
    assert options["sheet/steel"] == "review"
    statuses = [line for line in lines[1:] if ": " not in line]
    # Case 1, case 2, then case 3: where staff may move the draft, the offer, the confirmation.
    assert statuses[:7] == ["placed", "ready_for_payment", "paid", "waiting_for_review",
                            "firm_offer_sent", "firm_offer", "placed"]
    assert {"placed", "waiting_for_review", "firm_offer_sent"} <= set(statuses[7:-2])
    assert statuses[-2:] == ["firm_offer_sent", "placed"]
    assert (work / "invoice.pdf").read_bytes().startswith(b"%PDF-")
