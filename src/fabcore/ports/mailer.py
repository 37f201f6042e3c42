"""Mailer port and the rendered mail it sends."""

from __future__ import annotations

from typing import Protocol

import attrs


@attrs.frozen
class Mail:
    """A rendered e-mail, ready to hand to a mail server.

    ``message_id`` is derived from the outbox entry, so a mail sent twice
    after a crash carries the same Message-ID and can be recognised.
    ``link`` is the signed link the mail carries (a firm offer, a payment
    page), also in its text: programs open it with ``Fabcore.open_link``.
    ``request_id`` is that of the request that caused the mail (sent as
    ``X-Request-ID``), to find its log lines.
    """

    message_id: str
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    cc: tuple[str, ...] = ()
    reply_to: str | None = None
    link: str | None = None
    request_id: str | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc


class Mailer(Protocol):
    """Hands mails to a mail transport.

    Raise :class:`~fabcore.domain.errors.TemporaryDeliveryError` when a
    retry may succeed (connection refused, 4xx, disconnect) and
    :class:`~fabcore.domain.errors.PermanentDeliveryError` when it will not
    (5xx, rejected recipients). Return normally only once the transport has
    accepted the mail. :class:`fabcore.testing.mailer.MailerContract` holds
    an adapter to this behaviour.
    """

    def send(self, mail: Mail) -> None:
        """Deliver one mail or raise a ``DeliveryError``."""
        ...

    def check(self) -> None:
        """Return when the transport would take a mail now; sends nothing.

        Raise :class:`~fabcore.domain.errors.TemporaryDeliveryError` naming
        why not (a readiness probe asks this).
        """
        ...
