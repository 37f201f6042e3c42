"""Mail and payment delivery on every storage adapter, with real peers.

Two outbox relays at once hand mails to a real SMTP server on loopback; a
payment event is delivered many times from several threads. Each mail
arrives once, each payment counts once, whatever the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from fabcore.adapters.memory import MemoryPaymentGateway, RecordingMailer
from fabcore.adapters.smtp import SmtpMailer
from fabcore.app.payments import PaymentOutcome
from fabcore.app.relay import relay_outbox
from fabcore.domain.status import PaymentStatus
from fabcore.ports.mailer import Mail
from fabcore.ports.outbox import OutboxMessage, OutboxStatus
from fabcore.ports.repositories import UnitOfWorkFactory
from smtp_server import SmtpServer
from storage_fixtures import START, Shopfront, make_app


def _together(count: int, work: Callable[[int], None]) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(index)
        except BaseException as exc:  # handed back to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_two_relays_deliver_each_mail_once_over_smtp(
    storage: UnitOfWorkFactory, smtp_server: SmtpServer
) -> None:
    front = Shopfront(make_app(storage))
    with storage() as uow:
        for i in range(150):
            mail = Mail(f"<relay-{i}@fabcore.test>", "shop@example.com", ("ada@example.com",),
                        f"mail {i}", "text", "<p>html</p>", cc=("accounts@example.com",))
            uow.outbox.add(OutboxMessage(f"relay-{i}", front.shop.id, None, mail,
                                         START + timedelta(milliseconds=i)))
        uow.commit()
    mailer = SmtpMailer(smtp_server.host, smtp_server.port)
    now = START + timedelta(minutes=1)
    sent: list[int] = []

    def relay(_: int) -> None:
        sent.append(relay_outbox(storage, mailer, now, batch=150).sent)

    assert _together(2, relay) == []

    assert sum(sent) == 150
    counts = smtp_server.handler.message_ids()
    assert len(counts) == 150
    assert set(counts.values()) == {1}
    with storage() as uow:
        assert len(uow.outbox.list(OutboxStatus.SENT)) == 150


def test_a_payment_event_delivered_80_times_at_once_counts_once(
    storage: UnitOfWorkFactory,
) -> None:
    app = make_app(storage)
    front = Shopfront(app)
    order = front.placed()
    total = app.quote(front.staff, order.id).total
    assert total is not None
    gateway = app.payments
    assert isinstance(gateway, MemoryPaymentGateway)
    payload, headers = gateway.paid_event(order.id, total, event_id="evt_once")
    outcomes: list[PaymentOutcome] = []

    def deliver(_: int) -> None:
        for _ in range(10):
            outcomes.append(app.handle_payment_event(payload, headers))

    assert _together(8, deliver) == []
    assert sum(o.applied for o in outcomes) == 1
    paid = app.get_order(front.staff, order.id)
    assert paid.payment_status is PaymentStatus.PAID
    assert [p.amount for p in paid.payments] == [total]
    mailer = app.mailer
    assert isinstance(mailer, RecordingMailer)
    app.relay_outbox()
    paid_mails = [m for m in mailer.sent if "Paid" in m.subject or "Payment" in m.subject]
    assert len(paid_mails) == 2
