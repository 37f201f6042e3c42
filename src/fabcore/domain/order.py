"""The order aggregate: lines, offer, purchase order, payment, invoice and history.

Every status change goes through one typed method per trigger (``place``,
``send_firm_offer``, ``ship``, ...), and :meth:`Order.execute` dispatches a
typed command (:mod:`fabcore.domain.commands`) to that same method, so a move
asked for by name and the same move asked for by its target status
(:meth:`Order.change_status`, the back office's "Change") run one path. The
methods that depend on the shop take its :class:`~fabcore.domain.shop.ShopContext`
(settings and catalog): placing applies the review policy and records the
agreed price; sending a firm offer records it and sets the expiry;
releasing and manufacturing apply "payment before production".

Each method checks, in this order:

1. the times given are timezone-aware (``InvalidInput``);
2. the actor may pull the trigger on this order (``PermissionDenied``);
3. the status machine has the edge from the current status
   (``InvalidTransition``, naming the triggers allowed from there);
4. the data passed and the trigger's guard (``InvalidInput``, ``GuardFailed``).

The first failure raises and leaves the order untouched. A success moves the
order through the module-level machine of :mod:`fabcore.domain.status`,
appends one :class:`HistoryEntry` and returns a
:class:`~fabcore.domain.events.StatusChanged` for the app layer to turn
into mails.

``version`` is the version the order was loaded at. The domain never changes
it: a repository saves only when the stored version still equals it, and
then increments it (optimistic concurrency, ``ConcurrencyConflict``
otherwise).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import attrs

from fabcore.domain import access, checks
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import ModelAnalysis, Units
from fabcore.domain.catalog import Catalog
from fabcore.domain.commands import (
    AcceptOffer,
    AcceptPo,
    CancelByAdmin,
    CancelByCustomer,
    Command,
    CommandField,
    Deliver,
    Hold,
    MarkReadyForPickup,
    MarkReadyForShipping,
    Place,
    ProvidePo,
    Release,
    Reprint,
    RequestChanges,
    RequestPayment,
    Resume,
    SendFirmOffer,
    Ship,
    StartManufacturing,
    StartPostProduction,
    SubmitForReview,
    build_command,
    command_fields,
)
from fabcore.domain.customer import Address
from fabcore.domain.errors import (
    CurrencyMismatch,
    GuardFailed,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from fabcore.domain.events import (
    PaymentChanged,
    PaymentFlagged,
    PaymentReminderDue,
    StatusChanged,
)
from fabcore.domain.money import Money
from fabcore.domain.pricing import price_order
from fabcore.domain.quote import Fee, LineBreakdown, LineQuote, LineSpec, OrderQuote
from fabcore.domain.review import review_required
from fabcore.domain.shop import ShopContext
from fabcore.domain.status import (
    WHO,
    OrderStatus,
    PaymentStatus,
    Trigger,
    Who,
    allowed_triggers,
    perform,
    reachable,
    targets,
)

# Days before a purchase order's due date when the payment reminder goes out.
PO_REMINDER_DAYS = 2

_EDITABLE = frozenset({OrderStatus.DRAFT, OrderStatus.WAITING_FOR_REVIEW})
_NOT_YET_PLACED = frozenset(
    {OrderStatus.DRAFT, OrderStatus.WAITING_FOR_REVIEW, OrderStatus.FIRM_OFFER_SENT}
)
_CANCELED = frozenset({OrderStatus.CANCELED_BY_CUSTOMER, OrderStatus.CANCELED_BY_ADMIN})


def _model_sha256(value: str) -> str:
    return checks.sha256(value, "model sha256")


def _order_number(value: str) -> str:
    return checks.text(value, "order number")


class PaymentPageState(enum.Enum):
    """What the customer's payment page shows."""

    BUDGET_OFFER = "budget_offer"
    FIRM_OFFER = "firm_offer"
    READY_FOR_PAYMENT = "ready_for_payment"
    PAID = "paid"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def can_pay(self) -> bool:
        """True when the page shows a pay button."""
        return self is PaymentPageState.READY_FOR_PAYMENT


