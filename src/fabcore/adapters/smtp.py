"""SMTP mailer on the standard library's ``smtplib``.

Connections are kept for the next mail: after a send, the connection waits
(at most ``keep_alive`` seconds, at most :data:`MAX_KEPT` of them) for the
next one, which first checks it with ``NOOP`` and opens a new one if the
server has let it go. A relay sending ten mails greets, negotiates TLS and
logs in once, not ten times. A connection is let go after
:data:`MAILS_PER_CONNECTION` mails or :data:`CONNECTION_LIFETIME` seconds,
as mail services ask (some refuse more mails on one connection, others
replace the machines behind their address). Any error closes the connection
it happened on. Threads share one instance safely (each connection serves
one mail at a time); a process forked from another never uses its parent's
connections. ``keep_alive=0`` opens a connection per mail.
:meth:`SmtpMailer.close` says QUIT on the kept connections.

Errors map to the port's contract (see :func:`delivery_error`):

- no connection, a timeout, a TLS failure, a disconnect (any ``OSError``)
  or a greeting other than 220: temporary;
- any other 4xx reply (to EHLO, AUTH, MAIL, RCPT or DATA): temporary; a 5xx
  reply: permanent. A refused login says to check the username and password;
- the server lacks STARTTLS, AUTH or a login mechanism the client can use:
  permanent, as the configuration and the server disagree;
- every recipient refused: temporary when any refusal is 4xx (a retry may
  still reach that one), otherwise permanent;
- some recipients refused: the mail counts as sent, because the server
  accepted it for the others and a resend would reach them twice. The
  refusals are logged as a warning.

Only an error before the server accepted the mail is reported; a failing
QUIT afterwards is ignored, so an accepted mail is never sent again for it.
A kept connection the server has closed meanwhile fails its ``NOOP``
before anything of the next mail is sent, so that mail goes over a new
connection instead.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Literal, cast, get_args
from urllib.parse import parse_qsl, unquote, urlsplit

from fabcore.adapters.email_message import message_bytes, needs_utf8
from fabcore.domain.errors import (
    ConfigurationError,
    DeliveryError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from fabcore.ports.mailer import Mail

__all__ = ["CONNECTION_LIFETIME", "MAILS_PER_CONNECTION", "MAX_KEPT", "Security", "SmtpMailer",
           "delivery_error"]

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "ssl"]
_SECURITY: tuple[str, ...] = get_args(Security)
_DEFAULT_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "ssl": 465}
_URL_OPTIONS = frozenset({"security", "timeout", "local_hostname", "keep_alive"})

#: Idle connections one mailer keeps at most (one per relay sending at once).
MAX_KEPT = 4
#: Mails one connection carries at most before it is closed.
MAILS_PER_CONNECTION = 50
#: Seconds after it was opened that a connection is closed rather than kept.
CONNECTION_LIFETIME = 300.0


@dataclass
class _Session:
    """An open connection, and what it has done so far."""

    connection: smtplib.SMTP
    opened: float
    pid: int
    mails: int = 0
    last_used: float = 0.0


class SmtpMailer:
    """Sends mails over SMTP, keeping connections for the next mail (see the module docstring).

    ``port`` defaults to 25, 587 or 465 for ``security`` ``"none"``,
    ``"starttls"`` or ``"ssl"`` (implicit TLS). ``ssl_context`` defaults to
    :func:`ssl.create_default_context` (certificate and host name checked).
    The envelope recipients are the mail's To and Cc addresses.
    ``keep_alive`` is how long (seconds) a connection waits for the next mail.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: Security = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        keep_alive: float = 30.0,
    ) -> None:
        if not host:
            raise ConfigurationError("mail: SMTP host is empty")
        security = _security(security)
        if port is not None and not 0 < port < 65536:
            raise ConfigurationError(f"mail: SMTP port out of range: {port}")
        if (username is None) != (password is None):
            raise ConfigurationError("mail: SMTP login needs both a username and a password")
        if not timeout > 0:
            raise ConfigurationError(f"mail: SMTP timeout must be positive, got {timeout}")
        if not keep_alive >= 0:
            raise ConfigurationError(f"mail: SMTP keep_alive must be 0 or more, got {keep_alive}")
        self.host = host
        self.port = port if port is not None else _DEFAULT_PORTS[security]
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self.local_hostname = local_hostname
        if ssl_context is None and security != "none":
            ssl_context = ssl.create_default_context()
        self._ssl_context = ssl_context
        self.keep_alive = keep_alive
        self._lock = threading.Lock()
        # Idle connections, the latest last.
        self._kept: list[_Session] = []

    @classmethod
    def from_url(cls, url: str, *, ssl_context: ssl.SSLContext | None = None) -> SmtpMailer:
        """``smtp://[user:password@]host[:port][?security=starttls&timeout=10&keep_alive=30]``.

        ``local_hostname`` (the name given in EHLO) may be set in the query too.

        ``smtps://`` means ``security=ssl``. User and password are
        percent-decoded. Anything malformed raises ``ConfigurationError``
        (without repeating the password).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigurationError(f"mail: not an smtp:// or smtps:// URL: {parts.scheme!r}")
        shown = f"{parts.scheme}://{parts.hostname or ''}"
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError(f"mail: bad port in {shown}: {exc}") from exc
        if not parts.hostname:
            raise ConfigurationError(f"mail: no host in {parts.scheme}:// URL")
        if parts.path not in ("", "/") or parts.fragment:
            raise ConfigurationError(f"mail: {shown} takes no path or fragment")
        try:
            options = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True))
        except ValueError as exc:
            raise ConfigurationError(f"mail: bad query in {shown}: {exc}") from exc
        unknown = sorted(set(options) - _URL_OPTIONS)
        if unknown:
            raise ConfigurationError(
                f"mail: unknown option(s) {', '.join(unknown)} in {shown} "
                f"(supported: {', '.join(sorted(_URL_OPTIONS))})"
            )
        security = options.get("security", "ssl" if parts.scheme == "smtps" else "none")
        if parts.scheme == "smtps" and security != "ssl":
            raise ConfigurationError(f"mail: smtps:// is implicit TLS, got security={security}")
        try:
            timeout = float(options.get("timeout", "10"))
            keep_alive = float(options.get("keep_alive", "30"))
        except ValueError as exc:
            raise ConfigurationError(
                f"mail: timeout or keep_alive is not a number in {shown}"
            ) from exc
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        if username is not None and password is None:
            raise ConfigurationError(f"mail: {shown} has a user but no password")
        return cls(
            parts.hostname,
            port,
            security=_security(security),
            username=username,
            password=password,
            timeout=timeout,
            local_hostname=options.get("local_hostname") or None,
            ssl_context=ssl_context,
            keep_alive=keep_alive,
        )

    def __repr__(self) -> str:
        user = f", username={self.username!r}" if self.username is not None else ""
        return (f"SmtpMailer({self.host!r}, {self.port}, security={self.security!r}{user}, "
                f"timeout={self.timeout}, keep_alive={self.keep_alive})")

    @property
    def _where(self) -> str:
        return f"SMTP {self.host}:{self.port}"

    def send(self, mail: Mail) -> None:
        """Hand ``mail`` to the server; ``DeliveryError`` when it did not accept it."""
        sender = parseaddr(mail.sender)[1] or mail.sender
        recipients = [parseaddr(address)[1] or address for address in mail.recipients]
        session = self._kept_session()
        try:
            if session is None:
                session = _Session(self._connect(), time.monotonic(), os.getpid())
            refused = _transmit(session.connection, mail, sender, recipients)
        except BaseException as exc:
            # Whatever state the session is in now, it is not reused.
            if session is not None:
                _close_quietly(session.connection)
            if isinstance(exc, smtplib.SMTPException | OSError):
                raise delivery_error(exc, self._where) from exc
            raise
        session.mails += 1
        self._keep(session)
        if refused:
            log.warning("%s: %s accepted for some recipients only; refused: %s", self._where,
                        mail.message_id, _refusals(refused))

    def check(self) -> None:
        """Connect, greet (with TLS and login as configured) and say NOOP; nothing is sent."""
        try:
            connection = self._connect()
            try:
                code, reply = connection.noop()
            finally:
                _close_quietly(connection)
        except (smtplib.SMTPException, OSError) as exc:
            raise delivery_error(exc, self._where) from exc
        if code != 250:
            raise TemporaryDeliveryError(f"{self._where} answered NOOP with {code} "
                                         f"{_text(reply)}")

    def close(self) -> None:
        """Say QUIT on the connections kept for the next mail; a later send opens a new one."""
        with self._lock:
            kept, self._kept = self._kept, []
        for session in kept:
            if session.pid == os.getpid():
                _close_quietly(session.connection)

    def _kept_session(self) -> _Session | None:
        """The latest kept connection the server still answers on, or None."""
        while True:
            with self._lock:
                if not self._kept:
                    return None
                session = self._kept.pop()
            if session.pid != os.getpid():
                # The parent process's connection: leave it to the parent.
                continue
            if time.monotonic() - session.last_used > self.keep_alive:
                _close_quietly(session.connection)
                continue
            try:
                if session.connection.noop()[0] == 250:
                    return session
            except (smtplib.SMTPException, OSError):
                pass
            _close_quietly(session.connection)

    def _keep(self, session: _Session) -> None:
        now = time.monotonic()
        if (self.keep_alive > 0 and session.mails < MAILS_PER_CONNECTION
                and now - session.opened < CONNECTION_LIFETIME):
            session.last_used = now
            with self._lock:
                if len(self._kept) < MAX_KEPT:
                    self._kept.append(session)
                    return
        _close_quietly(session.connection)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=self.local_hostname,
                timeout=self.timeout, context=self._ssl_context,
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname,
                                      timeout=self.timeout)
        try:
            if self.security == "starttls":
                connection.ehlo()
                connection.starttls(context=self._ssl_context)
                connection.ehlo()
            if self.username is not None and self._password is not None:
                connection.login(self.username, self._password)
        except BaseException:
            _close_quietly(connection)
            raise
        return connection


def _transmit(
    connection: smtplib.SMTP, mail: Mail, sender: str, recipients: list[str]
) -> dict[str, tuple[int, bytes]]:
    """Send ``mail``; non-ASCII addresses need the server's SMTPUTF8 (UTF-8 headers then)."""
    options: tuple[str, ...] = ()
    if needs_utf8(mail) or not all(address.isascii() for address in (sender, *recipients)):
        connection.ehlo_or_helo_if_needed()
        if not connection.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "a sender or recipient address is not ASCII and the server does not "
                "offer SMTPUTF8")
        options = ("SMTPUTF8", "BODY=8BITMIME")
    return connection.sendmail(sender, recipients, message_bytes(mail), options)


