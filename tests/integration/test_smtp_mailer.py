"""The SMTP and Maildir mailers against a real SMTP server on 127.0.0.1 and a real folder."""

from __future__ import annotations

import email
import logging
import mailbox
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme

from fabcore.adapters import smtp
from fabcore.adapters.maildir import MaildirMailer
from fabcore.adapters.smtp import MAILS_PER_CONNECTION, SmtpMailer
from fabcore.app.bootstrap import bootstrap
from fabcore.domain.errors import PermanentDeliveryError, TemporaryDeliveryError
from fabcore.ports.mailer import Mail
from fabcore.testing.repositories import run_threads
from smtp_server import HOST, SmtpServer, free_port

TEXT = "Guten Tag Frau Müller,\n\nIhr Angebot über 1.234,50 € liegt bereit.\n"
HTML = "<p>Guten Tag Frau Müller,</p><p>Ihr Angebot über <b>1.234,50 €</b> liegt bereit.</p>"


def offer_mail(message_id: str = "<out-1@fabcore>", **changes: object) -> Mail:
    fields: dict[str, object] = {
        "message_id": message_id,
        "sender": "orders@shop.example",
        "to": ("anna.mueller@example.com",),
        "cc": ("billing@example.com",),
        "subject": "Angebot FC-1001 für Müller: 1.234,50 €",
        "text": TEXT,
        "html": HTML,
        "reply_to": "sales@shop.example",
    }
    fields.update(changes)
    return Mail(**fields)  # type: ignore[arg-type]


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    # Over SMTP lines end in CRLF; in a file in LF.
    return (str(text.get_content()).replace("\r\n", "\n"),
            str(html.get_content()).replace("\r\n", "\n"))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_mail_arrives_with_recipients_headers_and_both_parts(smtp_server: SmtpServer) -> None:
    SmtpMailer(HOST, smtp_server.port).send(offer_mail())

    [received] = smtp_server.handler.received
    assert received.mail_from == "orders@shop.example"
    assert received.rcpt_tos == ("anna.mueller@example.com", "billing@example.com")
    message = received.message
    assert message["From"] == "orders@shop.example"
    assert message["To"] == "anna.mueller@example.com"
    assert message["Cc"] == "billing@example.com"
    assert message["Reply-To"] == "sales@shop.example"
    assert message["Subject"] == "Angebot FC-1001 für Müller: 1.234,50 €"
    assert message["Message-ID"] == "<out-1@fabcore>"
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"
    assert parts(message) == (TEXT, HTML + "\n")
    assert not received.tls
    assert received.login is None


def test_without_cc_only_the_to_addresses_receive_it(smtp_server: SmtpServer) -> None:
    mail = offer_mail(to=("a@example.com", "b@example.com"), cc=(), reply_to=None)

    SmtpMailer(HOST, smtp_server.port).send(mail)

    [received] = smtp_server.handler.received
    assert received.rcpt_tos == ("a@example.com", "b@example.com")
    assert received.message["To"] == "a@example.com, b@example.com"
    assert received.message["Cc"] is None
    assert received.message["Reply-To"] is None


def test_a_resend_carries_the_same_message_id(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port)
    mailer.send(offer_mail("<out-7@fabcore>"))
    mailer.send(offer_mail("<out-7@fabcore>"))

    assert smtp_server.handler.message_ids() == {"<out-7@fabcore>": 2}


def test_a_body_line_starting_with_from_is_not_mangled(smtp_server: SmtpServer) -> None:
    # smtplib's send_message writes it as ">From " (CPython issue 89462).
    text = "Hello,\nFrom now on your order ships weekly.\n"
    SmtpMailer(HOST, smtp_server.port).send(offer_mail(text=text))

    [received] = smtp_server.handler.received
    assert parts(received.message)[0] == text


def test_a_non_ascii_address_goes_over_smtputf8() -> None:
    with SmtpServer(smtputf8=True) as server:
        SmtpMailer(HOST, server.port).send(offer_mail(to=("zoë@example.com",), cc=()))

    [received] = server.handler.received
    assert received.rcpt_tos == ("zoë@example.com",)
    assert received.message["To"] == "zoë@example.com"
    assert parts(received.message) == (TEXT, HTML + "\n")


