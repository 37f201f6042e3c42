"""The order status machine, driven through the Order aggregate's methods."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType

import attrs
import pytest
from order_builders import (
    ALL_STATUSES,
    CATALOG,
    CUSTOMER,
    FINAL,
    HOLDABLE,
    LABELS,
    NOW,
    OTHER_SHOP_STAFF,
    STAFF,
    STRANGER,
    SYSTEM,
    TABLE,
    actor_for,
    context,
    draft,
    edges_from,
    eur,
    fire,
    line,
    order_in,
    settings,
    shop,
)

from fabcore.domain.catalog import Catalog
from fabcore.domain.commands import build_command
from fabcore.domain.errors import (
    GuardFailed,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.review import ReviewMode, ReviewPolicy
from fabcore.domain.shop import ShopContext
from fabcore.domain.status import (
    TERMINAL,
    OrderStatus,
    PaymentStatus,
    Trigger,
    allowed_triggers,
    mermaid_diagram,
    reachable,
    targets,
)

CTX = context()


def CATALOG_WITH_SHIPPING(price: Money) -> Catalog:  # noqa: N802
    """The builders' catalog with another price for its one shipping method."""
    method = attrs.evolve(CATALOG.shipping["dhl"], price=price)
    return attrs.evolve(CATALOG, shipping=MappingProxyType({"dhl": method}))

ALLOWED = [(trigger, source) for trigger, (sources, _, _) in TABLE.items() for source in sources]
REFUSED = [(trigger, status) for trigger in TABLE for status in ALL_STATUSES
           if (trigger, status) not in ALLOWED]


def test_statuses_and_labels_are_those_of_the_design() -> None:
    assert [s.value for s in OrderStatus] == list(ALL_STATUSES)
    assert {s.value: s.label for s in OrderStatus} == LABELS
    assert {s.value for s in TERMINAL} == FINAL
    assert [p.value for p in PaymentStatus] == ["unpaid", "paid"]


def test_machine_has_exactly_the_edges_of_the_design() -> None:
    from_code = {(t.value, s.value, d.value) for s in OrderStatus for t, d in reachable(s)}
    expected = set()
    for trigger, (sources, dest, _) in TABLE.items():
        for source in sources:
            if dest is None:
                expected |= {(trigger, source, back) for back in HOLDABLE}
            else:
                expected.add((trigger, source, dest))
    assert from_code == expected


def test_answers_of_the_machine_are_fresh_lists() -> None:
    edges = reachable(OrderStatus.PLACED)
    moves = targets(Trigger.START_MANUFACTURING, OrderStatus.PLACED)
    triggers = allowed_triggers(OrderStatus.PLACED)
    edges.clear()
    moves.clear()
    triggers.clear()
    assert (Trigger.START_MANUFACTURING, OrderStatus.MANUFACTURING) in reachable(
        OrderStatus.PLACED
    )
    assert targets(Trigger.START_MANUFACTURING, OrderStatus.PLACED) == [
        OrderStatus.MANUFACTURING
    ]
    assert Trigger.START_MANUFACTURING in allowed_triggers(OrderStatus.PLACED)


@pytest.mark.parametrize(("trigger", "source"), ALLOWED)
def test_every_allowed_transition(trigger: str, source: str) -> None:
    order = order_in(source, held_from="manufacturing")
    actor = actor_for(trigger)
    dest = TABLE[trigger][1] or "manufacturing"

    event = fire(order, trigger, actor)

    assert order.status is OrderStatus(dest)
    assert (event.from_status, event.to_status, event.trigger) == (
        OrderStatus(source), OrderStatus(dest), Trigger(trigger))
    assert event.actor == actor
    assert event.at == NOW
    assert event.order_id == order.id
    [entry] = order.history
    assert (entry.from_status.value, entry.to_status.value, entry.trigger.value) == (
        source, dest, trigger)
    assert entry.actor == actor
    assert entry.at == NOW


