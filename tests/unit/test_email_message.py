"""The bytes of a mail, read back by the standard library's parser, say what the mail said."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import formataddr, getaddresses

from hypothesis import given
from hypothesis import strategies as st

from fabcore.adapters.email_message import message_bytes
from fabcore.ports.mailer import Mail

DATE = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

# Anything a template or a customer's name can hold, line breaks included.
texts = st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                         max_size=30) | st.sampled_from(
    ["\n", "\r\n", "\r", "\t", " ", "From ", ".", "=", "--", "x" * 90]), max_size=20).map("".join)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
                max_size=40)
addresses = st.from_regex(r"[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,20}\.example", fullmatch=True)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage, kind: str) -> str:
    """The part's text, line breaks as ``\\n`` (the parser keeps the wire's CRLF)."""
    part = message.get_body((kind,))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def expected_body(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def names_and_addresses(data: bytes, header: str) -> list[tuple[str, str]]:
    """The header's mailboxes, names decoded (split before decoding, as RFC 2047 wants)."""
    raw = email.message_from_bytes(data, policy=policy.compat32)
    return [(str(make_header(decode_header(name))), address)
            for name, address in getaddresses(raw.get_all(header, []))]


def decoded(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(str(make_header(decode_header(name))), address) for name, address in pairs]


@given(text=texts, html=texts, subject=texts, sender_name=names, to=st.lists(
    st.tuples(names, addresses), min_size=1, max_size=6))
def test_what_is_written_reads_back(
    text: str, html: str, subject: str, sender_name: str, to: list[tuple[str, str]]
) -> None:
    mail = Mail(message_id="m1.abc@shop.example",
                sender=formataddr((sender_name, "no@shop.example")),
                to=tuple(formataddr(pair) for pair in to), subject=subject, text=text, html=html)
    data = message_bytes(mail, DATE)
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    message = parse(data)
    assert body(message, "plain") == expected_body(text)
    assert body(message, "html") == expected_body(html)
    # Parsers drop the blanks around a header's value; line breaks became spaces.
    assert str(message["Subject"]).strip() == " ".join(subject.splitlines()).strip()
    assert names_and_addresses(data, "To") == decoded(getaddresses(list(mail.to)))
    assert names_and_addresses(data, "From") == decoded(getaddresses([mail.sender]))
    assert message["Message-ID"] == "<m1.abc@shop.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_display_names_and_subjects_keep_their_letters() -> None:
    mail = Mail("<x@y.example>", "Fräse & Söhne — Teile <no@shop.example>",
                ("Åsa Öberg <asa@example.com>", "plain@example.com"),
                "Angebot für Ihre Bestellung #1042 — gültig bis 14.12.", "Grüße\n", "<p>Grüße</p>",
                cc=("Zoë <zoe@example.com>",), reply_to="Werkstatt <shop@shop.example>")
    message = parse(message_bytes(mail, DATE))
    assert str(message["Subject"]) == mail.subject
    assert getaddresses([str(message["From"])]) == [("Fräse & Söhne — Teile", "no@shop.example")]
    assert getaddresses([str(message["To"])]) == [("Åsa Öberg", "asa@example.com"),
                                                   ("", "plain@example.com")]
    assert getaddresses([str(message["Cc"])]) == [("Zoë", "zoe@example.com")]
    assert getaddresses([str(message["Reply-To"])]) == [("Werkstatt", "shop@shop.example")]
    assert message["Date"].datetime == DATE


def test_long_lines_are_folded_and_soft_broken() -> None:
    words = " ".join(f"word{i}" for i in range(60))
    mail = Mail("<x@y.example>", "no@shop.example",
                tuple(f"customer{i}@example.com" for i in range(12)), words, words, words)
    data = message_bytes(mail, DATE)
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    message = parse(data)
    assert str(message["Subject"]) == words
    assert body(message, "plain") == words + "\n"
    assert len(getaddresses([str(message["To"])])) == 12


def test_a_line_break_in_a_header_cannot_add_a_header() -> None:
    mail = Mail("<x@y.example>", "no@shop.example", ("a@example.com",),
                "Hello\r\nBcc: victim@example.com", "t", "h")
    message = parse(message_bytes(mail, DATE))
    assert message["Bcc"] is None
    assert str(message["Subject"]) == "Hello Bcc: victim@example.com"


def test_utf8_headers_for_servers_that_take_smtputf8() -> None:
    mail = Mail("<x@y.example>", "Fräse <no@shop.example>", ("jörg@bücher.example",),
                "Grüße", "t", "h")
    data = message_bytes(mail, DATE)
    assert "To: jörg@bücher.example".encode() in data
    assert "Subject: Grüße".encode() in data
    message = email.message_from_bytes(data, policy=policy.SMTPUTF8)
    assert str(message["Subject"]) == "Grüße"


def test_files_get_plain_line_breaks() -> None:
    mail = Mail("<x@y.example>", "no@shop.example", ("a@example.com",), "s", "a\nb", "<p>h</p>")
    data = message_bytes(mail, DATE, linesep="\n")
    assert b"\r" not in data
    assert body(parse(data), "plain") == "a\nb\n"
