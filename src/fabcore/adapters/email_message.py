"""A :class:`~fabcore.ports.mailer.Mail` as an RFC 5322 message, shared by the mail adapters."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from fabcore.ports.mailer import Mail

__all__ = ["build_message"]


def build_message(mail: Mail, date: datetime | None = None) -> EmailMessage:
    """A multipart/alternative message: the text part first, then the HTML part.

    Both parts are UTF-8, quoted-printable, so they pass any mail server
    (no 8BITMIME needed) and stay readable in a saved ``.eml``. The
    ``Message-ID`` is the mail's own, in angle brackets.
    """
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message_id = mail.message_id.strip()
    message["Message-ID"] = message_id if message_id.startswith("<") else f"<{message_id}>"
    # RFC 3834: tells auto-responders not to answer a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text, cte="quoted-printable")
    message.add_alternative(mail.html, subtype="html", cte="quoted-printable")
    return message
