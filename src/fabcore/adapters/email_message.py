"""A :class:`~fabcore.ports.mailer.Mail` as the bytes of an RFC 5322 message.

Shared by the mail adapters. The message is multipart/alternative: the text
part first, then the HTML part, both UTF-8 and quoted-printable, so they pass
any mail server (no 8BITMIME needed) and stay readable in a saved ``.eml``.

The bytes are written here rather than by :mod:`email`'s generator, which
spends milliseconds per mail parsing the headers it was just given and
quoting the bodies character by character in Python; the bodies go through
:func:`binascii.b2a_qp` (C) and only the headers through :mod:`email.header`
(RFC 2047 words for text that is not ASCII, folded at 78 columns).
"""

from __future__ import annotations

import binascii
import functools
import secrets
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, getaddresses

from fabcore.ports.mailer import Mail

__all__ = ["message_bytes", "needs_utf8"]


def needs_utf8(mail: Mail) -> bool:
    """Whether an address of ``mail`` is not ASCII (its headers must then be UTF-8)."""
    values = [mail.sender, *mail.to, *mail.cc, *([mail.reply_to] if mail.reply_to else [])]
    return not all(address.isascii() for value in values for _, address in _parsed(value))


@functools.lru_cache(maxsize=4096)
def _parsed(value: str) -> tuple[tuple[str, str], ...]:
    # Parsing an address takes email.utils a tenth of a millisecond, and a shop
    # mails the same few senders and customers over and over.
    return tuple(getaddresses([value]))


def message_bytes(mail: Mail, date: datetime | None = None, *, linesep: str = "\r\n") -> bytes:
    """The message ``mail``, dated ``date`` (now), lines ending in ``linesep``.

    Headers are ASCII, with RFC 2047 words for text that is not, unless an
    address itself is not ASCII (:func:`needs_utf8`): then they are UTF-8, for
    a server that took ``SMTPUTF8``. The ``Message-ID`` is the mail's own, in
    angle brackets.
    """
    utf8 = needs_utf8(mail)
    message_id = mail.message_id.strip()
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    boundary = f"=_fabcore_{secrets.token_hex(12)}"
    headers = [
        _header("From", _addresses([mail.sender], utf8), utf8, addresses=True),
        _header("To", _addresses(mail.to, utf8), utf8, addresses=True),
    ]
    if mail.cc:
        headers.append(_header("Cc", _addresses(mail.cc, utf8), utf8, addresses=True))
    if mail.reply_to:
        headers.append(_header("Reply-To", _addresses([mail.reply_to], utf8), utf8,
                               addresses=True))
    headers += [
        _header("Subject", mail.subject, utf8),
        f"Date: {format_datetime(date or datetime.now(UTC))}",
        f"Message-ID: {_single_line(message_id)}",
        *([f"X-Request-ID: {_single_line(mail.request_id)}"] if mail.request_id else []),
        # RFC 3834: tells auto-responders not to answer a machine.
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative;\n boundary="{boundary}"',
    ]
    lines = [
        *headers,
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        _quoted_printable(mail.text),
        f"--{boundary}",
        'Content-Type: text/html; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        _quoted_printable(mail.html),
        f"--{boundary}--",
        "",
    ]
    return "\n".join(lines).replace("\n", linesep).encode("utf-8" if utf8 else "ascii")


def _single_line(value: str) -> str:
    # A header value never carries a line break of its own (no header injection).
    return " ".join(value.splitlines()) if "\n" in value or "\r" in value else value


def _addresses(values: list[str] | tuple[str, ...], utf8: bool) -> str:
    return ", ".join(_mailbox(name, address, utf8)
                     for value in values for name, address in _parsed(value))


def _mailbox(name: str, address: str, utf8: bool) -> str:
    if not utf8:
        return formataddr((name, address), charset="utf-8")
    if not name:
        return address
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


def _header(name: str, value: str, utf8: bool, *, addresses: bool = False) -> str:
    value = _single_line(value)
    if utf8 or addresses or value.isascii():
        return _folded(f"{name}: {value}")
    return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep="\n")


def _folded(line: str, width: int = 78) -> str:
    """``line`` broken before spaces into lines of at most ``width`` where words allow."""
    if len(line) <= width:
        return line
    lines: list[str] = []
    current = ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = " " + word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\n".join(lines)


def _quoted_printable(text: str) -> str:
    """The body in quoted-printable, ending in a line break (the boundary's own follows)."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    encoded = binascii.b2a_qp(body.encode("utf-8"), quotetabs=False, istext=True, header=False)
    return encoded.decode("ascii")