@attrs.define
class OrderLine:
    """One uploaded model, what the customer picked for it, and its price.

    ``quote`` is the instant price; it counts only while it was made for the
    line's current ``spec``. In review, staff set ``firm_unit_price`` (which
    wins over the instant price) and one-off ``line_fees``. ``units`` is the
    length unit the model file was measured in.
    """

    id: str
    model_sha256: str = attrs.field(converter=_model_sha256)
    model_filename: str
    analysis: ModelAnalysis
    spec: LineSpec
    notes: str = ""
    quote: LineQuote | None = None
    firm_unit_price: Money | None = None
    line_fees: tuple[Fee, ...] = ()
    units: Units = Units.MM

    @property
    def instant_unit_price(self) -> Money | None:
        """The instant quote's unit price, if it is priced and still matches ``spec``."""
        q = self.quote
        if q is None or q.breakdown is None or q.spec != self.spec:
            return None
        return q.breakdown.unit_price

    @property
    def unit_price(self) -> Money | None:
        """The price one part costs: the firm price, else the instant one."""
        return self.firm_unit_price if self.firm_unit_price is not None else (
            self.instant_unit_price
        )

    @property
    def total(self) -> Money | None:
        """Unit price times quantity plus line fees; ``None`` while unpriced."""
        unit = self.unit_price
        if unit is None:
            return None
        result = unit * self.spec.quantity
        for fee in self.line_fees:
            result = result + fee.amount
        return result

    def unpriced_reason(self) -> str:
        """Why the line has no price, in plain words."""
        q = self.quote
        if q is None:
            return "not quoted"
        if q.spec != self.spec:
            return "changed since it was quoted"
        return "; ".join(q.review_reasons) or "not priced instantly"

    def effective_quote(self) -> LineQuote:
        """The line's quote with the shop's firm price and fees applied, when set.

        A firm price replaces the instant unit price; line fees are added to
        the line total. An instant quote made for another spec counts as unpriced.
        """
        quote = self.quote
        base = (
            quote if quote is not None and quote.spec == self.spec
            else LineQuote(self.spec, None, 0, ("changed since it was quoted",),
                           self.model_filename)
        )
        unit, total = self.unit_price, self.total
        if (self.firm_unit_price is None and not self.line_fees) or unit is None or total is None:
            return base
        zero = Money.zero(unit.currency)
        fees_total = sum((fee.amount for fee in self.line_fees), zero)
        if base.breakdown is not None:
            breakdown = attrs.evolve(
                base.breakdown, unit_price=unit, total=total,
                fees=base.breakdown.fees + self.line_fees,
                fees_total=base.breakdown.fees_total + fees_total,
                notes=(*base.breakdown.notes, "firm price set by the shop"),
            )
        else:
            breakdown = LineBreakdown(
                material_per_part=zero, machine_hours_per_part=zero.amount,
                machine_per_part=zero, post_production_per_part=zero, fees=self.line_fees,
                fees_total=fees_total, minimum_price_adjustment=zero,
                discount_percent=zero.amount, discount=zero, unit_price=unit, total=total,
                notes=("firm price set by the shop",),
            )
        return attrs.evolve(base, breakdown=breakdown, review_reasons=())


@attrs.frozen
class Shipping:
    """How the order reaches the customer; ``address`` is ``None`` for pickup."""

    method: str
    address: Address | None = None


@attrs.frozen
class PurchaseOrder:
    """A customer's purchase order; ``due_date`` is set when the shop accepts it."""

    number: str
    provided_at: datetime
    document_ref: str | None = None
    due_date: date | None = None
    reminder_sent_at: datetime | None = None

    @property
    def accepted(self) -> bool:
        return self.due_date is not None


@attrs.frozen
class HistoryEntry:
    """One status change of an order.

    ``request_key`` is set when the request that made it had an idempotency
    key: the id derived from it, so a retry of that request is recognised.
    """

    from_status: OrderStatus
    to_status: OrderStatus
    trigger: Trigger
    actor: Actor
    at: datetime
    note: str | None = None
    request_key: str | None = None


@attrs.frozen
class PaymentEntry:
    """One change of an order's payment status (``request_key`` as for :class:`HistoryEntry`)."""

    status: PaymentStatus
    actor: Actor
    at: datetime
    reference: str | None = None
    amount: Money | None = None
    note: str | None = None
    event_id: str | None = None
    request_key: str | None = None


@attrs.frozen
class InvoiceRecord:
    """The invoice issued for an order: its number (without gaps per shop) and terms."""

    number: str
    issued_at: datetime
    due_date: date


@attrs.frozen
class StatusOption:
    """A status the order can be moved to now, by which trigger, with which data.

    What the back office's "Change" menu lists (see :meth:`Order.reachable_statuses`).
    """

    status: OrderStatus
    trigger: Trigger
    fields: tuple[CommandField, ...]


@attrs.frozen
class PaymentIssue:
    """A payment that arrived but was not applied; staff refund it or settle the difference.

    ``expected`` is the total the order was due at the time (``None`` when it
    was already paid); ``reason`` says what is wrong in plain words.
    """

    reference: str
    amount: Money
    expected: Money | None
    reason: str
    actor: Actor
    at: datetime
    event_id: str | None = None