@pytest.mark.parametrize(("trigger", "status"), REFUSED)
def test_every_other_trigger_is_refused(trigger: str, status: str) -> None:
    order = order_in(status)
    before = (order.status, order.offer_revision, order.po)

    with pytest.raises(InvalidTransition) as caught:
        fire(order, trigger, actor_for(trigger))

    message = str(caught.value)
    assert "order 1042" in message
    assert f"{LABELS[status]} ({status})" in message
    assert f"cannot {trigger}" in message
    tail = message.split(f"allowed from {status}: ", 1)[1]
    named = set() if tail == "none (final status)" else set(tail.split(", "))
    assert named == set(edges_from(status))
    assert (order.status, order.offer_revision, order.po) == before
    assert order.history == []


def test_customer_cannot_cancel_once_production_started() -> None:
    for status in ("free_for_manufacturing", "manufacturing", "shipped"):
        order = order_in(status)
        with pytest.raises(InvalidTransition, match="cannot cancel_by_customer"):
            order.cancel_by_customer(CUSTOMER, NOW, "too late")
        assert order.status is OrderStatus(status)


def test_terminal_statuses_allow_nothing() -> None:
    for status in FINAL:
        assert reachable(OrderStatus(status)) == []
        order = order_in(status)
        with pytest.raises(InvalidTransition, match=r"allowed from \w+: none \(final status\)"):
            order.cancel_by_admin(STAFF, NOW, "again")


# -- guards ------------------------------------------------------------------


def test_send_firm_offer_bumps_revision_and_sets_expiry() -> None:
    order = order_in("waiting_for_review")
    expiry = NOW + timedelta(days=10)
    order.send_firm_offer(STAFF, NOW, CTX, expiry)
    assert (order.offer_revision, order.offer_expires_at) == (1, expiry)
    order.send_firm_offer(STAFF, NOW, CTX)
    assert (order.offer_revision, order.offer_expires_at) == (2, NOW + timedelta(days=14))


def test_accepting_a_stale_revision_is_refused() -> None:
    order = order_in("waiting_for_review")
    order.send_firm_offer(STAFF, NOW, CTX)
    order.send_firm_offer(STAFF, NOW, CTX)

    with pytest.raises(GuardFailed, match=r"revision 1 .* no longer valid.* revision 2"):
        order.accept_offer(CUSTOMER, NOW, revision=1)
    assert order.status is OrderStatus.FIRM_OFFER_SENT

    order.accept_offer(CUSTOMER, NOW, revision=2)
    assert order.status.value == "placed"


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1), timedelta(days=3)])
def test_accepting_an_expired_offer_is_refused(late: timedelta) -> None:
    order = order_in("waiting_for_review")
    expiry = NOW + timedelta(days=1)
    order.send_firm_offer(STAFF, NOW, CTX, expiry)

    with pytest.raises(GuardFailed, match="expired"):
        order.accept_offer(CUSTOMER, expiry + late, revision=1)
    assert order.status is OrderStatus.FIRM_OFFER_SENT


def test_offer_accepted_just_before_expiry() -> None:
    order = order_in("waiting_for_review")
    order.send_firm_offer(STAFF, NOW, CTX, NOW + timedelta(days=1))
    order.accept_offer(CUSTOMER, NOW + timedelta(days=1) - timedelta(seconds=1), revision=1)
    assert order.status is OrderStatus.PLACED


def test_offer_expiry_must_lie_ahead() -> None:
    order = order_in("waiting_for_review")
    with pytest.raises(InvalidInput, match="expiry"):
        order.send_firm_offer(STAFF, NOW, CTX, NOW)
    assert order.offer_revision == 0


