"""The outbox relay against a small transactional fake outbox and the recording mailer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import attrs
import pytest

from fabcore.adapters.memory import RecordingMailer
from fabcore.app.relay import SENDING_LEASE, RelayResult, backoff, relay_outbox, retry
from fabcore.domain.errors import (
    GuardFailed,
    InvalidInput,
    NotFound,
    PermanentDeliveryError,
    StorageError,
    TemporaryDeliveryError,
)
from fabcore.ports.mailer import Mail
from fabcore.ports.outbox import Outbox, OutboxMessage, OutboxStatus
from fabcore.ports.repositories import (
    AccountRepository,
    AnalysisRepository,
    CustomerRepository,
    OrderRepository,
    SecretRepository,
    ShopRepository,
    ThrottleRepository,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE = timedelta(seconds=30)


class FakeOutbox:
    """Committed rows plus the changes staged by the open unit of work."""

    def __init__(self) -> None:
        self.rows: dict[str, OutboxMessage] = {}
        self.staged: dict[str, OutboxMessage] = {}

    def add(self, message: OutboxMessage) -> None:
        self.rows[message.id] = attrs.evolve(message)

    def add_all(self, messages: Sequence[OutboxMessage]) -> None:
        for message in messages:
            self.add(message)

    def get(self, message_id: str) -> OutboxMessage:
        if message_id not in self.rows:
            raise NotFound(f"no outbox message {message_id}")
        return attrs.evolve(self.rows[message_id])

    def due(self, now: datetime, limit: int,
            holder: str | None = None) -> Sequence[OutboxMessage]:
        pending = [m for m in self.rows.values() if m.status is OutboxStatus.PENDING
                   and (m.next_attempt_at is None or m.next_attempt_at <= now
                        or (holder is not None and m.lease_holder == holder))]
        pending.sort(key=lambda m: m.created_at)
        return [attrs.evolve(m) for m in pending[:limit]]

    def claim(self, now: datetime, limit: int, lease_until: datetime,
              holder: str | None = None) -> Sequence[OutboxMessage]:
        taken = self.due(now, limit, holder)
        for message in taken:
            message.attempts += 1
            message.next_attempt_at = lease_until
            message.lease_holder = holder
            self.update(message)
        return taken

    def count(self, status: OutboxStatus) -> int:
        return sum(1 for m in self.rows.values() if m.status is status)

    def update(self, message: OutboxMessage) -> None:
        self.staged[message.id] = attrs.evolve(message)

    def list(
        self,
        status: OutboxStatus | None = None,
        order_id: str | None = None,
        *,
        shop_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Sequence[OutboxMessage]:
        found = [attrs.evolve(m) for m in self.rows.values()
                 if (status is None or m.status is status)
                 and (order_id is None or m.order_id == order_id)
                 and (shop_id is None or m.shop_id == shop_id)]
        return found[offset:] if limit is None else found[offset:offset + limit]


class FakeUnitOfWork:
    """Only the outbox; ``commit`` applies staged updates, leaving without it drops them."""

    shops: ShopRepository
    customers: CustomerRepository
    orders: OrderRepository
    accounts: AccountRepository
    secrets: SecretRepository
    throttle: ThrottleRepository
    analyses: AnalysisRepository

    def __init__(self, outbox: FakeOutbox, store: Store) -> None:
        self.outbox: Outbox = outbox
        self._outbox = outbox
        self.store = store

    def __enter__(self) -> Self:
        self._outbox.staged.clear()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        if self.store.fail_next_commit:
            self.store.fail_next_commit = False
            raise StorageError("database went away")
        self._outbox.rows.update(self._outbox.staged)
        self._outbox.staged.clear()
        self.store.commits += 1

    def rollback(self) -> None:
        self._outbox.staged.clear()


class ForgetfulOutbox(FakeOutbox):
    """An adapter bug: updates are never stored."""

    def update(self, message: OutboxMessage) -> None:
        return None


class Store:
    def __init__(self, outbox: FakeOutbox | None = None) -> None:
        self.outbox = outbox or FakeOutbox()
        self.commits = 0
        self.opened = 0
        self.fail_next_commit = False

    def __call__(self) -> FakeUnitOfWork:
        self.opened += 1
        return FakeUnitOfWork(self.outbox, self)

    def queue(self, count: int, start: datetime = NOW) -> list[str]:
        ids = []
        for i in range(count):
            message_id = f"m{len(self.outbox.rows) + 1}"
            mail = Mail(message_id=f"<{message_id}@shop.example>", sender="noreply@shop.example",
                        to=(f"customer{i}@example.com",), subject=f"mail {message_id}",
                        text="text", html="<p>html</p>")
            self.outbox.add(OutboxMessage(message_id, "shop-1", "ord-1", mail,
                                          created_at=start + timedelta(seconds=i)))
            ids.append(message_id)
        return ids

    def row(self, message_id: str) -> OutboxMessage:
        return self.outbox.rows[message_id]


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


def test_due_mails_are_sent_in_order_and_marked_sent(store: Store, mailer: RecordingMailer) -> None:
    ids = store.queue(3)
    result = relay_outbox(store, mailer, NOW)
    assert result == RelayResult(sent=3, retried=0, failed=0)
    assert [m.message_id for m in mailer.sent] == [f"<{i}@shop.example>" for i in ids]
    for message_id in ids:
        row = store.row(message_id)
        assert row.status is OutboxStatus.SENT
        assert row.sent_at == NOW
        assert row.attempts == 1
        assert row.next_attempt_at is None
    # One unit of work claims the three, one records how their sending went.
    assert store.commits == 2


def test_mails_are_claimed_ten_at_a_time_up_to_the_batch(
    store: Store, mailer: RecordingMailer
) -> None:
    store.queue(25)
    assert relay_outbox(store, mailer, NOW, batch=15).sent == 15
    assert store.commits == 4  # claims of 10 and 5, each with its record
    assert relay_outbox(store, mailer, NOW).sent == 10
    assert store.commits == 6
    assert len({m.message_id for m in mailer.sent}) == 25


def test_a_claim_short_of_ten_ends_the_run_without_another_look(
    store: Store, mailer: RecordingMailer
) -> None:
    # A claim takes SQLite's write lock: a run must not end on an empty one.
    store.queue(3)
    assert relay_outbox(store, mailer, NOW).sent == 3
    assert store.opened == 2
    store.queue(10)
    assert relay_outbox(store, mailer, NOW).sent == 10
    assert store.opened == 2 + 3  # a full claim may have more behind it: one more look


def test_nothing_due_sends_nothing(store: Store, mailer: RecordingMailer) -> None:
    assert relay_outbox(store, mailer, NOW) == RelayResult(0, 0, 0)
    assert mailer.attempts == []


def test_temporary_failure_backs_off_exponentially(store: Store, mailer: RecordingMailer) -> None:
    (message_id,) = store.queue(1)
    max_delay = timedelta(minutes=10)
    now = NOW
    expected_delays = [30, 60, 120, 240, 480, 600, 600]
    for attempt, seconds in enumerate(expected_delays, start=1):
        mailer.fail_next(1)
        result = relay_outbox(store, mailer, now, max_attempts=10, max_delay=max_delay)
        assert result == RelayResult(sent=0, retried=1, failed=0)
        row = store.row(message_id)
        assert row.status is OutboxStatus.PENDING
        assert row.attempts == attempt
        assert "421" in str(row.last_error)
        assert row.next_attempt_at == now + timedelta(seconds=seconds)
        assert row.next_attempt_at is not None
        now = row.next_attempt_at
    assert relay_outbox(store, mailer, now).sent == 1
    assert store.row(message_id).attempts == len(expected_delays) + 1


def test_message_is_not_retried_before_it_is_due(store: Store, mailer: RecordingMailer) -> None:
    (message_id,) = store.queue(1)
    mailer.fail_next(1)
    relay_outbox(store, mailer, NOW)
    assert relay_outbox(store, mailer, NOW + BASE - timedelta(seconds=1)) == RelayResult(0, 0, 0)
    assert len(mailer.attempts) == 1
    assert relay_outbox(store, mailer, NOW + BASE) == RelayResult(1, 0, 0)
    assert store.row(message_id).status is OutboxStatus.SENT


def test_permanent_failure_fails_at_once(store: Store, mailer: RecordingMailer) -> None:
    (message_id,) = store.queue(1)
    mailer.fail_next(1, permanent=True)
    assert relay_outbox(store, mailer, NOW) == RelayResult(sent=0, retried=0, failed=1)
    row = store.row(message_id)
    assert row.status is OutboxStatus.FAILED
    assert row.attempts == 1
    assert "550" in str(row.last_error)
    assert row.next_attempt_at is None
    assert relay_outbox(store, mailer, NOW + timedelta(days=1)) == RelayResult(0, 0, 0)


def test_gives_up_after_max_attempts(store: Store, mailer: RecordingMailer) -> None:
    (message_id,) = store.queue(1)
    mailer.fail_next(3)
    now = NOW
    results = []
    for _ in range(3):
        results.append(relay_outbox(store, mailer, now, max_attempts=3))
        now += timedelta(hours=2)
    assert results == [RelayResult(0, 1, 0), RelayResult(0, 1, 0), RelayResult(0, 0, 1)]
    row = store.row(message_id)
    assert row.status is OutboxStatus.FAILED
    assert row.attempts == 3
    assert row.next_attempt_at is None


def test_batch_bounds_one_run(store: Store, mailer: RecordingMailer) -> None:
    ids = store.queue(5)
    assert relay_outbox(store, mailer, NOW, batch=2).sent == 2
    statuses = [store.row(i).status for i in ids]
    assert statuses == [OutboxStatus.SENT] * 2 + [OutboxStatus.PENDING] * 3
    assert relay_outbox(store, mailer, NOW, batch=2).sent == 2
    assert relay_outbox(store, mailer, NOW, batch=2).sent == 1
    assert len(mailer.sent) == 5


def test_unexpected_mailer_error_is_recorded_and_the_relay_goes_on(
    store: Store, mailer: RecordingMailer
) -> None:
    first, second = store.queue(2)
    mailer.fail_next(1, error=RuntimeError("socket exploded"))
    result = relay_outbox(store, mailer, NOW)
    assert result == RelayResult(sent=1, retried=1, failed=0)
    broken = store.row(first)
    assert broken.status is OutboxStatus.PENDING
    assert broken.last_error == "RuntimeError('socket exploded')"
    assert broken.next_attempt_at == NOW + BASE
    assert store.row(second).status is OutboxStatus.SENT


def test_crash_before_the_outcome_is_recorded_resends_after_the_lease(
    store: Store, mailer: RecordingMailer
) -> None:
    (message_id,) = store.queue(1)

    class CrashAfterSending(RecordingMailer):
        def send(self, mail: Mail) -> None:
            mailer.send(mail)
            store.fail_next_commit = True

    with pytest.raises(StorageError):
        relay_outbox(store, CrashAfterSending(), NOW)
    row = store.row(message_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.next_attempt_at == NOW + SENDING_LEASE
    # Claimed: no relay takes it again while the lease runs.
    assert relay_outbox(store, mailer, NOW + SENDING_LEASE - timedelta(seconds=1)).sent == 0
    assert relay_outbox(store, mailer, NOW + SENDING_LEASE).sent == 1
    assert [m.message_id for m in mailer.sent] == [f"<{message_id}@shop.example>"] * 2
    assert store.row(message_id).attempts == 2


def test_a_claim_that_cannot_be_stored_sends_nothing(
    store: Store, mailer: RecordingMailer
) -> None:
    (message_id,) = store.queue(1)
    store.fail_next_commit = True
    with pytest.raises(StorageError):
        relay_outbox(store, mailer, NOW)
    assert mailer.attempts == []
    row = store.row(message_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboxStatus.PENDING, 0, None)
    assert relay_outbox(store, mailer, NOW).sent == 1


def test_an_outbox_that_loses_updates_does_not_make_the_relay_spin(mailer: RecordingMailer) -> None:
    store = Store(ForgetfulOutbox())
    store.queue(1)
    result = relay_outbox(store, mailer, NOW, batch=50)
    assert result.sent == 1
    assert len(mailer.attempts) == 1


def test_retry_puts_a_failed_message_back_in_the_queue(
    store: Store, mailer: RecordingMailer
) -> None:
    (message_id,) = store.queue(1)
    mailer.fail_next(1, permanent=True)
    relay_outbox(store, mailer, NOW)
    later = NOW + timedelta(hours=3)
    message = retry(store, message_id, later)
    assert message.status is OutboxStatus.PENDING
    row = store.row(message_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (OutboxStatus.PENDING, 0, later)
    assert relay_outbox(store, mailer, later).sent == 1


def test_retry_refuses_messages_that_have_not_failed(store: Store) -> None:
    (message_id,) = store.queue(1)
    with pytest.raises(GuardFailed, match="only failed"):
        retry(store, message_id, NOW)
    with pytest.raises(NotFound):
        retry(store, "nope", NOW)


def test_recording_mailer_raises_the_kinds_asked_for(mailer: RecordingMailer) -> None:
    mail = Mail("<x@y>", "a@b.example", ("c@d.example",), "s", "t", "<p>h</p>")
    mailer.fail_next(1)
    mailer.fail_next(1, permanent=True)
    with pytest.raises(TemporaryDeliveryError):
        mailer.send(mail)
    with pytest.raises(PermanentDeliveryError):
        mailer.send(mail)
    mailer.send(mail)
    assert mailer.sent == [mail]
    assert len(mailer.attempts) == 3


def test_backoff_is_capped_even_for_huge_attempt_counts() -> None:
    hour = timedelta(hours=1)
    assert backoff(1, BASE, hour) == BASE
    assert backoff(3, BASE, hour) == 4 * BASE
    assert backoff(10_000, timedelta(days=1), hour) == hour


def test_bad_settings_are_refused(store: Store, mailer: RecordingMailer) -> None:
    with pytest.raises(InvalidInput):
        relay_outbox(store, mailer, NOW, batch=0)
    with pytest.raises(InvalidInput):
        relay_outbox(store, mailer, NOW, max_attempts=0)
    with pytest.raises(InvalidInput):
        relay_outbox(store, mailer, NOW, base_delay=timedelta(0))
    with pytest.raises(InvalidInput):
        relay_outbox(store, mailer, NOW, base_delay=timedelta(hours=2),
                     max_delay=timedelta(hours=1))


def test_naive_now_is_refused(store: Store, mailer: RecordingMailer) -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        relay_outbox(store, mailer, datetime(2026, 3, 2, 9, 0))
