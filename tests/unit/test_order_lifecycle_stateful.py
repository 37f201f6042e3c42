"""Random walks through the order lifecycle, checked against DESIGN.md's tables."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from order_builders import (
    BILLING_EMAIL,
    CUSTOMER,
    CUSTOMER_EMAIL,
    FINAL,
    MAILS,
    NOW,
    OTHER_SHOP_STAFF,
    SHOP_EMAILS,
    STAFF,
    STRANGER,
    SYSTEM,
    TABLE,
    context,
    customer,
    draft,
    edges_from,
    eur,
    fire,
)

from fabcore.domain.actor import Actor
from fabcore.domain.errors import GuardFailed, InvalidTransition, NotFound, PermissionDenied
from fabcore.domain.events import PaymentChanged, StatusChanged
from fabcore.domain.notifications import MailIntent, mails_for
from fabcore.domain.status import OrderStatus, PaymentStatus

ACTORS: dict[str, Actor] = {
    "customer": CUSTOMER, "staff": STAFF, "system": SYSTEM,
    "stranger": STRANGER, "other_shop": OTHER_SHOP_STAFF,
}
# Who cannot see the order at all: refused as if it did not exist.
UNSEEING = {"stranger", "other_shop"}
NOT_YET_PLACED = {"draft", "waiting_for_review", "firm_offer_sent"}
CANCELED = {"canceled_by_customer", "canceled_by_admin"}


def may(actor: str, who: str) -> bool:
    """Whether ``actor`` may act where DESIGN.md's actor column says ``who``."""
    if actor == "customer":
        return who in ("C", "CS")
    if actor in ("staff", "system"):
        return who in ("S", "CS")
    return False


def expected_mails(occasion: str) -> list[tuple[str, tuple[str, ...], tuple[str, ...],
                                                str | None]]:
    customer_template, shop_template, cc_billing, link = MAILS[occasion]
    out: list[tuple[str, tuple[str, ...], tuple[str, ...], str | None]] = []
    if customer_template:
        out.append((customer_template, (CUSTOMER_EMAIL,),
                    (BILLING_EMAIL,) if cc_billing else (), link))
    if shop_template:
        out.append((shop_template, SHOP_EMAILS, (), None))
    return out


def summary(mails: list[MailIntent]) -> list[tuple[str, tuple[str, ...], tuple[str, ...],
                                                   str | None]]:
    return [(m.template, m.to, m.cc, m.link.value if m.link else None) for m in mails]


class OrderLifecycle(RuleBasedStateMachine):
    """Drives one order with random triggers and actors; a model predicts every outcome."""

    @initialize(payment_before_production=st.booleans())
    def start(self, payment_before_production: bool) -> None:
        self.context = context(payment_before_production=payment_before_production)
        self.shop = self.context.shop
        self.customer = customer()
        self.order = draft()
        self.now = NOW
        self.moves = 0
        # The model, kept with plain strings.
        self.status = "draft"
        self.held_from: str | None = None
        self.paid = False
        self.po_accepted = False

    def _tick(self) -> None:
        self.now += timedelta(minutes=1)

    @rule(trigger=st.sampled_from(sorted(TABLE)), actor=st.sampled_from(sorted(ACTORS)))
    def pull(self, trigger: str, actor: str) -> None:
        """Any trigger at all, mostly refused."""
        self._attempt(trigger, actor)

    @precondition(lambda self: self.status not in FINAL)
    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        """A trigger the table allows from here (cancels aside) by someone who may pull it,
        so that walks get deep."""
        onward = sorted(t for t in edges_from(self.status) if not t.startswith("cancel"))
        trigger = data.draw(st.sampled_from(onward), label="trigger")
        actors = sorted(a for a in ACTORS if may(a, TABLE[trigger][2]))
        self._attempt(trigger, data.draw(st.sampled_from(actors), label="actor"))

    def _attempt(self, trigger: str, actor: str) -> None:
        self._tick()
        sources, dest, who = TABLE[trigger]
        before = self.order.status.value
        history = len(self.order.history)
        assert before == self.status
        permitted = may(actor, who)
        edge = before in sources
        blocked = (trigger in ("release", "start_manufacturing")
                   and self.shop.settings.payment_before_production
                   and not (self.paid or self.po_accepted))
        try:
            event = fire(self.order, trigger, ACTORS[actor], self.now, self.context)
        except NotFound:
            assert actor in UNSEEING
        except PermissionDenied:
            assert actor not in UNSEEING
            assert not permitted
        except GuardFailed:
            assert permitted
            assert edge
            assert blocked
        except InvalidTransition:
            assert permitted
            assert not edge
        else:
            assert permitted
            assert edge
            assert not blocked
            assert before not in FINAL
            target = self.held_from if trigger == "resume" else dest
            assert self.order.status.value == target
            assert isinstance(event, StatusChanged)
            assert (event.from_status.value, event.to_status.value, event.trigger.value) == (
                before, target, trigger)
            assert summary(mails_for(event, self.order, self.customer, self.shop)) == (
                expected_mails("resumed" if trigger == "resume" else str(target)))
            self.moves += 1
            self.held_from = before if trigger == "hold" else None
            self.status = str(target)
            if trigger == "accept_po":
                self.po_accepted = True
            return
        assert self.order.status.value == before
        assert len(self.order.history) == history

    @rule(actor=st.sampled_from(sorted(ACTORS)))
    def pay(self, actor: str) -> None:
        self._tick()
        effective = self.held_from or self.status
        try:
            event = self.order.mark_paid(ACTORS[actor], self.now, "pi_1", eur("10.00"))
        except NotFound:
            assert actor in UNSEEING
        except PermissionDenied:
            assert actor not in UNSEEING
            assert not may(actor, "S")
        except GuardFailed:
            assert may(actor, "S")
            assert self.paid or effective in NOT_YET_PLACED or effective in CANCELED
        else:
            assert may(actor, "S")
            assert not self.paid
            assert effective not in NOT_YET_PLACED | CANCELED
            assert isinstance(event, PaymentChanged)
            assert summary(mails_for(event, self.order, self.customer, self.shop)) == (
                expected_mails("paid"))
            self.paid = True

    @rule(actor=st.sampled_from(sorted(ACTORS)))
    def unpay(self, actor: str) -> None:
        self._tick()
        try:
            event = self.order.mark_unpaid(ACTORS[actor], self.now)
        except NotFound:
            assert actor in UNSEEING
        except PermissionDenied:
            assert actor not in UNSEEING
            assert not may(actor, "S")
        except GuardFailed:
            assert may(actor, "S")
            assert not self.paid
        else:
            assert self.paid
            assert mails_for(event, self.order, self.customer, self.shop) == []
            self.paid = False

    @invariant()
    def history_counts_the_moves(self) -> None:
        if hasattr(self, "order"):
            assert len(self.order.history) == self.moves
            for earlier, later in zip(self.order.history, self.order.history[1:], strict=False):
                assert earlier.to_status is later.from_status

    @invariant()
    def held_from_is_set_exactly_on_hold(self) -> None:
        if hasattr(self, "order"):
            on_hold = self.order.status is OrderStatus.ON_HOLD
            assert (self.order.held_from is not None) is on_hold
            assert self.order.status.value == self.status
            assert (self.order.payment_status is PaymentStatus.PAID) is self.paid


OrderLifecycle.TestCase.settings = settings(max_examples=150, stateful_step_count=60,
                                            deadline=None)
TestOrderLifecycle = OrderLifecycle.TestCase