def test_firm_offer_needs_a_price_for_every_line() -> None:
    order = order_in("waiting_for_review")
    order.lines.append(line("l2", priced=False, filename="bracket.step"))

    with pytest.raises(GuardFailed, match=r"unpriced lines: bracket\.step \(part does not fit"):
        order.send_firm_offer(STAFF, NOW, CTX)
    assert (order.status, order.offer_revision) == (OrderStatus.WAITING_FOR_REVIEW, 0)

    order.set_firm_price("l2", eur("99.00"))
    order.send_firm_offer(STAFF, NOW, CTX)
    assert order.status is OrderStatus.FIRM_OFFER_SENT
    assert order.line("l2").unit_price == eur("99.00")


def test_an_instant_quote_for_an_older_spec_is_no_price() -> None:
    order = order_in("waiting_for_review")
    changed = attrs.evolve(order.lines[0], spec=attrs.evolve(order.lines[0].spec, quantity=50))
    order.set_line(changed)
    assert order.lines[0].unit_price is None
    with pytest.raises(GuardFailed, match="changed since it was quoted"):
        order.send_firm_offer(STAFF, NOW, CTX)


def test_firm_offer_needs_a_customer_and_lines() -> None:
    with pytest.raises(GuardFailed, match="no customer"):
        draft(customer_id=None).send_firm_offer(STAFF, NOW, CTX)
    with pytest.raises(GuardFailed, match="no lines"):
        draft(lines=[]).send_firm_offer(STAFF, NOW, CTX)


def test_place_refuses_when_the_shops_review_policy_requires_review() -> None:
    order = draft()
    manual = attrs.evolve(shop(), settings=attrs.evolve(
        settings(), review=ReviewPolicy(ReviewMode.SEMI_MANUAL, max_quantity=1)))
    with pytest.raises(GuardFailed, match="must be submitted for review: 2 parts is over 1"):
        order.place(CUSTOMER, NOW, ShopContext(manual, CATALOG))
    assert (order.status, order.agreed_quote) == (OrderStatus.DRAFT, None)
    order.place(CUSTOMER, NOW, CTX)
    assert order.agreed_quote == order.price(CATALOG)


@pytest.mark.parametrize(
    ("changes", "missing"),
    [({"shipping": None}, "shipping"), ({"billing_address": None}, "billing address"),
     ({"customer_id": None}, "customer")],
)
def test_place_needs_a_complete_order(changes: dict[str, None], missing: str) -> None:
    order = draft(**changes)
    with pytest.raises(GuardFailed, match=f"missing {missing}"):
        order.place(STAFF, NOW, CTX)
    assert order.status is OrderStatus.DRAFT


def test_place_needs_priced_lines() -> None:
    unpriced = draft(lines=[line("l2", priced=False, filename="big.stl")])
    with pytest.raises(GuardFailed, match="unpriced lines"):
        unpriced.place(CUSTOMER, NOW, CTX)
    with pytest.raises(GuardFailed, match="no lines"):
        draft(lines=[]).place(CUSTOMER, NOW, CTX)


def test_submit_for_review_needs_a_line() -> None:
    order = draft(lines=[])
    with pytest.raises(GuardFailed, match="no lines"):
        order.submit_for_review(CUSTOMER, NOW)
    draft(lines=[line("l2", priced=False, filename="big.stl")]).submit_for_review(CUSTOMER, NOW)


@pytest.mark.parametrize("trigger", ["release", "start_manufacturing"])
def test_payment_before_production_refuses_unpaid_orders(trigger: str) -> None:
    strict = context(payment_before_production=True)
    order = order_in("placed")
    with pytest.raises(GuardFailed, match="payment_before_production"):
        fire(order, trigger, STAFF, shop_context=strict)
    assert order.status is OrderStatus.PLACED

    fire(order_in("placed"), trigger, STAFF, shop_context=context())
    fire(order_in("placed", paid=True), trigger, STAFF, shop_context=strict)
    accepted_po = order_in("po_payment_due")
    fire(accepted_po, trigger, STAFF, shop_context=strict)
    assert accepted_po.status is not OrderStatus.PO_PAYMENT_DUE


