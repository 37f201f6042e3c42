"""A real SMTP server on 127.0.0.1 for tests: aiosmtpd in a thread, recording what it accepts.

Use the ``smtp_server`` fixture (registered by ``tests/conftest.py``) or build
an :class:`SmtpServer` for TLS or login. The port is fixed when the object is
made, so a test can stop the server (connections are refused) and start it
again at the same address. Faults are queued on :attr:`SmtpServer.handler`::

    smtp_server.handler.data_replies.extend(["451 4.3.0 try later"] * 3)
    smtp_server.handler.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections import Counter, deque
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, Self

import attrs
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["Received", "RecordingHandler", "SmtpServer", "free_port", "smtp_server"]

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@attrs.frozen
class Received:
    """One mail the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    tls: bool
    login: str | None
    #: The client's address and port: one per connection.
    peer: tuple[str, int]

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.content)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class RecordingHandler:
    """Accepts mail and records it, unless a queued reply says otherwise.

    ``data_replies`` answer the next DATA commands in order (one each), then
    mails are accepted again; ``rcpt_replies`` answer RCPT for an address on
    every attempt. ``data_peers`` lists the client address and port of every
    DATA command, accepted or not, and ``quits`` those of every QUIT.
    Thread-safe: the server runs in its own thread.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.data_replies: deque[str] = deque()
        self.rcpt_replies: dict[str, str] = {}
        self.rejected = 0
        self.data_peers: list[tuple[str, int]] = []
        self.quits: list[tuple[str, int]] = []

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        with self.lock:
            reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802  (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        peer = _peer(session)
        with self.lock:
            self.data_peers.append(peer)
            if self.data_replies:
                self.rejected += 1
                return self.data_replies.popleft()
            assert isinstance(envelope.content, bytes)
            auth = session.auth_data
            self.received.append(Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=envelope.content,
                tls=_over_tls(server),
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                peer=peer,
            ))
        return "250 OK queued"

    async def handle_QUIT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        with self.lock:
            self.quits.append(_peer(session))
        return "221 Bye"

    def message_ids(self) -> Counter[str]:
        """How often each Message-ID was accepted."""
        with self.lock:
            return Counter(item.message_id for item in self.received)


class SmtpServer:
    """aiosmtpd on ``127.0.0.1:port``; start and stop as often as needed.

    ``tls_context`` offers STARTTLS (``require_starttls`` refuses mail
    without it); ``implicit_tls`` speaks TLS from the first byte (SMTPS).
    ``credentials`` turns on AUTH and requires it; ``smtputf8`` offers
    SMTPUTF8 (non-ASCII addresses).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        implicit_tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
        smtputf8: bool = False,
    ) -> None:
        self.host = HOST
        self.port = port if port is not None else free_port()
        self.handler = RecordingHandler()
        self._options: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
        if tls_context is not None:
            self._options.update(tls_context=tls_context, require_starttls=require_starttls)
        if credentials is not None:
            # aiosmtpd counts only STARTTLS as TLS when it decides to offer AUTH.
            self._options.update(authenticator=_Authenticator(*credentials), auth_required=True,
                                 auth_require_tls=tls_context is not None)
        self._implicit_tls = implicit_tls
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(self.handler, hostname=self.host, port=self.port,
                                ssl_context=self._implicit_tls, server_hostname="fabcore.test",
                                **self._options)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _peer(session: Session) -> tuple[str, int]:
    # aiosmtpd types the peer loosely; over TCP it is (address, port).
    address: Any = session.peer
    return str(address[0]), int(address[1])


def _over_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


@attrs.frozen
class _Authenticator:
    login: str
    password: str

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any,
    ) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == self.login.encode()
              and auth_data.password == self.password.encode())
        if not ok:
            # handled=False: aiosmtpd answers 535 itself.
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server, running, stopped after the test."""
    with SmtpServer() as server:
        yield server
