"""The outbox relay sending through SMTP to a real server on 127.0.0.1 that fails in many ways."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from fabcore.adapters.memory import MemoryDatabase
from fabcore.adapters.smtp import SmtpMailer
from fabcore.app.relay import RelayResult, relay_outbox, retry
from fabcore.ports.mailer import Mail
from fabcore.ports.outbox import OutboxMessage, OutboxStatus
from smtp_server import HOST, SmtpServer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AFTER_BACKOFF = timedelta(hours=2)  # past the relay's longest backoff (1 h)


def queue(db: MemoryDatabase, count: int, *, to: str = "customer@example.com") -> list[str]:
    """Add ``count`` pending mails to the outbox in one unit of work; their ids."""
    ids = [f"out-{index:04d}-{to.partition('@')[0]}" for index in range(count)]
    with db() as uow:
        for outbox_id in ids:
            mail = Mail(
                message_id=f"<{outbox_id}@fabcore>",
                sender="orders@shop.example",
                to=(to,),
                cc=("billing@example.com",),
                subject=f"Order {outbox_id}: Firm offer sent",
                text="Your offer is ready: 1.234,50 €\n",
                html="<p>Your offer is ready: 1.234,50 €</p>",
            )
            uow.outbox.add(OutboxMessage(id=outbox_id, shop_id="shop-1", order_id=None,
                                         mail=mail, created_at=T0))
        uow.commit()
    return ids


def drain(
    db: MemoryDatabase, mailer: SmtpMailer, now: datetime, *, max_attempts: int = 8,
    max_runs: int = 20,
) -> RelayResult:
    """Run the relay at ``now`` until a run finds nothing due; the summed result."""
    sent = retried = failed = 0
    for _ in range(max_runs):
        result = relay_outbox(db, mailer, now, max_attempts=max_attempts)
        if result.processed == 0:
            return RelayResult(sent, retried, failed)
        sent, retried, failed = (sent + result.sent, retried + result.retried,
                                 failed + result.failed)
    pytest.fail(f"the relay still found due mails after {max_runs} runs")


def messages(db: MemoryDatabase, status: OutboxStatus | None = None) -> list[OutboxMessage]:
    with db() as uow:
        return list(uow.outbox.list(status))


@pytest.fixture
def db() -> MemoryDatabase:
    return MemoryDatabase()


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    """Not started: the port is chosen, nothing listens on it until the test starts it."""
    server = SmtpServer()
    yield server
    server.stop()


def mailer_for(server: SmtpServer) -> SmtpMailer:
    return SmtpMailer(HOST, server.port, timeout=10)


@pytest.mark.slow
def test_500_mails_queued_while_the_server_is_down_are_all_delivered_once(
    db: MemoryDatabase, server: SmtpServer
) -> None:
    ids = queue(db, 500)
    mailer = mailer_for(server)

    down = drain(db, mailer, T0)

    assert down == RelayResult(sent=0, retried=500, failed=0)
    pending = messages(db, OutboxStatus.PENDING)
    assert len(pending) == 500
    assert all(m.attempts == 1 and m.last_error and "connection failed" in m.last_error
               for m in pending)
    assert drain(db, mailer, T0) == RelayResult()  # nothing is due again before the backoff

    server.start()
    up = drain(db, mailer, T0 + AFTER_BACKOFF)

    assert up == RelayResult(sent=500, retried=0, failed=0)
    delivered = server.handler.message_ids()
    assert set(delivered) == {f"<{outbox_id}@fabcore>" for outbox_id in ids}
    assert set(delivered.values()) == {1}
    assert all(m.status is OutboxStatus.SENT and m.attempts == 2 for m in messages(db))
    assert drain(db, mailer, T0 + 10 * AFTER_BACKOFF) == RelayResult()
    assert len(server.handler.received) == 500


def test_a_relay_run_hands_its_mails_over_one_connection(
    db: MemoryDatabase, server: SmtpServer
) -> None:
    ids = queue(db, 25)
    server.start()
    mailer = mailer_for(server)
    try:
        assert drain(db, mailer, T0) == RelayResult(sent=25)
    finally:
        mailer.close()

    assert server.handler.message_ids() == {f"<{outbox_id}@fabcore>": 1 for outbox_id in ids}
    assert len({item.peer for item in server.handler.received}) == 1


def test_4xx_replies_are_retried_and_each_mail_is_delivered_once(
    db: MemoryDatabase, server: SmtpServer
) -> None:
    ids = queue(db, 5)
    server.handler.data_replies.extend(["451 4.3.0 greylisted, try again later"] * 3)
    server.start()
    mailer = mailer_for(server)

    first = drain(db, mailer, T0)

    assert first == RelayResult(sent=2, retried=3, failed=0)
    waiting = messages(db, OutboxStatus.PENDING)
    assert [m.id for m in waiting] == ids[:3]
    assert all(m.attempts == 1 and "451 4.3.0 greylisted" in (m.last_error or "")
               for m in waiting)

    second = drain(db, mailer, T0 + AFTER_BACKOFF)

    assert second == RelayResult(sent=3, retried=0, failed=0)
    assert server.handler.rejected == 3
    assert server.handler.message_ids() == {f"<{outbox_id}@fabcore>": 1 for outbox_id in ids}


def test_a_5xx_rejection_fails_at_once_is_never_retried_and_can_be_put_back(
    db: MemoryDatabase, server: SmtpServer
) -> None:
    rejected, accepted = queue(db, 2)
    server.handler.data_replies.append("554 5.7.1 rejected by policy")
    server.start()
    mailer = mailer_for(server)

    assert drain(db, mailer, T0) == RelayResult(sent=1, retried=0, failed=1)
    [failed] = messages(db, OutboxStatus.FAILED)
    assert failed.id == rejected
    assert failed.attempts == 1
    assert "554 5.7.1 rejected by policy" in (failed.last_error or "")
    assert drain(db, mailer, T0 + 10 * AFTER_BACKOFF) == RelayResult()
    assert server.handler.message_ids() == {f"<{accepted}@fabcore>": 1}

    retry(db, rejected, T0 + 10 * AFTER_BACKOFF)

    assert drain(db, mailer, T0 + 10 * AFTER_BACKOFF) == RelayResult(sent=1)
    assert server.handler.message_ids() == {f"<{accepted}@fabcore>": 1,
                                            f"<{rejected}@fabcore>": 1}
    assert messages(db, OutboxStatus.FAILED) == []
    assert drain(db, mailer, T0 + 20 * AFTER_BACKOFF) == RelayResult()


def test_max_attempts_fail_the_mail_and_every_run_is_bounded(
    db: MemoryDatabase, server: SmtpServer
) -> None:
    ids = queue(db, 3, to="full@example.com")
    server.handler.rcpt_replies["full@example.com"] = "452 4.2.2 mailbox full"
    server.handler.rcpt_replies["billing@example.com"] = "452 4.2.2 mailbox full"
    server.start()
    mailer = mailer_for(server)

    # One run tries each due mail at most once and never more than ``batch``.
    assert relay_outbox(db, mailer, T0, batch=2, max_attempts=3) == RelayResult(retried=2)
    assert relay_outbox(db, mailer, T0, batch=2, max_attempts=3) == RelayResult(retried=1)
    assert relay_outbox(db, mailer, T0, batch=2, max_attempts=3) == RelayResult()

    now = T0
    for _ in range(2):
        now += AFTER_BACKOFF
        drain(db, mailer, now, max_attempts=3)

    failed = messages(db, OutboxStatus.FAILED)
    assert [m.id for m in failed] == ids
    assert all(m.attempts == 3 and "452 4.2.2 mailbox full" in (m.last_error or "")
               for m in failed)
    assert drain(db, mailer, now + 10 * AFTER_BACKOFF, max_attempts=3) == RelayResult()
    assert server.handler.received == []