def test_a_non_ascii_address_without_smtputf8_is_permanent(smtp_server: SmtpServer) -> None:
    with pytest.raises(PermanentDeliveryError, match="SMTPUTF8"):
        SmtpMailer(HOST, smtp_server.port).send(offer_mail(to=("zoë@example.com",)))
    assert smtp_server.handler.received == []


def test_starttls_and_login(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    server = SmtpServer(tls_context=server_tls, require_starttls=True,
                        credentials=("shop", "s3cret:/@"))
    mailer = SmtpMailer(HOST, server.port, security="starttls", username="shop",
                        password="s3cret:/@", ssl_context=client_tls)
    with server:
        mailer.send(offer_mail())

    [received] = server.handler.received
    assert received.tls
    assert received.login == "shop"
    assert parts(received.message) == (TEXT, HTML + "\n")


# aiosmtpd does not count implicit TLS as TLS and warns about AUTH without it.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_from_a_url(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    server = SmtpServer(implicit_tls=server_tls, credentials=("shop@x", "pa ss"))
    mailer = SmtpMailer.from_url(f"smtps://shop%40x:pa%20ss@{HOST}:{server.port}?timeout=5",
                                 ssl_context=client_tls)
    with server:
        mailer.send(offer_mail())

    [received] = server.handler.received
    assert received.tls
    assert received.login == "shop@x"


def test_a_refused_login_is_permanent_and_names_the_cause(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = SmtpServer(tls_context=server_tls, credentials=("shop", "right"))
    mailer = SmtpMailer(HOST, server.port, security="starttls", username="shop",
                        password="wrong-password", ssl_context=client_tls)
    with server, pytest.raises(PermanentDeliveryError, match="username and password") as caught:
        mailer.send(offer_mail())

    assert "535" in str(caught.value)
    assert "wrong-password" not in str(caught.value)
    assert server.handler.received == []


def test_starttls_required_but_not_offered_is_permanent(
    smtp_server: SmtpServer, client_tls: ssl.SSLContext
) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port, security="starttls", ssl_context=client_tls)

    with pytest.raises(PermanentDeliveryError, match="STARTTLS"):
        mailer.send(offer_mail())
    assert smtp_server.handler.received == []


def test_an_untrusted_certificate_sends_nothing(server_tls: ssl.SSLContext) -> None:
    server = SmtpServer(tls_context=server_tls)
    mailer = SmtpMailer(HOST, server.port, security="starttls")  # system trust store only

    with server, pytest.raises(TemporaryDeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        mailer.send(offer_mail())
    assert server.handler.received == []


@pytest.mark.parametrize("reply", ["451 4.3.0 try again later", "421 4.3.2 shutting down"])
def test_a_4xx_reply_to_data_is_temporary(smtp_server: SmtpServer, reply: str) -> None:
    smtp_server.handler.data_replies.append(reply)

    with pytest.raises(TemporaryDeliveryError, match=reply[:3]):
        SmtpMailer(HOST, smtp_server.port).send(offer_mail())
    assert smtp_server.handler.received == []


def test_a_5xx_reply_to_data_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.handler.data_replies.append("554 5.7.1 message rejected as spam")

    with pytest.raises(PermanentDeliveryError, match=r"554 5\.7\.1 message rejected as spam"):
        SmtpMailer(HOST, smtp_server.port).send(offer_mail())
    assert smtp_server.handler.received == []


def test_every_recipient_refused_with_5xx_is_permanent(smtp_server: SmtpServer) -> None:
    for address in ("anna.mueller@example.com", "billing@example.com"):
        smtp_server.handler.rcpt_replies[address] = "550 5.1.1 no such user"

    with pytest.raises(PermanentDeliveryError, match=r"billing@example\.com: 550"):
        SmtpMailer(HOST, smtp_server.port).send(offer_mail())


def test_every_recipient_refused_but_one_with_4xx_is_temporary(smtp_server: SmtpServer) -> None:
    smtp_server.handler.rcpt_replies["anna.mueller@example.com"] = "550 5.1.1 no such user"
    smtp_server.handler.rcpt_replies["billing@example.com"] = "450 4.2.1 greylisted"

    with pytest.raises(TemporaryDeliveryError, match=r"450 4\.2\.1 greylisted"):
        SmtpMailer(HOST, smtp_server.port).send(offer_mail())


def test_some_recipients_refused_counts_as_sent_and_is_logged(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_server.handler.rcpt_replies["billing@example.com"] = "550 5.1.1 no such user"

    with caplog.at_level(logging.WARNING, logger="fabcore.adapters.smtp"):
        SmtpMailer(HOST, smtp_server.port).send(offer_mail())

    [received] = smtp_server.handler.received
    assert received.rcpt_tos == ("anna.mueller@example.com",)
    assert "billing@example.com: 550 5.1.1 no such user" in caplog.text
    assert "<out-1@fabcore>" in caplog.text


def test_a_server_that_is_down_is_temporary() -> None:
    with pytest.raises(TemporaryDeliveryError, match="connection failed") as caught:
        SmtpMailer(HOST, free_port(), timeout=5).send(offer_mail())
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@pytest.fixture
def hang_up_server() -> Iterator[int]:
    """Accepts connections and closes them before the greeting."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def test_a_disconnect_is_temporary(hang_up_server: int) -> None:
    with pytest.raises(TemporaryDeliveryError, match="disconnected"):
        SmtpMailer(HOST, hang_up_server, timeout=5).send(offer_mail())


def test_a_server_that_never_answers_times_out_as_temporary() -> None:
    # Connections queue in the backlog; nobody accepts them or says anything.
    with socket.create_server((HOST, 0)) as silent:
        mailer = SmtpMailer(HOST, silent.getsockname()[1], timeout=0.2)
        with pytest.raises(TemporaryDeliveryError, match="timed out"):
            mailer.send(offer_mail())


def test_mails_in_a_row_go_over_one_connection(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port)
    try:
        for n in range(3):
            mailer.send(offer_mail(f"<out-{n}@fabcore>"))
    finally:
        mailer.close()

    received = smtp_server.handler.received
    assert [r.message_id for r in received] == ["<out-0@fabcore>", "<out-1@fabcore>",
                                                "<out-2@fabcore>"]
    assert len({r.peer for r in received}) == 1


def test_a_connection_is_let_go_after_its_share_of_mails(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port)
    total = 2 * MAILS_PER_CONNECTION + 3
    try:
        for n in range(total):
            mailer.send(offer_mail(f"<out-{n}@fabcore>"))
        # The first two have said QUIT by now; the third waits for more.
        peers = list(dict.fromkeys(r.peer for r in smtp_server.handler.received))
        assert smtp_server.handler.quits == peers[:2]
    finally:
        mailer.close()

    assert len(smtp_server.handler.received) == total
    assert len(peers) == 3
    per_peer = [sum(r.peer == peer for r in smtp_server.handler.received) for peer in peers]
    assert per_peer == [MAILS_PER_CONNECTION, MAILS_PER_CONNECTION, 3]


def test_a_connection_past_its_lifetime_is_not_kept(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp, "CONNECTION_LIFETIME", 0.0)
    mailer = SmtpMailer(HOST, smtp_server.port)
    for n in range(3):
        mailer.send(offer_mail(f"<out-{n}@fabcore>"))

    peers = [r.peer for r in smtp_server.handler.received]
    assert len(set(peers)) == 3
    assert smtp_server.handler.quits == peers


def test_keep_alive_zero_opens_a_connection_per_mail(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port, keep_alive=0)
    for n in range(3):
        mailer.send(offer_mail(f"<out-{n}@fabcore>"))

    assert len({r.peer for r in smtp_server.handler.received}) == 3


def test_a_connection_idle_longer_than_keep_alive_is_not_used(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port, keep_alive=0.05)
    try:
        mailer.send(offer_mail("<out-1@fabcore>"))
        time.sleep(0.3)
        mailer.send(offer_mail("<out-2@fabcore>"))
    finally:
        mailer.close()

    assert len({r.peer for r in smtp_server.handler.received}) == 2


def test_a_kept_connection_the_server_dropped_is_replaced(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port)
    try:
        mailer.send(offer_mail("<out-1@fabcore>"))
        # A restart ends every session: the kept connection is dead.
        smtp_server.stop()
        smtp_server.start()
        mailer.send(offer_mail("<out-2@fabcore>"))
    finally:
        mailer.close()

    assert smtp_server.handler.message_ids() == {"<out-1@fabcore>": 1, "<out-2@fabcore>": 1}
    assert len({r.peer for r in smtp_server.handler.received}) == 2


def test_a_failed_mail_leaves_no_connection_for_the_next(smtp_server: SmtpServer) -> None:
    smtp_server.handler.data_replies.append("451 4.3.0 try again later")
    mailer = SmtpMailer(HOST, smtp_server.port)
    try:
        with pytest.raises(TemporaryDeliveryError):
            mailer.send(offer_mail("<out-1@fabcore>"))
        mailer.send(offer_mail("<out-2@fabcore>"))
    finally:
        mailer.close()

    first, second = smtp_server.handler.data_peers
    assert first != second
    assert smtp_server.handler.message_ids() == {"<out-2@fabcore>": 1}


def test_close_says_quit_on_the_kept_connection(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port)
    mailer.send(offer_mail("<out-1@fabcore>"))
    assert smtp_server.handler.quits == []
    mailer.close()
    mailer.send(offer_mail("<out-2@fabcore>"))
    mailer.close()

    first, second = (r.peer for r in smtp_server.handler.received)
    assert first != second
    assert smtp_server.handler.quits == [first, second]


def test_an_application_closes_the_mailer_it_made_from_a_url(smtp_server: SmtpServer) -> None:
    app = bootstrap(mail=f"smtp://{HOST}:{smtp_server.port}", secret_key=b"k" * 32)
    app.mailer.send(offer_mail("<out-1@fabcore>"))
    assert smtp_server.handler.quits == []

    app.close()

    [received] = smtp_server.handler.received
    assert smtp_server.handler.quits == [received.peer]


def test_threads_sending_at_once_each_get_a_connection_of_their_own(
    smtp_server: SmtpServer,
) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port)

    def relay(k: int) -> None:
        for n in range(5):
            mailer.send(offer_mail(f"<out-{k}-{n}@fabcore>"))

    failures = run_threads(6, relay)
    mailer.close()

    assert failures == []
    assert smtp_server.handler.message_ids() == {
        f"<out-{k}-{n}@fabcore>": 1 for k in range(6) for n in range(5)
    }
    # Connections were reused, and no more were kept idle than the mailer allows.
    peers = {r.peer for r in smtp_server.handler.received}
    assert len(peers) < 30


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_process_opens_its_own_connection(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(HOST, smtp_server.port)
    try:
        mailer.send(offer_mail("<parent-1@fabcore>"))
        pid = os.fork()
        if pid == 0:
            try:
                mailer.send(offer_mail("<child@fabcore>"))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        mailer.send(offer_mail("<parent-2@fabcore>"))
    finally:
        mailer.close()

    peer = {r.message_id: r.peer for r in smtp_server.handler.received}
    assert set(peer) == {"<parent-1@fabcore>", "<child@fabcore>", "<parent-2@fabcore>"}
    # The child's mail took a connection of its own; the parent's stayed usable.
    assert peer["<child@fabcore>"] != peer["<parent-1@fabcore>"]
    assert peer["<parent-2@fabcore>"] == peer["<parent-1@fabcore>"]


def test_maildir_mailer_writes_a_maildir_and_an_openable_eml(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    MaildirMailer(folder).send(offer_mail())

    [eml] = (folder / "eml").glob("*.eml")
    assert eml.name.endswith("-out-1@fabcore.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Message-ID"] == "<out-1@fabcore>"
    assert message["To"] == "anna.mueller@example.com"
    assert message["Cc"] == "billing@example.com"
    assert message["Subject"] == "Angebot FC-1001 für Müller: 1.234,50 €"
    assert parts(message) == (TEXT, HTML + "\n")
    [stored] = mailbox.Maildir(folder, create=False)
    assert stored["Message-ID"] == "<out-1@fabcore>"
    assert stored.get_subdir() == "new"


def test_maildir_mailer_keeps_each_delivery(tmp_path: Path) -> None:
    mailer = MaildirMailer(tmp_path)
    mailer.send(offer_mail("<out-1@fabcore>"))
    mailer.send(offer_mail("<out-1@fabcore>"))
    mailer.send(offer_mail("<out-2@fabcore>"))

    assert len(list((tmp_path / "eml").glob("*.eml"))) == 3
    assert sorted(m["Message-ID"] for m in mailbox.Maildir(tmp_path, create=False)) == [
        "<out-1@fabcore>", "<out-1@fabcore>", "<out-2@fabcore>"
    ]


def test_maildir_mailer_cannot_write_is_temporary(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the Maildir should be")

    with pytest.raises(TemporaryDeliveryError, match="cannot write mail <out-1@fabcore>"):
        MaildirMailer(blocker).send(offer_mail())