def test_a_provided_but_unaccepted_po_does_not_clear_payment() -> None:
    order = order_in("po_provided")
    with pytest.raises(GuardFailed, match="payment_before_production"):
        order.release(STAFF, NOW, context(payment_before_production=True))


def test_accept_po_due_date() -> None:
    order = order_in("po_provided")
    order.accept_po(STAFF, NOW, net_days=30)
    assert order.po is not None
    assert order.po.due_date == NOW.date() + timedelta(days=30)

    order = order_in("po_provided")
    order.accept_po(STAFF, NOW, due_date=NOW.date())
    assert order.po is not None
    assert order.po.due_date == NOW.date()


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"due_date": NOW.date(), "net_days": 3}, {"net_days": -1},
     {"due_date": NOW.date() - timedelta(days=1)}],
)
def test_accept_po_needs_one_sensible_due_date(kwargs: dict[str, object]) -> None:
    order = order_in("po_provided")
    with pytest.raises(InvalidInput):
        order.accept_po(STAFF, NOW, **kwargs)  # type: ignore[arg-type]
    assert order.status is OrderStatus.PO_PROVIDED


def test_provide_po_records_it() -> None:
    order = order_in("placed")
    order.provide_po(CUSTOMER, NOW, " PO-55 ", "sha256:abc")
    assert order.po is not None
    assert (order.po.number, order.po.document_ref, order.po.provided_at) == (
        "PO-55", "sha256:abc", NOW)
    assert not order.po.accepted


def test_ship_records_tracking_number() -> None:
    order = order_in("ready_for_shipping")
    order.ship(STAFF, NOW, "1Z999")
    assert order.tracking_number == "1Z999"


@pytest.mark.parametrize(
    ("status", "call"),
    [("manufacturing", lambda o: o.reprint(STAFF, NOW, " ")),
     ("placed", lambda o: o.hold(STAFF, NOW, "")),
     ("placed", lambda o: o.cancel_by_customer(CUSTOMER, NOW, "  ")),
     ("placed", lambda o: o.cancel_by_admin(STAFF, NOW, "")),
     ("firm_offer_sent", lambda o: o.request_changes(CUSTOMER, NOW, "")),
     ("placed", lambda o: o.provide_po(CUSTOMER, NOW, "")),
     ("ready_for_shipping", lambda o: o.ship(STAFF, NOW, " "))],
)
def test_blank_reasons_and_data_are_refused(status: str, call: object) -> None:
    order = order_in(status)
    with pytest.raises(InvalidInput, match="must not be empty"):
        call(order)  # type: ignore[operator]
    assert order.status is OrderStatus(status)
    assert order.history == []


def test_reasons_become_the_history_note() -> None:
    order = order_in("placed")
    event = order.hold(STAFF, NOW, "  waiting for resin ")
    assert event.note == order.history[-1].note == "waiting for resin"


# -- hold and resume -----------------------------------------------------------


@pytest.mark.parametrize("status", HOLDABLE)
def test_hold_and_resume_return_to_the_status_held_from(status: str) -> None:
    order = order_in(status)
    order.hold(STAFF, NOW, "machine down")
    assert order.status is OrderStatus.ON_HOLD
    assert order.held_from is OrderStatus(status)

    event = order.resume(STAFF, NOW + timedelta(hours=1))

    assert order.status is OrderStatus(status)
    assert order.held_from is None
    assert (event.from_status, event.to_status) == (OrderStatus.ON_HOLD, OrderStatus(status))
    assert [(h.trigger, h.to_status) for h in order.history] == [
        (Trigger.HOLD, OrderStatus.ON_HOLD), (Trigger.RESUME, OrderStatus(status))]


def test_cannot_hold_twice() -> None:
    order = order_in("placed")
    order.hold(STAFF, NOW, "one")
    with pytest.raises(InvalidTransition, match="cannot hold"):
        order.hold(STAFF, NOW, "two")
    assert order.held_from is OrderStatus.PLACED


