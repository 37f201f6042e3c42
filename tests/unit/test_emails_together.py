"""The mails of one event rendered together: the same mails as one by one, shared work done once."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from document_builders import customer, order, quote, shop, status_changed

from fabcore.app.rendering.emails import MailRenderer
from fabcore.domain.notifications import MailIntent, mails_for
from fabcore.domain.status import OrderStatus, Trigger
from fabcore.ports.mailer import Mail

S = OrderStatus


def _intents(note: str | None = None) -> list[MailIntent]:
    event = status_changed(S.MANUFACTURING, S.ON_HOLD, Trigger.HOLD, note=note)
    return mails_for(event, order(S.ON_HOLD), customer(), shop())


def _together(renderer: MailRenderer, intents: list[MailIntent]) -> list[Mail]:
    return renderer.render_all([(i, None, f"<{i.template}@test>") for i in intents],
                               order=order(S.ON_HOLD), customer=customer(), shop=shop(),
                               quote=quote(order(S.ON_HOLD)))


def _one_by_one(renderer: MailRenderer, intents: list[MailIntent]) -> list[Mail]:
    return [renderer.render(i, order=order(S.ON_HOLD), customer=customer(), shop=shop(),
                            link_url=None, message_id=f"<{i.template}@test>",
                            quote=quote(order(S.ON_HOLD)))
            for i in intents]


def _override(folder: Path, files: dict[str, str]) -> MailRenderer:
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return MailRenderer({"shop-1": folder})


def test_together_gives_the_mails_one_by_one_gives() -> None:
    intents = _intents(note="waiting for resin")
    assert len(intents) == 2
    renderer = MailRenderer()
    assert _together(renderer, intents) == _one_by_one(renderer, intents)
    assert all("Reason: waiting for resin" in m.text for m in _together(renderer, intents))


def test_the_partials_of_a_status_change_are_rendered_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renderer = MailRenderer()
    rendered: list[str] = []
    real = MailRenderer._render

    def counting(self: MailRenderer, env: jinja2.Environment, name: str, shop_id: str,
                 context: dict[str, object]) -> str:
        rendered.append(name)
        return real(self, env, name, shop_id, context)

    monkeypatch.setattr(MailRenderer, "_render", counting)
    _together(renderer, _intents(note="waiting for resin"))
    for partial in ("_note.txt", "_note.html", "_order_details.txt", "_order_details.html"):
        assert rendered.count(partial) == 1, partial


def test_a_partial_naming_the_recipient_is_rendered_for_each(tmp_path: Path) -> None:
    renderer = _override(tmp_path / "shop-1", {
        "_order_details.txt": "Details for the {{ recipient }}: {{ details.number }}\n",
    })
    mails = _together(renderer, _intents())
    assert "Details for the customer: 2026-0001" in mails[0].text
    assert "Details for the shop: 2026-0001" in mails[1].text
    assert mails == _one_by_one(renderer, _intents())


def test_a_partial_that_includes_another_is_rendered_for_each(tmp_path: Path) -> None:
    renderer = _override(tmp_path / "shop-1", {
        "_note.txt": '{% include "_greeting_line.txt" %}',
        "_greeting_line.txt": "Mail for the {{ recipient }}.\n",
    })
    mails = _together(renderer, _intents())
    assert "Mail for the customer." in mails[0].text
    assert "Mail for the shop." in mails[1].text


def test_a_layout_that_still_includes_the_partials_works(tmp_path: Path) -> None:
    renderer = _override(tmp_path / "shop-1", {
        "base.txt": ('{% block body %}{% endblock %}\n{% include "_note.txt" %}\n'
                     '{% include "_order_details.txt" %}\n'),
    })
    mails = _together(renderer, _intents(note="waiting for resin"))
    assert "Reason: waiting for resin" in mails[0].text
    assert "Order 2026-0001" in mails[0].text
    assert mails == _one_by_one(renderer, _intents(note="waiting for resin"))