def _security(value: str) -> Security:
    if value not in _SECURITY:
        raise ConfigurationError(
            f"mail: SMTP security must be one of {', '.join(_SECURITY)}, got {value!r}"
        )
    return cast(Security, value)


def _close_quietly(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        connection.close()


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{address}: {code} {_text(reply)}"
                     for address, (code, reply) in refused.items())


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _by_code(code: int, message: str) -> DeliveryError:
    if 500 <= code < 600:
        return PermanentDeliveryError(message)
    return TemporaryDeliveryError(message)


def delivery_error(exc: smtplib.SMTPException | OSError, where: str) -> DeliveryError:
    """The port's error for an ``smtplib`` or socket error (rules in the module docstring)."""
    if isinstance(exc, smtplib.SMTPConnectError):
        return TemporaryDeliveryError(
            f"{where} did not greet: {exc.smtp_code} {_text(exc.smtp_error)}"
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _by_code(
            exc.smtp_code,
            f"{where} refused the login: {exc.smtp_code} {_text(exc.smtp_error)} "
            "(check the SMTP username and password)",
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        text = f"{where} refused every recipient: {_refusals(exc.recipients)}"
        if any(400 <= code < 500 for code in codes):
            return TemporaryDeliveryError(text)
        return PermanentDeliveryError(text)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code,
                        f"{where} replied {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryDeliveryError(f"{where} disconnected: {exc}")
    if isinstance(exc, smtplib.SMTPException):
        # STARTTLS, AUTH or SMTPUTF8 missing, or no usable login mechanism:
        # the configuration and the server disagree; a retry sees the same.
        return PermanentDeliveryError(f"{where}: {exc} (check the mail configuration)")
    return TemporaryDeliveryError(f"{where}: connection failed: {type(exc).__name__}: {exc}")
