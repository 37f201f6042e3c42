"""Work after a use case: the relay woken with the request id, large uploads analysed as jobs.

The job queue here is a recording double (the in-process adapter and the
PostgreSQL one have tests of their own); the relay runs on the memory
database, with a mailer that dies like a killed process.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from pathlib import Path

import pytest

from app_fixtures import ADDRESS
from fabcore.adapters.clock import ManualClock
from fabcore.adapters.email_message import message_bytes
from fabcore.adapters.jobs import InProcessJobs
from fabcore.adapters.memory import RecordingMailer, RecordingMetrics
from fabcore.app.bootstrap import bootstrap
from fabcore.app.context import request_scope, valid_request_id
from fabcore.app.drafting import PendingModel, UploadedModel
from fabcore.app.facade import Fabcore
from fabcore.app.pauses import pause
from fabcore.app.samples import bracket_stl, create_sample_shop
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import AnalysisState
from fabcore.domain.errors import ConfigurationError, InvalidInput, ModelRejected, StorageError
from fabcore.domain.quote import LineSpec
from fabcore.domain.status import OrderStatus
from fabcore.ports.jobs import ANALYSIS_QUEUE
from fabcore.ports.mailer import Mail
from fabcore.ports.outbox import OutboxStatus


class RecordingJobs:
    """A job queue that records what it is given (analyses run elsewhere, i.e. later)."""

    analyses_elsewhere = True

    def __init__(self, *, fail: bool = False) -> None:
        self.relays: list[str | None] = []
        self.analyses: list[tuple[str, str, str | None]] = []
        self.fail = fail

    def relay_outbox(self, request_id: str | None) -> None:
        if self.fail:
            raise StorageError("the queue is unreachable")
        self.relays.append(request_id)

    def analyse_model(self, sha256: str, units: str, request_id: str | None) -> None:
        self.analyses.append((sha256, units, request_id))

    def waiting(self) -> Mapping[str, int]:
        return {ANALYSIS_QUEUE: len(self.analyses)}

    def check(self) -> None:
        """Always reachable."""


@pytest.fixture
def jobs() -> RecordingJobs:
    return RecordingJobs()


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def app(clock: ManualClock, jobs: RecordingJobs, metrics: RecordingMetrics) -> Fabcore:
    return bootstrap("memory://", clock=clock, secret_key=b"k" * 32, jobs=jobs,
                     metrics=metrics)


def _placed_order(app: Fabcore, actor: Actor) -> str:
    model = app.upload_model(actor, bracket_stl(), "bracket.stl")
    order = app.create_order(actor)
    app.add_line(actor, order.id, model, LineSpec("fdm", "pla", quantity=2))
    app.set_shipping(actor, order.id, "pickup")
    app.place(actor, order.id)
    return order.id


def test_a_change_with_mails_wakes_the_relay_with_its_request_id(
    app: Fabcore, as_ada: Actor, jobs: RecordingJobs, metrics: RecordingMetrics
) -> None:
    jobs.relays.clear()
    with request_scope("req-42"):
        order_id = _placed_order(app, as_ada)
    assert jobs.relays == ["req-42"]
    assert metrics.status_changes == {"placed": 1}
    mails = app.list_outbox(Actor.staff(as_ada.shop_id, "sam"), order_id=order_id)
    assert [m.mail.request_id for m in mails] == ["req-42", "req-42"]
    assert b"\r\nX-Request-ID: req-42\r\n" in message_bytes(mails[0].mail)


def test_a_mail_of_no_request_has_no_request_header() -> None:
    mail = Mail("<m@fabcore>", "shop@example.com", ("ada@example.com",), "Hello", "Hi", "<p>Hi")
    assert b"X-Request-ID" not in message_bytes(mail)


def test_account_mails_wake_the_relay_too(app: Fabcore, jobs: RecordingJobs) -> None:
    create_sample_shop(app, "acme")
    with request_scope("req-sign-up"):
        app.sign_up("acme", name="Bo", email="bo@example.com", password="bo's password 1")
    assert jobs.relays == ["req-sign-up"]


def test_a_change_without_mails_wakes_nothing(
    app: Fabcore, as_ada: Actor, jobs: RecordingJobs
) -> None:
    jobs.relays.clear()
    app.create_order(as_ada)
    assert jobs.relays == []


def test_an_unreachable_queue_does_not_undo_the_change(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = bootstrap("memory://", clock=clock, secret_key=b"k" * 32,
                    jobs=RecordingJobs(fail=True))
    shop_id = create_sample_shop(app).id
    customer = app.register_customer(Actor.visitor(shop_id), name="Ada",
                                     email="ada@example.com", billing_address=ADDRESS)
    actor = Actor.customer(shop_id, customer.id)
    order_id = _placed_order(app, actor)
    assert app.get_order(actor, order_id).status is OrderStatus.PLACED
    assert "the sweep will send them" in caplog.text
    assert len(app.list_outbox(Actor.staff(shop_id, "sam"), OutboxStatus.PENDING)) == 2


def test_a_relay_killed_mid_way_is_taken_back_by_the_same_job_only(
    app: Fabcore, as_ada: Actor
) -> None:
    order_id = _placed_order(app, as_ada)
    staff_actor = Actor.staff(as_ada.shop_id, "sam")
    dying = RecordingMailer()

    def die(mail: Mail) -> None:
        raise KeyboardInterrupt("the worker was killed")

    dying.send = die  # type: ignore[method-assign]
    original = app.mailer
    app.mailer = dying
    with pytest.raises(KeyboardInterrupt):
        app.relay_outbox(holder="job-7")
    claimed = app.list_outbox(staff_actor, order_id=order_id)
    assert {(m.attempts, m.lease_holder) for m in claimed} == {(1, "job-7")}

    app.mailer = original
    assert app.relay_outbox(holder="job-8").sent == 0
    assert app.relay_outbox().sent == 0
    assert app.relay_outbox(holder="job-7").sent == 2
    assert isinstance(original, RecordingMailer)
    assert sorted(m.message_id for m in original.sent) == sorted(m.mail.message_id
                                                                 for m in claimed)
    done = app.list_outbox(staff_actor, order_id=order_id)
    assert {(m.status, m.attempts, m.lease_holder) for m in done} == {
        (OutboxStatus.SENT, 2, None)}


def test_a_large_upload_waits_for_a_worker_and_lands_when_analysed(
    app: Fabcore, as_ada: Actor, jobs: RecordingJobs, metrics: RecordingMetrics
) -> None:
    data = bracket_stl()
    with request_scope("req-upload"):
        pending = app.upload_model_file(as_ada, io.BytesIO(data), "big.stl", "mm",
                                        defer_from=len(data))
    assert isinstance(pending, PendingModel)
    assert pending.request.state is AnalysisState.PENDING
    assert pending.waiting == 1
    assert jobs.analyses == [(pending.ref.sha256, "mm", "req-upload")]
    assert app.models.exists(pending.ref.sha256)
    status = app.analysis_status(as_ada, pending.ref.sha256, "big.stl", "mm")
    assert isinstance(status, PendingModel)
    assert status.request.request_id == "req-upload"

    finished = app.analyse_requested(pending.ref.sha256, "mm")
    assert (finished.state, finished.attempts) == (AnalysisState.DONE, 1)
    assert list(metrics.analyses) == ["stl"]
    landed = app.analysis_status(as_ada, pending.ref.sha256, "big.stl", "mm")
    assert isinstance(landed, UploadedModel)
    assert landed.analysis.triangles > 0
    assert app.analyse_requested(pending.ref.sha256, "mm").attempts == 1
    assert app.quote_options(as_ada, pending.ref.sha256, "mm")


def test_a_job_started_again_after_its_worker_died_analyses_again(
    app: Fabcore, as_ada: Actor
) -> None:
    data = bracket_stl()
    pending = app.upload_model_file(as_ada, io.BytesIO(data), "big.stl", defer_from=1)
    assert isinstance(pending, PendingModel)
    with app.uow() as uow:
        request = uow.analyses.request(pending.ref.sha256, "mm")
        assert request is not None
        request.state = AnalysisState.ANALYSING
        request.attempts = 1
        uow.analyses.save_request(request)
        uow.commit()
    finished = app.analyse_requested(pending.ref.sha256, "mm")
    assert (finished.state, finished.attempts) == (AnalysisState.DONE, 2)


def test_a_refused_large_upload_says_why_and_is_refused_again(
    app: Fabcore, as_ada: Actor, jobs: RecordingJobs
) -> None:
    junk = b"solid nothing\nthis is not a mesh\n" * 100
    pending = app.upload_model_file(as_ada, io.BytesIO(junk), "junk.stl", defer_from=1)
    assert isinstance(pending, PendingModel)
    refused = app.analyse_requested(pending.ref.sha256, "mm")
    assert refused.state is AnalysisState.REJECTED
    assert refused.reason
    status = app.analysis_status(as_ada, pending.ref.sha256, "junk.stl")
    assert isinstance(status, PendingModel)
    assert status.request.reason == refused.reason
    with pytest.raises(ModelRejected, match=refused.reason):
        app.upload_model_file(as_ada, io.BytesIO(junk), "junk.stl", defer_from=1)
    assert len(jobs.analyses) == 1


def test_a_refused_large_upload_leaves_no_file(app: Fabcore, as_ada: Actor) -> None:
    junk = b"solid nothing\nthis is not a mesh\n" * 100
    pending = app.upload_model_file(as_ada, io.BytesIO(junk), "junk.stl", defer_from=1)
    assert isinstance(pending, PendingModel)
    kept = app.upload_model_file(as_ada, io.BytesIO(bracket_stl()), "kept.stl", defer_from=1)
    assert isinstance(kept, PendingModel)
    assert app.models.exists(pending.ref.sha256)
    assert app.analyse_requested(pending.ref.sha256, "mm").state is AnalysisState.REJECTED
    assert sorted(app.models.digests()) == [kept.ref.sha256]
    assert app.analyse_requested(pending.ref.sha256, "mm").state is AnalysisState.REJECTED


def test_a_refused_file_another_analysis_needs_is_kept(app: Fabcore, as_ada: Actor) -> None:
    junk = b"solid nothing\nthis is not a mesh\n" * 100
    pending = app.upload_model_file(as_ada, io.BytesIO(junk), "junk.stl", defer_from=1)
    assert isinstance(pending, PendingModel)
    with app.uow() as uow:
        uow.analyses.add(pending.ref.sha256, "inch", app.analyser.analyse(bracket_stl(), "b.stl"))
        uow.commit()
    assert app.analyse_requested(pending.ref.sha256, "mm").state is AnalysisState.REJECTED
    assert app.models.get(pending.ref.sha256) == junk


def test_a_refusal_whose_worker_died_before_deleting_deletes_on_the_retry(
    app: Fabcore, as_ada: Actor
) -> None:
    junk = b"solid nothing\nthis is not a mesh\n" * 100
    pending = app.upload_model_file(as_ada, io.BytesIO(junk), "junk.stl", defer_from=1)
    assert isinstance(pending, PendingModel)
    with app.uow() as uow:
        request = uow.analyses.request(pending.ref.sha256, "mm")
        assert request is not None
        request.state = AnalysisState.REJECTED
        request.reason = "the file is not a mesh"
        uow.analyses.save_request(request)
        uow.commit()
    assert app.models.exists(pending.ref.sha256)
    assert app.analyse_requested(pending.ref.sha256, "mm").attempts == 0
    assert not app.models.exists(pending.ref.sha256)


def test_small_uploads_are_analysed_at_once(
    app: Fabcore, as_ada: Actor, jobs: RecordingJobs
) -> None:
    data = bracket_stl()
    model = app.upload_model_file(as_ada, io.BytesIO(data), "small.stl",
                                  defer_from=len(data) + 1)
    assert isinstance(model, UploadedModel)
    assert jobs.analyses == []


def test_in_process_jobs_analyse_before_returning(clock: ManualClock) -> None:
    app = bootstrap("memory://", clock=clock, secret_key=b"k" * 32)
    assert isinstance(app.jobs, InProcessJobs)
    shop_id = create_sample_shop(app).id
    actor = Actor.visitor(shop_id)
    model = app.upload_model_file(actor, io.BytesIO(bracket_stl()), "big.stl", defer_from=1)
    assert isinstance(model, UploadedModel)


def test_in_process_jobs_wake_what_registered_and_need_an_analysis() -> None:
    jobs = InProcessJobs()
    woken: list[int] = []
    unregister = jobs.on_relay(lambda: woken.append(1))
    jobs.relay_outbox("req-1")
    unregister()
    jobs.relay_outbox("req-2")
    assert woken == [1]
    assert jobs.waiting() == {}
    with pytest.raises(ConfigurationError):
        jobs.analyse_model("ab" * 32, "mm", None)
    analysed: list[tuple[str, str]] = []
    jobs.bind_analysis(lambda sha, units: analysed.append((sha, units)))
    jobs.analyse_model("ab" * 32, "mm", None)
    assert analysed == [("ab" * 32, "mm")]


def test_an_idempotency_key_makes_one_draft_and_one_line(
    app: Fabcore, as_ada: Actor, staff: Actor
) -> None:
    first = app.create_order(as_ada, key="draft-1")
    again = app.create_order(as_ada, key="draft-1")
    other = app.create_order(as_ada, key="draft-2")
    assert again.id == first.id
    assert other.id != first.id
    assert app.create_order(staff, key="draft-1").id != first.id
    model = app.upload_model(as_ada, bracket_stl(), "bracket.stl")
    line = app.add_line(as_ada, first.id, model, LineSpec("fdm", "pla"), key="line-1")
    repeat = app.add_line(as_ada, first.id, model, LineSpec("fdm", "pla"), key="line-1")
    assert repeat.id == line.id
    assert len(app.get_order(as_ada, first.id).lines) == 1
    assert len(app.list_orders(staff)) == 3


def test_request_ids_from_outside_are_checked() -> None:
    assert valid_request_id("0af7651916cd43dd8448eb211c80319c") is not None
    assert valid_request_id("trace:abc/1=2") == "trace:abc/1=2"
    assert valid_request_id("two words") is None
    assert valid_request_id("x" * 129) is None
    assert valid_request_id("line\nbreak") is None
    assert valid_request_id(None) is None


def test_a_pause_point_marks_where_it_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FABCORE_PAUSE_AT", "relay.before_send=0.001")
    monkeypatch.setenv("FABCORE_PAUSE_DIR", str(tmp_path))
    pause("relay.before_send", attempt=2)
    pause("analysis.before")
    assert list(tmp_path.iterdir()) == []
    pause("relay.before_send")
    assert [p.name.rsplit("-", 1)[0] for p in tmp_path.iterdir()] == ["relay.before_send"]
    with pytest.raises(ValueError, match="unknown pause point"):
        pause("nowhere")


def test_a_large_upload_with_another_digest_than_given_is_refused_and_not_deferred(
    app: Fabcore, as_ada: Actor, jobs: RecordingJobs
) -> None:
    wrong = hashlib.sha256(b"another file").hexdigest()
    with pytest.raises(InvalidInput, match="does not have the sha256 given"):
        app.upload_model_file(as_ada, io.BytesIO(bracket_stl()), "b.stl", defer_from=1,
                              sha256=wrong)
    assert list(app.models.digests()) == []
    assert jobs.analyses == []
    right = hashlib.sha256(bracket_stl()).hexdigest()
    pending = app.upload_model_file(as_ada, io.BytesIO(bracket_stl()), "b.stl", defer_from=1,
                                    sha256=right)
    assert isinstance(pending, PendingModel)
    assert len(jobs.analyses) == 1