def test_canceling_an_order_on_hold_forgets_where_it_was() -> None:
    order = order_in("manufacturing")
    order.hold(STAFF, NOW, "dispute")
    order.cancel_by_admin(STAFF, NOW, "dispute lost")
    assert (order.status, order.held_from) == (OrderStatus.CANCELED_BY_ADMIN, None)


def test_order_reachable_narrows_resume_to_held_from() -> None:
    order = order_in("on_hold", held_from="shipped")
    assert order.reachable() == [(Trigger.RESUME, OrderStatus.SHIPPED),
                                 (Trigger.CANCEL_BY_ADMIN, OrderStatus.CANCELED_BY_ADMIN)]


# -- change_status -----------------------------------------------------------


def test_change_status_finds_the_trigger() -> None:
    order = order_in("placed")
    event = order.change_status(STAFF, NOW, OrderStatus.PO_PROVIDED, CTX,
                                build_command(Trigger.PROVIDE_PO, {"po_number": "PO-1"}))
    assert event.trigger is Trigger.PROVIDE_PO
    assert order.po is not None
    assert order.po.number == "PO-1"

    event = order.change_status(STAFF, NOW, OrderStatus.WAITING_FOR_PAYMENT, CTX, note="chased")
    assert (event.trigger, event.note) == (Trigger.REQUEST_PAYMENT, "chased")


def test_change_status_refuses_a_command_of_another_trigger() -> None:
    order = order_in("placed")
    with pytest.raises(InvalidInput, match="PO provided is reached by provide_po, not by ship"):
        order.change_status(STAFF, NOW, OrderStatus.PO_PROVIDED, CTX,
                            build_command(Trigger.SHIP, {}))
    assert order.status is OrderStatus.PLACED


def test_change_status_names_the_data_a_move_needs() -> None:
    order = order_in("placed")
    with pytest.raises(InvalidInput, match="provide_po needs po_number"):
        order.change_status(STAFF, NOW, OrderStatus.PO_PROVIDED, CTX)
    assert (order.status, order.history) == (OrderStatus.PLACED, [])


def test_change_status_uses_the_note_as_reason() -> None:
    order = order_in("manufacturing")
    event = order.change_status(STAFF, NOW, OrderStatus.ON_HOLD, CTX, note="power cut")
    assert (event.trigger, event.note, order.held_from) == (
        Trigger.HOLD, "power cut", OrderStatus.MANUFACTURING)

    event = order.change_status(STAFF, NOW, OrderStatus.MANUFACTURING, CTX)
    assert event.trigger is Trigger.RESUME


def test_change_status_applies_the_shops_settings_to_guarded_triggers() -> None:
    order = order_in("placed")
    with pytest.raises(GuardFailed, match="payment_before_production"):
        order.change_status(STAFF, NOW, OrderStatus.MANUFACTURING,
                            context(payment_before_production=True))
    order.change_status(STAFF, NOW, OrderStatus.MANUFACTURING, CTX)
    assert order.status is OrderStatus.MANUFACTURING


def test_change_to_placed_applies_the_review_policy_and_records_the_price() -> None:
    strict = attrs.evolve(shop(), settings=attrs.evolve(
        settings(), review=ReviewPolicy(ReviewMode.SEMI_MANUAL, max_quantity=1)))
    order = draft()
    with pytest.raises(GuardFailed, match="must be submitted for review: 2 parts is over 1"):
        order.change_status(STAFF, NOW, OrderStatus.PLACED, ShopContext(strict, CATALOG))
    assert (order.status, order.agreed_quote) == (OrderStatus.DRAFT, None)

    order.change_status(STAFF, NOW, OrderStatus.PLACED, CTX)
    assert order.status is OrderStatus.PLACED
    assert order.agreed_quote is not None
    assert order.agreed_quote == order.price(CATALOG)
    assert order.agreed_quote.total is not None


