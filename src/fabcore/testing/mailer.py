"""Contract tests every ``Mailer`` adapter must pass.

Subclass :class:`MailerContract` in a pytest module and provide three
fixtures:

- ``mailer``: the adapter, delivering somewhere the test can read back;
- ``received``: a function returning everything that has arrived there so
  far, in any order, each as a :class:`~fabcore.ports.mailer.Mail`, an
  :class:`email.message.Message` or the bytes of a message;
- ``unreachable_mailer``: the adapter with its server down (or its folder
  unwritable). A subclass that cannot make one overrides the fixture with
  ``pytest.skip(reason)``, so the report says why the test did not run::

    class TestMyMailer(MailerContract):
        @pytest.fixture
        def mailer(self, my_server: MyServer) -> Mailer:
            return MyMailer(my_server.url)

        @pytest.fixture
        def received(self, my_server: MyServer) -> Inbox:
            return lambda: [item.raw_bytes for item in my_server.inbox()]

        @pytest.fixture
        def unreachable_mailer(self) -> Mailer:
            pytest.skip("the provider's API cannot be taken down in a test")

Mails are compared as a reader sees them (:class:`Arrived`): addresses
without display names, the subject, the text and the HTML part with line
endings as ``\\n`` and trailing newlines ignored, the Message-ID in angle
brackets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

import attrs
import pytest

from fabcore.domain.errors import TemporaryDeliveryError
from fabcore.ports.mailer import Mail, Mailer

__all__ = ["Arrived", "Inbox", "MailerContract"]

Inbox = Callable[[], Sequence[Mail | Message | bytes]]
"""Returns every mail that has arrived so far."""

TEXT = (
    "Guten Tag Frau Müller,\n\n"
    "Ihr Angebot über 1.234,50 € liegt bereit. Grüße aus Łódź 🛠\n"
)
HTML = "<p>Guten Tag Frau Müller,</p>\n<p>Ihr Angebot über <b>1.234,50 €</b> liegt bereit.</p>\n"


OFFER = Mail(
    message_id="<out-1@fabcore.test>",
    sender="Prüfstand GmbH <orders@shop.example>",
    to=("Zoë Brontë <zoe@example.com>", "anna.mueller@example.com"),
    cc=("billing@example.com",),
    reply_to="sales@shop.example",
    subject="Angebot 00042 für Müller: 1.234,50 €",
    text=TEXT,
    html=HTML,
)


def offer(message_id: str = OFFER.message_id, **changes: Any) -> Mail:
    """A mail with non-ASCII text everywhere a shop's mail has it."""
    return attrs.evolve(OFFER, message_id=message_id, **changes)


@attrs.frozen
class Arrived:
    """What a reader sees of a mail, however it was delivered."""

    message_id: str
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: str | None
    subject: str
    text: str
    html: str

    @classmethod
    def of(cls, item: Mail | Message | bytes) -> Arrived:
        if isinstance(item, Mail):
            return cls(
                message_id=_bracketed(item.message_id),
                sender=_address(item.sender),
                to=tuple(_address(a) for a in item.to),
                cc=tuple(_address(a) for a in item.cc),
                reply_to=_address(item.reply_to) if item.reply_to else None,
                subject=item.subject,
                text=_body(item.text),
                html=_body(item.html),
            )
        message = _parsed(item)
        text, html = message.get_body(("plain",)), message.get_body(("html",))
        reply_to = _addresses(message, "Reply-To")
        return cls(
            message_id=str(message["Message-ID"] or "").strip(),
            sender=next(iter(_addresses(message, "From")), ""),
            to=_addresses(message, "To"),
            cc=_addresses(message, "Cc"),
            reply_to=reply_to[0] if reply_to else None,
            subject=str(message["Subject"] or ""),
            text=_body(text.get_content()) if isinstance(text, EmailMessage) else "",
            html=_body(html.get_content()) if isinstance(html, EmailMessage) else "",
        )


def _parsed(item: Message | bytes) -> EmailMessage:
    if isinstance(item, EmailMessage) and isinstance(item.policy, policy.EmailPolicy):
        return item
    data = item if isinstance(item, bytes) else item.as_bytes()
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def _bracketed(message_id: str) -> str:
    found = message_id.strip()
    return found if found.startswith("<") else f"<{found}>"


def _address(address: str) -> str:
    return parseaddr(address)[1] or address


def _addresses(message: EmailMessage, header: str) -> tuple[str, ...]:
    values = [str(value) for value in message.get_all(header, [])]
    return tuple(address for _, address in getaddresses(values))


