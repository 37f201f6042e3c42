"""docs/statuses.md is generated; it must match the code."""

from __future__ import annotations

from pathlib import Path

from fabcore.app.rendering.status_doc import render_status_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "statuses.md"


def test_committed_status_doc_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_status_doc(), (
        "docs/statuses.md is out of date; regenerate it with "
        "`python -m fabcore.app.rendering.status_doc > docs/statuses.md`"
    )


def test_status_doc_has_diagram_triggers_and_mail_matrix() -> None:
    doc = render_status_doc()
    assert "```mermaid\n---\ntitle: Order statuses\n---\nstateDiagram-v2\n" in doc
    assert "Class " not in doc
    assert "| `accept_offer` | `firm_offer_sent` | `placed` | customer |" in doc
    assert "| `resume` | `on_hold` | the status held from | staff |" in doc
    assert ("| Firm offer sent (`firm_offer_sent`) | `customer_firm_offer` | "
            "`shop_status_changed` | yes | offer") in doc
    assert "| Unpaid | - | - | - | - |" in doc