def test_change_to_firm_offer_sent_locks_the_price_and_sets_the_expiry() -> None:
    order = order_in("waiting_for_review")
    order.change_status(STAFF, NOW, OrderStatus.FIRM_OFFER_SENT, CTX)
    assert order.offer_revision == 1
    assert order.offer_expires_at == NOW + timedelta(days=CTX.settings.offer_validity_days)
    assert order.agreed_quote == order.price(CATALOG)
    dearer = CATALOG_WITH_SHIPPING(Money("99.00", "EUR"))
    assert order.quote(dearer) == order.agreed_quote
    assert order.quote(dearer).total != order.price(dearer).total


def test_reachable_statuses_list_the_fields_each_move_needs() -> None:
    order = order_in("po_provided")
    options = {o.status: o for o in order.reachable_statuses(STAFF)}
    assert set(options) == {OrderStatus.WAITING_FOR_PAYMENT, OrderStatus.PO_PAYMENT_DUE,
                            OrderStatus.FREE_FOR_MANUFACTURING, OrderStatus.MANUFACTURING,
                            OrderStatus.ON_HOLD, OrderStatus.CANCELED_BY_CUSTOMER,
                            OrderStatus.CANCELED_BY_ADMIN}
    accept = options[OrderStatus.PO_PAYMENT_DUE]
    assert accept.trigger is Trigger.ACCEPT_PO
    assert [(f.name, f.kind, f.required) for f in accept.fields] == [
        ("due_date", "date", False), ("net_days", "integer", False), ("note", "text", False)]
    hold = options[OrderStatus.ON_HOLD]
    assert [(f.name, f.required) for f in hold.fields] == [("reason", True)]
    customer_view = {o.status for o in order.reachable_statuses(CUSTOMER)}
    assert customer_view == {OrderStatus.CANCELED_BY_CUSTOMER}
    assert OrderStatus.CANCELED_BY_CUSTOMER in options  # staff may cancel for the customer


def test_reachable_statuses_from_hold_offer_the_status_held_from() -> None:
    order = order_in("on_hold", held_from="shipped")
    assert [(o.status, o.trigger) for o in order.reachable_statuses(STAFF)] == [
        (OrderStatus.SHIPPED, Trigger.RESUME),
        (OrderStatus.CANCELED_BY_ADMIN, Trigger.CANCEL_BY_ADMIN)]


def test_change_status_lists_reachable_statuses_when_none_leads_there() -> None:
    order = order_in("manufacturing")
    with pytest.raises(InvalidTransition) as caught:
        order.change_status(STAFF, NOW, OrderStatus.DRAFT, CTX)
    message = str(caught.value)
    assert "order 1042 is Manufacturing: no move to Draft (draft)" in message
    listed = set(re.findall(r"([\w -]+) \((\w+)\)", message.split("reachable: ")[1]))
    assert {(label.strip(), trigger) for label, trigger in listed} == {
        ("Post-production", "start_post_production"), ("Re-printing", "reprint"),
        ("Ready for shipping", "mark_ready_for_shipping"),
        ("Ready for pickup", "mark_ready_for_pickup"), ("On hold", "hold"),
        ("Canceled by admin", "cancel_by_admin")}
    assert order.status is OrderStatus.MANUFACTURING


def test_change_status_from_hold_reaches_only_the_held_from_status() -> None:
    order = order_in("on_hold", held_from="placed")
    with pytest.raises(InvalidTransition, match=r"reachable: Placed \(resume\), Canceled by admin"):
        order.change_status(STAFF, NOW, OrderStatus.SHIPPED, CTX)


def test_change_status_on_a_final_order() -> None:
    with pytest.raises(InvalidTransition, match="reachable: none"):
        order_in("delivered").change_status(STAFF, NOW, OrderStatus.SHIPPED, CTX)


def test_change_status_is_for_staff() -> None:
    order = order_in("placed")
    with pytest.raises(PermissionDenied):
        order.change_status(CUSTOMER, NOW, OrderStatus.CANCELED_BY_CUSTOMER, CTX, note="x")
    with pytest.raises(PermissionDenied, match="only the customer may accept_offer"):
        order_in("firm_offer_sent").change_status(STAFF, NOW, OrderStatus.PLACED, CTX)
    assert order.status is OrderStatus.PLACED