@attrs.define
class Order:
    """An order of one customer at one shop (see the module docstring).

    Orders load from storage in any status: build one with every field.
    Invariant kept by the methods: ``held_from`` is set exactly while the
    order is on hold. ``agreed_quote`` is the price breakdown the customer
    agreed to (recorded when placing or sending the firm offer), so later
    catalog changes do not change what the order costs.
    """

    id: str
    shop_id: str
    number: str = attrs.field(converter=_order_number)
    currency: str = attrs.field(converter=checks.currency)
    created_at: datetime = attrs.field(converter=checks.utc)
    customer_id: str | None = None
    lines: list[OrderLine] = attrs.field(factory=list)
    shipping: Shipping | None = None
    billing_address: Address | None = None
    status: OrderStatus = OrderStatus.DRAFT
    payment_status: PaymentStatus = PaymentStatus.UNPAID
    offer_revision: int = 0
    offer_expires_at: datetime | None = attrs.field(default=None, converter=checks.optional_utc)
    po: PurchaseOrder | None = None
    held_from: OrderStatus | None = None
    tracking_number: str | None = None
    history: list[HistoryEntry] = attrs.field(factory=list)
    payments: list[PaymentEntry] = attrs.field(factory=list)
    payment_issues: list[PaymentIssue] = attrs.field(factory=list)
    agreed_quote: OrderQuote | None = None
    invoice: InvoiceRecord | None = None
    version: int = 0

    # -- reading ---------------------------------------------------------

    def __str__(self) -> str:
        return f"order {self.number}"

    @property
    def terminal(self) -> bool:
        return self.status.terminal

    @property
    def editable(self) -> bool:
        """Lines, shipping and billing may change only before the firm offer."""
        return self.status in _EDITABLE

    @property
    def effective_status(self) -> OrderStatus:
        """The status that counts for payment: the held-from one while on hold."""
        if self.status is OrderStatus.ON_HOLD and self.held_from is not None:
            return self.held_from
        return self.status

    @property
    def paid(self) -> bool:
        return self.payment_status is PaymentStatus.PAID

    @property
    def payment_page_state(self) -> PaymentPageState | None:
        """What the customer's payment page shows; ``None`` where it has no page."""
        status = self.effective_status
        if status is OrderStatus.DRAFT or status in _CANCELED:
            return None
        if status is OrderStatus.WAITING_FOR_REVIEW:
            return PaymentPageState.BUDGET_OFFER
        if status is OrderStatus.FIRM_OFFER_SENT:
            return PaymentPageState.FIRM_OFFER
        return PaymentPageState.PAID if self.paid else PaymentPageState.READY_FOR_PAYMENT

    @property
    def lines_total(self) -> Money | None:
        """Sum of the line totals, before order fees, shipping and tax; ``None`` while unpriced.

        What the order costs in all is the ``total`` of :meth:`quote`.
        """
        result = Money.zero(self.currency)
        for line in self.lines:
            line_total = line.total
            if line_total is None:
                return None
            result = result + line_total
        return result

    def line(self, line_id: str) -> OrderLine:
        for line in self.lines:
            if line.id == line_id:
                return line
        raise NotFound(f"{self} has no line {line_id!r}")

    def reachable(self) -> list[tuple[Trigger, OrderStatus]]:
        """The ``(trigger, status)`` moves open from here; ``resume`` only to ``held_from``."""
        return [(trigger, target) for trigger, target in reachable(self.status)
                if trigger is not Trigger.RESUME or target is self.held_from]

    def reachable_statuses(self, actor: Actor) -> list[StatusOption]:
        """The statuses ``actor`` may move the order to now, with the data each needs.

        One option per status (the first trigger of the table that leads
        there), in table order. Guards that depend on data (an unpaid order
        under "payment before production") are checked when the move is made.
        """
        self._see(actor)
        options: dict[OrderStatus, StatusOption] = {}
        for trigger, target in self.reachable():
            if target in options or not _may(actor, WHO[trigger]):
                continue
            options[target] = StatusOption(target, trigger, command_fields(trigger))
        return list(options.values())

    def price(self, catalog: Catalog) -> OrderQuote:
        """The order priced from ``catalog`` as it stands: instant and firm prices, tax..."""
        lines = [line.effective_quote() for line in self.lines]
        method = self.shipping.method if self.shipping is not None else None
        return price_order(catalog, lines, method)

    def quote(self, catalog: Catalog) -> OrderQuote:
        """What the order costs: the agreed breakdown once there is one, else today's price.

        The agreed breakdown is recorded when the order is placed or a firm
        offer is sent; while the order can still be edited (draft, review)
        the current catalog prices it.
        """
        if self.agreed_quote is not None and not self.editable:
            return self.agreed_quote
        return self.price(catalog)

    def review_reasons(self, shop: ShopContext) -> tuple[str, ...]:
        """Why the order must go to review instead of being placed (empty: it may be placed)."""
        return review_required(shop.settings.review, self.price(shop.catalog),
                               [line.analysis for line in self.lines])

    def po_reminder_date(self) -> date | None:
        """The day the purchase-order payment reminder is due, if one is pending."""
        po = self.po
        if (self.status is not OrderStatus.PO_PAYMENT_DUE or self.paid or po is None
                or po.due_date is None or po.reminder_sent_at is not None):
            return None
        return po.due_date - timedelta(days=PO_REMINDER_DAYS)

    # -- editing (draft and review only) ---------------------------------

    def _require_editable(self, what: str) -> None:
        if not self.editable:
            raise GuardFailed(
                f"{self} is {self.status.label}: {what} can change only in Draft or "
                "Waiting for review"
            )

    def _check_currency(self, money: Money | None, what: str) -> None:
        if money is not None and money.currency != self.currency:
            raise CurrencyMismatch(f"{what} is in {money.currency}; {self} is in {self.currency}")

    def set_line(self, line: OrderLine) -> None:
        """Add ``line``, or replace the line with the same id."""
        self._require_editable("lines")
        self._check_currency(line.instant_unit_price, "instant price")
        self._check_currency(line.firm_unit_price, "firm unit price")
        for fee in line.line_fees:
            self._check_currency(fee.amount, f"fee {fee.name!r}")
        for i, existing in enumerate(self.lines):
            if existing.id == line.id:
                self.lines[i] = line
                return
        self.lines.append(line)

    def remove_line(self, line_id: str) -> None:
        self._require_editable("lines")
        self.lines.remove(self.line(line_id))

    def set_firm_price(
        self, line_id: str, unit_price: Money | None, fees: Sequence[Fee] = ()
    ) -> None:
        """Staff's price for a line in review (``None`` returns to the instant price)."""
        line = self.line(line_id)
        self.set_line(attrs.evolve(line, firm_unit_price=unit_price, line_fees=tuple(fees)))

    def set_customer(self, customer_id: str) -> None:
        self._require_editable("the customer")
        self.customer_id = checks.text(customer_id, "customer id")

    def set_shipping(self, shipping: Shipping | None) -> None:
        self._require_editable("shipping")
        self.shipping = shipping

    def set_billing_address(self, address: Address | None) -> None:
        self._require_editable("the billing address")
        self.billing_address = address

    # -- the machinery shared by every trigger ---------------------------

    def _see(self, actor: Actor) -> None:
        access.visible_order(actor, self, str(self))

    def _authorize(self, actor: Actor, action: str, who: Who) -> None:
        self._see(actor)
        access.may_pull(actor, who, action, str(self))

    def _refuse(self, trigger: Trigger) -> InvalidTransition:
        allowed = ", ".join(t.value for t in allowed_triggers(self.status)) or "none (final status)"
        return InvalidTransition(
            f"{self} is {self.status.label} ({self.status.value}): cannot {trigger.value}; "
            f"allowed from {self.status.value}: {allowed}"
        )

    def _begin(self, trigger: Trigger, actor: Actor, now: datetime) -> tuple[datetime, OrderStatus]:
        """Checks 1-3 of the module docstring; returns UTC ``now`` and the target status."""
        now = checks.utc(now, "now")
        self._authorize(actor, trigger.value, WHO[trigger])
        options = targets(trigger, self.status)
        if trigger is Trigger.RESUME:
            options = [s for s in options if s is self.held_from]
        if len(options) != 1:
            raise self._refuse(trigger)
        return now, options[0]

    def _apply(
        self, trigger: Trigger, target: OrderStatus, actor: Actor, now: datetime,
        note: str | None,
    ) -> StatusChanged:
        source = self.status
        perform(trigger, self, target)
        if source is OrderStatus.ON_HOLD:
            self.held_from = None
        self.history.append(HistoryEntry(source, target, trigger, actor, now, note))
        return StatusChanged(self.id, source, target, trigger, actor, now, note)

    def _require_firm_prices(self, action: str) -> None:
        if not self.lines:
            raise GuardFailed(f"cannot {action} {self}: it has no lines")
        unpriced = [f"{line.model_filename} ({line.unpriced_reason()})"
                    for line in self.lines if line.unit_price is None]
        if unpriced:
            raise GuardFailed(f"cannot {action} {self}: unpriced lines: {', '.join(unpriced)}")

    def _require_payment_cleared(self, action: str, shop: ShopContext) -> None:
        po_accepted = self.po is not None and self.po.accepted
        if shop.settings.payment_before_production and not (self.paid or po_accepted):
            raise GuardFailed(
                f"cannot {action} {self}: the shop setting payment_before_production requires "
                "the order to be paid (or its purchase order accepted) first"
            )

    # -- one method per trigger ------------------------------------------

    def _check_shop(self, shop: ShopContext) -> None:
        if shop.shop.id != self.shop_id:
            raise InvalidInput(f"{self} does not belong to shop {shop.shop.id}")
        if shop.catalog.currency != self.currency:
            raise CurrencyMismatch(
                f"the shop's catalog prices in {shop.catalog.currency}; {self} is in "
                f"{self.currency}"
            )

    def place(
        self, actor: Actor, now: datetime, shop: ShopContext, *, note: str | None = None
    ) -> StatusChanged:
        """Place a complete, instantly priced order and record the price agreed.

        The shop's review policy decides (:meth:`review_reasons`); any reason
        refuses the move (submit for review instead).
        """
        now, target = self._begin(Trigger.PLACE, actor, now)
        self._check_shop(shop)
        self._require_firm_prices("place")
        missing = [what for what, value in (("customer", self.customer_id),
                                             ("shipping", self.shipping),
                                             ("billing address", self.billing_address))
                   if value is None]
        if missing:
            raise GuardFailed(f"cannot place {self}: missing {', '.join(missing)}")
        reasons = self.review_reasons(shop)
        if reasons:
            raise GuardFailed(f"{self} must be submitted for review: {'; '.join(reasons)}")
        self.agreed_quote = self.price(shop.catalog)
        return self._apply(Trigger.PLACE, target, actor, now, note)

    def submit_for_review(
        self, actor: Actor, now: datetime, *, note: str | None = None
    ) -> StatusChanged:
        """Ask the shop to review the order and send a firm offer."""
        now, target = self._begin(Trigger.SUBMIT_FOR_REVIEW, actor, now)
        if not self.lines:
            raise GuardFailed(f"cannot submit {self} for review: it has no lines")
        return self._apply(Trigger.SUBMIT_FOR_REVIEW, target, actor, now, note)

    def send_firm_offer(
        self, actor: Actor, now: datetime, shop: ShopContext,
        expires_at: datetime | None = None, *, note: str | None = None,
    ) -> StatusChanged:
        """Send (or re-send) the firm offer; each sending is a new revision.

        The price offered is recorded as the agreed one. The offer expires at
        ``expires_at``, else after the shop's ``offer_validity_days``.
        """
        now, target = self._begin(Trigger.SEND_FIRM_OFFER, actor, now)
        self._check_shop(shop)
        expires = checks.optional_utc(expires_at, "offer expiry")
        if expires is None:
            expires = now + timedelta(days=shop.settings.offer_validity_days)
        if expires <= now:
            raise InvalidInput(f"offer expiry {expires.isoformat()} is not after {now.isoformat()}")
        self._require_firm_prices("send a firm offer for")
        if self.customer_id is None:
            raise GuardFailed(f"cannot send a firm offer for {self}: no customer set")
        quote = self.price(shop.catalog)
        if quote.total is None:
            raise GuardFailed(
                f"cannot send a firm offer for {self}: {'; '.join(quote.review_reasons)}"
            )
        self.offer_revision += 1
        self.offer_expires_at = expires
        self.agreed_quote = quote
        return self._apply(Trigger.SEND_FIRM_OFFER, target, actor, now, note)

    def accept_offer(
        self, actor: Actor, now: datetime, revision: int, *, note: str | None = None
    ) -> StatusChanged:
        """The customer accepts the offer revision they were shown."""
        now, target = self._begin(Trigger.ACCEPT_OFFER, actor, now)
        if revision != self.offer_revision:
            raise GuardFailed(
                f"offer revision {revision} of {self} is no longer valid: the current offer is "
                f"revision {self.offer_revision}"
            )
        if self.offer_expires_at is not None and now >= self.offer_expires_at:
            raise GuardFailed(
                f"the offer for {self} expired at {self.offer_expires_at.isoformat()}"
            )
        return self._apply(Trigger.ACCEPT_OFFER, target, actor, now, note)

    def request_changes(self, actor: Actor, now: datetime, message: str) -> StatusChanged:
        """The customer sends the offer back to review with a message."""
        now, target = self._begin(Trigger.REQUEST_CHANGES, actor, now)
        message = checks.text(message, "message")
        return self._apply(Trigger.REQUEST_CHANGES, target, actor, now, message)

    def provide_po(
        self, actor: Actor, now: datetime, po_number: str, document_ref: str | None = None,
        *, note: str | None = None,
    ) -> StatusChanged:
        """Record the customer's purchase order (number, optional stored document)."""
        now, target = self._begin(Trigger.PROVIDE_PO, actor, now)
        number = checks.text(po_number, "PO number")
        self.po = PurchaseOrder(number, now, document_ref=document_ref)
        return self._apply(Trigger.PROVIDE_PO, target, actor, now, note)

    def request_payment(
        self, actor: Actor, now: datetime, *, note: str | None = None
    ) -> StatusChanged:
        now, target = self._begin(Trigger.REQUEST_PAYMENT, actor, now)
        return self._apply(Trigger.REQUEST_PAYMENT, target, actor, now, note)

    def accept_po(
        self, actor: Actor, now: datetime, due_date: date | None = None,
        net_days: int | None = None, *, note: str | None = None,
    ) -> StatusChanged:
        """Accept the purchase order; payment is due on ``due_date`` or after ``net_days``."""
        now, target = self._begin(Trigger.ACCEPT_PO, actor, now)
        if (due_date is None) == (net_days is None):
            raise InvalidInput("give exactly one of due_date and net_days")
        if net_days is not None:
            if isinstance(net_days, bool) or not isinstance(net_days, int) or net_days < 0:
                raise InvalidInput(f"net_days must be a whole number >= 0, got {net_days!r}")
            due = now.date() + timedelta(days=net_days)
        elif isinstance(due_date, date) and not isinstance(due_date, datetime):
            due = due_date
        else:
            raise InvalidInput(f"due_date must be a date, got {due_date!r}")
        if due < now.date():
            raise InvalidInput(f"due date {due.isoformat()} is in the past")
        if self.po is None:
            raise GuardFailed(f"{self} has no purchase order to accept")
        self.po = attrs.evolve(self.po, due_date=due, reminder_sent_at=None)
        return self._apply(Trigger.ACCEPT_PO, target, actor, now, note)

    def move_po_due_date(self, actor: Actor, now: datetime, due_date: date) -> None:
        """Staff move the payment due date of an accepted PO; a new reminder will go out."""
        now = checks.utc(now, "now")
        self._authorize(actor, "move the payment due date", Who.STAFF)
        po = self.po
        if self.status is not OrderStatus.PO_PAYMENT_DUE or po is None:
            raise GuardFailed(f"{self} is {self.status.label}: no PO payment is due")
        if not isinstance(due_date, date) or isinstance(due_date, datetime):
            raise InvalidInput(f"due_date must be a date, got {due_date!r}")
        if due_date < now.date():
            raise InvalidInput(f"due date {due_date.isoformat()} is in the past")
        if due_date != po.due_date:
            self.po = attrs.evolve(po, due_date=due_date, reminder_sent_at=None)

    def release(
        self, actor: Actor, now: datetime, shop: ShopContext, *, note: str | None = None
    ) -> StatusChanged:
        """Mark the order free for manufacturing (payment before production permitting)."""
        now, target = self._begin(Trigger.RELEASE, actor, now)
        self._require_payment_cleared("release", shop)
        return self._apply(Trigger.RELEASE, target, actor, now, note)

    def start_manufacturing(
        self, actor: Actor, now: datetime, shop: ShopContext, *, note: str | None = None
    ) -> StatusChanged:
        now, target = self._begin(Trigger.START_MANUFACTURING, actor, now)
        self._require_payment_cleared("start manufacturing", shop)
        return self._apply(Trigger.START_MANUFACTURING, target, actor, now, note)

    def start_post_production(
        self, actor: Actor, now: datetime, *, note: str | None = None
    ) -> StatusChanged:
        now, target = self._begin(Trigger.START_POST_PRODUCTION, actor, now)
        return self._apply(Trigger.START_POST_PRODUCTION, target, actor, now, note)

    def reprint(self, actor: Actor, now: datetime, reason: str) -> StatusChanged:
        """Send faulty parts back to be made again."""
        now, target = self._begin(Trigger.REPRINT, actor, now)
        reason = checks.text(reason, "reason")
        return self._apply(Trigger.REPRINT, target, actor, now, reason)

    def mark_ready_for_shipping(
        self, actor: Actor, now: datetime, *, note: str | None = None
    ) -> StatusChanged:
        now, target = self._begin(Trigger.MARK_READY_FOR_SHIPPING, actor, now)
        return self._apply(Trigger.MARK_READY_FOR_SHIPPING, target, actor, now, note)

    def mark_ready_for_pickup(
        self, actor: Actor, now: datetime, *, note: str | None = None
    ) -> StatusChanged:
        now, target = self._begin(Trigger.MARK_READY_FOR_PICKUP, actor, now)
        return self._apply(Trigger.MARK_READY_FOR_PICKUP, target, actor, now, note)

    def ship(
        self, actor: Actor, now: datetime, tracking_number: str | None = None, *,
        note: str | None = None,
    ) -> StatusChanged:
        now, target = self._begin(Trigger.SHIP, actor, now)
        if tracking_number is not None:
            self.tracking_number = checks.text(tracking_number, "tracking number")
        return self._apply(Trigger.SHIP, target, actor, now, note)

    def deliver(self, actor: Actor, now: datetime, *, note: str | None = None) -> StatusChanged:
        now, target = self._begin(Trigger.DELIVER, actor, now)
        return self._apply(Trigger.DELIVER, target, actor, now, note)

    def hold(self, actor: Actor, now: datetime, reason: str) -> StatusChanged:
        """Put the order on hold; ``resume`` returns it to the current status."""
        now, target = self._begin(Trigger.HOLD, actor, now)
        reason = checks.text(reason, "reason")
        held_from = self.status
        event = self._apply(Trigger.HOLD, target, actor, now, reason)
        self.held_from = held_from
        return event

    def resume(self, actor: Actor, now: datetime, *, note: str | None = None) -> StatusChanged:
        """Return an order on hold to the status it was held from."""
        now, target = self._begin(Trigger.RESUME, actor, now)
        return self._apply(Trigger.RESUME, target, actor, now, note)

    def cancel_by_customer(self, actor: Actor, now: datetime, reason: str) -> StatusChanged:
        """Cancel before production, at the customer's wish."""
        now, target = self._begin(Trigger.CANCEL_BY_CUSTOMER, actor, now)
        reason = checks.text(reason, "reason")
        return self._apply(Trigger.CANCEL_BY_CUSTOMER, target, actor, now, reason)

    def cancel_by_admin(self, actor: Actor, now: datetime, reason: str) -> StatusChanged:
        """Cancel at the shop's decision, from any status that is not final."""
        now, target = self._begin(Trigger.CANCEL_BY_ADMIN, actor, now)
        reason = checks.text(reason, "reason")
        return self._apply(Trigger.CANCEL_BY_ADMIN, target, actor, now, reason)

    def execute(
        self, actor: Actor, now: datetime, command: Command, shop: ShopContext
    ) -> StatusChanged:
        """Run ``command`` through the method of its trigger (the one dispatch table)."""
        match command:
            case Place(note=note):
                return self.place(actor, now, shop, note=note)
            case SubmitForReview(note=note):
                return self.submit_for_review(actor, now, note=note)
            case SendFirmOffer(expires_at=expires_at, note=note):
                return self.send_firm_offer(actor, now, shop, expires_at, note=note)
            case AcceptOffer(revision=revision, note=note):
                return self.accept_offer(actor, now, revision, note=note)
            case RequestChanges(message=message):
                return self.request_changes(actor, now, message)
            case ProvidePo(po_number=po_number, document_ref=document_ref, note=note):
                return self.provide_po(actor, now, po_number, document_ref, note=note)
            case RequestPayment(note=note):
                return self.request_payment(actor, now, note=note)
            case AcceptPo(due_date=due_date, net_days=net_days, note=note):
                return self.accept_po(actor, now, due_date, net_days, note=note)
            case Release(note=note):
                return self.release(actor, now, shop, note=note)
            case StartManufacturing(note=note):
                return self.start_manufacturing(actor, now, shop, note=note)
            case StartPostProduction(note=note):
                return self.start_post_production(actor, now, note=note)
            case Reprint(reason=reason):
                return self.reprint(actor, now, reason)
            case MarkReadyForShipping(note=note):
                return self.mark_ready_for_shipping(actor, now, note=note)
            case MarkReadyForPickup(note=note):
                return self.mark_ready_for_pickup(actor, now, note=note)
            case Ship(tracking_number=tracking_number, note=note):
                return self.ship(actor, now, tracking_number, note=note)
            case Deliver(note=note):
                return self.deliver(actor, now, note=note)
            case Hold(reason=reason):
                return self.hold(actor, now, reason)
            case Resume(note=note):
                return self.resume(actor, now, note=note)
            case CancelByCustomer(reason=reason):
                return self.cancel_by_customer(actor, now, reason)
            case CancelByAdmin(reason=reason):
                return self.cancel_by_admin(actor, now, reason)
        raise InvalidInput(f"not a trigger command: {command!r}")

    def change_status(
        self, actor: Actor, now: datetime, target: OrderStatus, shop: ShopContext,
        data: Command | Mapping[str, object] | None = None, *, note: str | None = None,
    ) -> StatusChanged:
        """The back office's "Change" button: move to ``target`` by the trigger that leads there.

        ``data`` is the trigger's command, or its fields as plain values (see
        :func:`~fabcore.domain.commands.build_command`); ``note`` stands in
        for a required reason or message. Exactly what the named method does
        happens: the review policy on Placed, the agreed price and expiry on
        Firm offer sent, and so on.
        """
        now = checks.utc(now, "now")
        self._authorize(actor, f"change the status to {target.label}", Who.STAFF)
        moves = [trigger for trigger, dest in self.reachable() if dest is target]
        if not moves:
            options = ", ".join(f"{dest.label} ({trigger.value})"
                                for trigger, dest in self.reachable()) or "none (final status)"
            raise InvalidTransition(
                f"{self} is {self.status.label}: no move to {target.label} ({target.value}); "
                f"reachable: {options}"
            )
        trigger = moves[0]
        self._authorize(actor, trigger.value, WHO[trigger])
        if data is None or isinstance(data, Mapping):
            fields = dict(data or {})
            if note is not None:
                fields.setdefault("note", note)
            command = build_command(trigger, fields)
        elif data.trigger is not trigger:
            raise InvalidInput(
                f"{target.label} is reached by {trigger.value}, not by {data.trigger.value}"
            )
        else:
            command = data
        return self.execute(actor, now, command, shop)

    # -- payment ---------------------------------------------------------

    def knows_payment(self, reference: str, event_id: str | None = None) -> bool:
        """True if a payment with this reference (or gateway event id) was already recorded.

        Looks at applied payments and at flagged ones (``payment_issues``).
        """
        records: list[PaymentEntry | PaymentIssue] = [*self.payments, *self.payment_issues]
        return any(r.reference == reference or (event_id is not None and r.event_id == event_id)
                   for r in records)

    def _check_incoming_payment(
        self, actor: Actor, now: datetime, reference: str, amount: Money
    ) -> tuple[datetime, str]:
        now = checks.utc(now, "now")
        self._authorize(actor, "record a payment", Who.STAFF)
        reference = checks.text(reference, "payment reference")
        if not isinstance(amount, Money):
            raise InvalidInput(f"amount must be Money, not {type(amount).__name__}")
        if amount.amount <= 0:
            raise InvalidInput(f"payment amount must be positive, got {amount}")
        status = self.effective_status
        if status in _NOT_YET_PLACED or status in _CANCELED:
            raise GuardFailed(
                f"{self} is {self.status.label}: payment is possible only once the order is "
                "placed and while it is not canceled"
            )
        return now, reference

    def mark_paid(
        self, actor: Actor, now: datetime, reference: str, amount: Money, *,
        note: str | None = None, event_id: str | None = None,
    ) -> PaymentChanged:
        """Record a payment (gateway event or manual payment recorded by staff).

        Payment changes are kept in ``payments``; ``history`` holds status changes only.
        ``event_id`` is the gateway's id of the event that reported the payment.
        """
        now, reference = self._check_incoming_payment(actor, now, reference, amount)
        self._check_currency(amount, "payment")
        if self.paid:
            raise GuardFailed(f"{self} is already paid")
        return self._set_payment(
            PaymentStatus.PAID, actor, now, reference=reference, amount=amount, note=note,
            event_id=event_id,
        )

    def record_payment_mismatch(
        self, actor: Actor, now: datetime, reference: str, amount: Money,
        expected: Money | None, *, event_id: str | None = None,
    ) -> PaymentFlagged:
        """Keep a payment that cannot be applied in ``payment_issues``; the order stays as it is.

        That is a payment whose amount or currency differs from ``expected``
        (the total the order is due), or any payment for an order already
        paid. ``InvalidInput`` if it matches ``expected`` (use :meth:`mark_paid`).
        """
        now, reference = self._check_incoming_payment(actor, now, reference, amount)
        if self.paid:
            earlier = next((p.reference for p in reversed(self.payments)
                            if p.status is PaymentStatus.PAID), None)
            reason = f"{self} was already paid (reference {earlier}): a second payment"
        elif expected is None:
            raise InvalidInput(f"{self} is unpaid: give the amount it is due")
        elif amount.currency != expected.currency:
            reason = f"paid {amount}, but {self} is due {expected}: wrong currency"
        elif amount != expected:
            gap = amount - expected
            reason = (f"paid {amount}, but {self} is due {expected}: "
                      f"{'over' if gap.amount > 0 else 'short'} by "
                      f"{Money(abs(gap.amount), gap.currency)}")
        else:
            raise InvalidInput(f"{amount} is what {self} is due: record it with mark_paid")
        self.payment_issues.append(
            PaymentIssue(reference, amount, expected, reason, actor, now, event_id)
        )
        return PaymentFlagged(self.id, reference, amount, expected, reason, actor, now)

    def mark_unpaid(
        self, actor: Actor, now: datetime, *, note: str | None = None
    ) -> PaymentChanged:
        """Staff undo a payment (refund, bounced transfer)."""
        now = checks.utc(now, "now")
        self._authorize(actor, "mark the order unpaid", Who.STAFF)
        if not self.paid:
            raise GuardFailed(f"{self} is not paid")
        return self._set_payment(
            PaymentStatus.UNPAID, actor, now, reference=None, amount=None, note=note
        )

    def _set_payment(
        self, status: PaymentStatus, actor: Actor, now: datetime, *, reference: str | None,
        amount: Money | None, note: str | None, event_id: str | None = None,
    ) -> PaymentChanged:
        before = self.payment_status
        self.payment_status = status
        self.payments.append(PaymentEntry(status, actor, now, reference, amount, note, event_id))
        return PaymentChanged(self.id, before, status, actor, now, reference, amount)

    # -- invoice -----------------------------------------------------------

    @property
    def invoiceable(self) -> bool:
        """True once the order is placed (payable or paid) and not canceled."""
        return self.payment_page_state in (PaymentPageState.READY_FOR_PAYMENT,
                                           PaymentPageState.PAID)

    def issue_invoice(
        self, actor: Actor, now: datetime, number: str, payment_terms_days: int
    ) -> InvoiceRecord:
        """Record the order's invoice under ``number``, once; later calls return it unchanged.

        It is due on the accepted purchase order's due date, else
        ``payment_terms_days`` after it is issued. ``number`` comes from the
        shop's gapless sequence; the caller takes it only when this records
        a new invoice (see :attr:`invoice`).
        """
        now = checks.utc(now, "now")
        self._see(actor)
        if not self.invoiceable:
            raise GuardFailed(f"{self} is {self.status.label}: no invoice before it is placed")
        if self.invoice is not None:
            return self.invoice
        po = self.po
        due = (po.due_date if po is not None and po.due_date is not None
               else now.date() + timedelta(days=payment_terms_days))
        self.invoice = InvoiceRecord(checks.text(number, "invoice number"), now, due)
        return self.invoice

    def claim_po_payment_reminder(self, now: datetime) -> PaymentReminderDue | None:
        """The payment reminder, exactly once, when its day has come (else ``None``).

        It is due from :data:`PO_REMINDER_DAYS` days before the due date up to
        the due date itself; claiming records it as sent.
        """
        now = checks.utc(now, "now")
        day = self.po_reminder_date()
        po = self.po
        if day is None or po is None or po.due_date is None:
            return None
        if not day <= now.date() <= po.due_date:
            return None
        self.po = attrs.evolve(po, reminder_sent_at=now)
        return PaymentReminderDue(self.id, po.due_date, now)


def _may(actor: Actor, who: Who) -> bool:
    """Whether ``actor`` may pull a trigger meant for ``who`` (the order being visible)."""
    if actor.is_customer:
        return who is not Who.STAFF
    return actor.is_staff and who is not Who.CUSTOMER