def _body(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n")


class MailerContract:
    """A sent mail arrives once, whole and readable; an outage is a temporary error."""

    @pytest.fixture
    def mailer(self) -> Mailer:
        raise NotImplementedError("a MailerContract subclass must provide a `mailer` fixture")

    @pytest.fixture
    def received(self) -> Inbox:
        raise NotImplementedError("a MailerContract subclass must provide a `received` fixture")

    @pytest.fixture
    def unreachable_mailer(self) -> Mailer:
        raise NotImplementedError(
            "a MailerContract subclass must provide an `unreachable_mailer` fixture, "
            "or override it with pytest.skip(reason)"
        )

    def arrived(self, received: Inbox) -> list[Arrived]:
        return [Arrived.of(item) for item in received()]

    def test_nothing_has_arrived_before_a_send(self, mailer: Mailer, received: Inbox) -> None:
        assert self.arrived(received) == []

    def test_a_mail_arrives_with_everything_a_reader_sees(
        self, mailer: Mailer, received: Inbox
    ) -> None:
        mail = offer()
        mailer.send(mail)
        [arrived] = self.arrived(received)
        assert arrived == Arrived.of(mail)
        assert arrived.to == ("zoe@example.com", "anna.mueller@example.com")
        assert arrived.cc == ("billing@example.com",)
        assert arrived.subject == "Angebot 00042 für Müller: 1.234,50 €"
        assert arrived.message_id == "<out-1@fabcore.test>"
        assert "Łódź 🛠" in arrived.text
        assert "<b>1.234,50 €</b>" in arrived.html

    def test_a_mail_without_cc_or_reply_to(self, mailer: Mailer, received: Inbox) -> None:
        mail = offer(cc=(), reply_to=None, to=("a@example.com",))
        mailer.send(mail)
        [arrived] = self.arrived(received)
        assert arrived == Arrived.of(mail)
        assert (arrived.to, arrived.cc, arrived.reply_to) == (("a@example.com",), (), None)

    def test_a_message_id_arrives_in_angle_brackets(
        self, mailer: Mailer, received: Inbox
    ) -> None:
        mailer.send(offer("out-2@fabcore.test"))
        [arrived] = self.arrived(received)
        assert arrived.message_id == "<out-2@fabcore.test>"

    def test_text_that_transports_mangle_arrives_intact(
        self, mailer: Mailer, received: Inbox
    ) -> None:
        lines = [
            ".", ".a line starting with a dot", "From the start of a line",
            "trailing spaces   ", "\ttabbed", "=3D is not an equals sign here",
            "x" * 1200, "a long line of words " * 60, "ünïcödé " * 150,
        ]
        text = "\n".join(lines) + "\n"
        html = "<pre>" + "\n".join(lines) + "</pre>\n"
        mailer.send(offer(text=text, html=html))
        [arrived] = self.arrived(received)
        assert arrived.text == text.rstrip("\n")
        assert arrived.html == html.rstrip("\n")

    def test_each_mail_arrives_once(self, mailer: Mailer, received: Inbox) -> None:
        ids = [f"<out-{n}@fabcore.test>" for n in range(1, 4)]
        for message_id in ids:
            mailer.send(offer(message_id, subject=f"Mail {message_id}"))
        arrived = self.arrived(received)
        assert sorted(a.message_id for a in arrived) == ids
        assert all(a.subject == f"Mail {a.message_id}" for a in arrived)

    def test_a_resend_arrives_again_with_the_same_message_id(
        self, mailer: Mailer, received: Inbox
    ) -> None:
        mailer.send(offer("<out-7@fabcore.test>"))
        mailer.send(offer("<out-7@fabcore.test>"))
        assert Counter(a.message_id for a in self.arrived(received)) == {
            "<out-7@fabcore.test>": 2}

    def test_a_mailer_that_cannot_deliver_raises_a_temporary_error(
        self, unreachable_mailer: Mailer
    ) -> None:
        with pytest.raises(TemporaryDeliveryError) as caught:
            unreachable_mailer.send(offer())
        assert str(caught.value)

    def test_a_check_sends_nothing(self, mailer: Mailer, received: Inbox) -> None:
        mailer.check()
        assert self.arrived(received) == []

    def test_a_check_of_a_mailer_that_cannot_deliver_says_why(
        self, unreachable_mailer: Mailer
    ) -> None:
        with pytest.raises(TemporaryDeliveryError) as caught:
            unreachable_mailer.check()
        assert str(caught.value)