# -- actors --------------------------------------------------------------------

FIRST_SOURCE = {trigger: sources[0] for trigger, (sources, _, _) in TABLE.items()}


@pytest.mark.parametrize("trigger", [t for t, (_, _, who) in TABLE.items() if who == "S"])
def test_customers_cannot_pull_staff_triggers(trigger: str) -> None:
    order = order_in(FIRST_SOURCE[trigger])
    with pytest.raises(PermissionDenied, match=f"only shop staff may {trigger}"):
        fire(order, trigger, CUSTOMER)
    assert order.history == []


@pytest.mark.parametrize("trigger", [t for t, (_, _, who) in TABLE.items() if who == "C"])
@pytest.mark.parametrize("actor", [STAFF, SYSTEM], ids=["staff", "system"])
def test_only_the_customer_pulls_customer_triggers(trigger: str, actor: object) -> None:
    order = order_in(FIRST_SOURCE[trigger])
    with pytest.raises(PermissionDenied, match=f"only the customer may {trigger}"):
        fire(order, trigger, actor)  # type: ignore[arg-type]
    assert order.status is OrderStatus.FIRM_OFFER_SENT


@pytest.mark.parametrize("trigger", [t for t, (_, _, who) in TABLE.items() if who == "CS"])
def test_either_side_pulls_shared_triggers(trigger: str) -> None:
    for actor in (CUSTOMER, STAFF, SYSTEM):
        order = order_in(FIRST_SOURCE[trigger])
        fire(order, trigger, actor)
        assert order.history[-1].actor == actor


@pytest.mark.parametrize("trigger", list(TABLE))
def test_strangers_cannot_even_see_the_order(trigger: str) -> None:
    for actor in (STRANGER, OTHER_SHOP_STAFF):
        order = order_in(FIRST_SOURCE[trigger])
        with pytest.raises(NotFound, match="no order 1042"):
            fire(order, trigger, actor)
        assert order.history == []


def test_permission_is_checked_before_the_status() -> None:
    with pytest.raises(PermissionDenied):
        order_in("delivered").ship(CUSTOMER, NOW)


# -- time ----------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 2, 9, 0)
    order = draft()
    with pytest.raises(InvalidInput, match="timezone-aware"):
        order.place(CUSTOMER, naive, CTX)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        order.send_firm_offer(STAFF, NOW, CTX, expires_at=naive)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        draft(created_at=naive)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        order.mark_paid(STAFF, naive, "x", order.lines_total)  # type: ignore[arg-type]
    assert order.status is OrderStatus.DRAFT
    assert order.offer_revision == 0


def test_aware_times_are_stored_in_utc() -> None:
    order = draft()
    berlin = NOW.astimezone(timezone(timedelta(hours=1)))
    event = order.place(CUSTOMER, berlin, CTX)
    assert event.at == NOW
    assert event.at.tzinfo is UTC
    assert order.history[0].at.tzinfo is UTC


def test_the_machine_leaves_orders_typed() -> None:
    order: Order = draft()
    order.submit_for_review(CUSTOMER, NOW)
    assert type(order.status) is OrderStatus
    assert not hasattr(order, "__dict__")


def test_diagram_shows_every_edge() -> None:
    diagram = mermaid_diagram()
    assert diagram.startswith("---\ntitle: Order statuses\n---\nstateDiagram-v2\n")
    assert 'state "PO Payment due" as PO_PAYMENT_DUE' in diagram
    for trigger, (sources, dest, _) in TABLE.items():
        for source in sources:
            for target in ([dest] if dest else HOLDABLE):
                edge = f"{source.upper()} --> {target.upper()}: "
                line = next(x for x in diagram.splitlines() if x.strip().startswith(edge))
                assert trigger in line.split(": ", 1)[1].split(" | ")
