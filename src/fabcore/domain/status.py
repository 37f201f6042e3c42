"""The order status machine: statuses, triggers and the one table of moves.

:data:`TRANSITIONS` is the single source of truth. A module-level
``transitions.Machine`` is built from it with ``model=None``: no machine is
attached to an order (that would cost memory per order and does not work
with slotted attrs classes). :class:`~fabcore.domain.order.Order` passes
itself explicitly to ``machine.events[trigger].trigger(order, to=target)``
after checking permissions and guards in plain code, so the machine holds
no business rules, only the shape of the graph.

The machine's states are the :class:`OrderStatus` members: ``transitions``
looks up an enum on the model by member name, and sets the member (not a
string) back on ``order.status``, so the attribute stays typed.
"""

from __future__ import annotations

import enum
import functools
from typing import Any

import attrs
from transitions import Machine, State
from transitions.extensions.diagrams import GraphMachine


class OrderStatus(enum.Enum):
    """Where an order stands. ``value`` is stored; ``label`` is shown."""

    DRAFT = "draft"
    WAITING_FOR_REVIEW = "waiting_for_review"
    FIRM_OFFER_SENT = "firm_offer_sent"
    PLACED = "placed"
    PO_PROVIDED = "po_provided"
    WAITING_FOR_PAYMENT = "waiting_for_payment"
    PO_PAYMENT_DUE = "po_payment_due"
    ON_HOLD = "on_hold"
    FREE_FOR_MANUFACTURING = "free_for_manufacturing"
    MANUFACTURING = "manufacturing"
    POST_PRODUCTION = "post_production"
    RE_PRINTING = "re_printing"
    READY_FOR_SHIPPING = "ready_for_shipping"
    SHIPPED = "shipped"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    CANCELED_BY_CUSTOMER = "canceled_by_customer"
    CANCELED_BY_ADMIN = "canceled_by_admin"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


_LABELS: dict[OrderStatus, str] = {
    OrderStatus.DRAFT: "Draft",
    OrderStatus.WAITING_FOR_REVIEW: "Waiting for review",
    OrderStatus.FIRM_OFFER_SENT: "Firm offer sent",
    OrderStatus.PLACED: "Placed",
    OrderStatus.PO_PROVIDED: "PO provided",
    OrderStatus.WAITING_FOR_PAYMENT: "Waiting for payment",
    OrderStatus.PO_PAYMENT_DUE: "PO Payment due",
    OrderStatus.ON_HOLD: "On hold",
    OrderStatus.FREE_FOR_MANUFACTURING: "Free for manufacturing",
    OrderStatus.MANUFACTURING: "Manufacturing",
    OrderStatus.POST_PRODUCTION: "Post-production",
    OrderStatus.RE_PRINTING: "Re-printing",
    OrderStatus.READY_FOR_SHIPPING: "Ready for shipping",
    OrderStatus.SHIPPED: "Shipped",
    OrderStatus.READY_FOR_PICKUP: "Ready for pickup",
    OrderStatus.DELIVERED: "Delivered",
    OrderStatus.CANCELED_BY_CUSTOMER: "Canceled by customer",
    OrderStatus.CANCELED_BY_ADMIN: "Canceled by admin",
}


class PaymentStatus(enum.Enum):
    """Whether the shop has been paid; independent of :class:`OrderStatus`."""

    UNPAID = "unpaid"
    PAID = "paid"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Trigger(enum.Enum):
    """The named moves of the order status machine."""

    PLACE = "place"
    SUBMIT_FOR_REVIEW = "submit_for_review"
    SEND_FIRM_OFFER = "send_firm_offer"
    ACCEPT_OFFER = "accept_offer"
    REQUEST_CHANGES = "request_changes"
    PROVIDE_PO = "provide_po"
    REQUEST_PAYMENT = "request_payment"
    ACCEPT_PO = "accept_po"
    RELEASE = "release"
    START_MANUFACTURING = "start_manufacturing"
    START_POST_PRODUCTION = "start_post_production"
    REPRINT = "reprint"
    MARK_READY_FOR_SHIPPING = "mark_ready_for_shipping"
    MARK_READY_FOR_PICKUP = "mark_ready_for_pickup"
    SHIP = "ship"
    DELIVER = "deliver"
    HOLD = "hold"
    RESUME = "resume"
    CANCEL_BY_CUSTOMER = "cancel_by_customer"
    CANCEL_BY_ADMIN = "cancel_by_admin"


class Who(enum.Enum):
    """Who may pull a trigger: the customer, shop staff, or either for the other.

    The values are the table's shorthand (C, S, C/S).
    """

    CUSTOMER = "C"
    STAFF = "S"
    EITHER = "C/S"


_S = OrderStatus

TERMINAL: frozenset[OrderStatus] = frozenset(
    {_S.DELIVERED, _S.CANCELED_BY_CUSTOMER, _S.CANCELED_BY_ADMIN}
)
NON_TERMINAL: tuple[OrderStatus, ...] = tuple(s for s in _S if s not in TERMINAL)
HOLDABLE: tuple[OrderStatus, ...] = tuple(s for s in NON_TERMINAL if s is not _S.ON_HOLD)
# "Before production": the customer may cancel up to and including PO Payment due.
BEFORE_PRODUCTION: tuple[OrderStatus, ...] = (
    _S.DRAFT, _S.WAITING_FOR_REVIEW, _S.FIRM_OFFER_SENT, _S.PLACED,
    _S.PO_PROVIDED, _S.WAITING_FOR_PAYMENT, _S.PO_PAYMENT_DUE,
)
_PAYMENT_STAGE: tuple[OrderStatus, ...] = (
    _S.PLACED, _S.PO_PROVIDED, _S.WAITING_FOR_PAYMENT, _S.PO_PAYMENT_DUE,
)


@attrs.frozen
class Move:
    """One row of :data:`TRANSITIONS`.

    ``dest`` is ``None`` for ``resume``, which returns to the status the
    order was held from.
    """

    trigger: Trigger
    sources: tuple[OrderStatus, ...]
    dest: OrderStatus | None
    who: Who
    guard: str = ""


TRANSITIONS: tuple[Move, ...] = (
    Move(Trigger.PLACE, (_S.DRAFT,), _S.PLACED, Who.EITHER,
         "complete order (lines priced, shipping, billing); review policy does not demand review"),
    Move(Trigger.SUBMIT_FOR_REVIEW, (_S.DRAFT,), _S.WAITING_FOR_REVIEW, Who.EITHER,
         "at least one line"),
    Move(Trigger.SEND_FIRM_OFFER, (_S.DRAFT, _S.WAITING_FOR_REVIEW, _S.FIRM_OFFER_SENT),
         _S.FIRM_OFFER_SENT, Who.STAFF,
         "every line has a firm price; customer set; bumps the offer revision; optional expiry"),
    Move(Trigger.ACCEPT_OFFER, (_S.FIRM_OFFER_SENT,), _S.PLACED, Who.CUSTOMER,
         "accepted revision is the current one; offer not expired"),
    Move(Trigger.REQUEST_CHANGES, (_S.FIRM_OFFER_SENT,), _S.WAITING_FOR_REVIEW, Who.CUSTOMER,
         "message"),
    Move(Trigger.PROVIDE_PO, (_S.PLACED, _S.WAITING_FOR_PAYMENT), _S.PO_PROVIDED, Who.EITHER,
         "PO number (+ document)"),
    Move(Trigger.REQUEST_PAYMENT, (_S.PLACED, _S.PO_PROVIDED), _S.WAITING_FOR_PAYMENT, Who.STAFF),
    Move(Trigger.ACCEPT_PO, (_S.PO_PROVIDED,), _S.PO_PAYMENT_DUE, Who.STAFF,
         "due date or net days"),
    Move(Trigger.RELEASE, _PAYMENT_STAGE, _S.FREE_FOR_MANUFACTURING, Who.STAFF,
         "payment before production: paid, or PO accepted"),
    Move(Trigger.START_MANUFACTURING,
         (*_PAYMENT_STAGE, _S.FREE_FOR_MANUFACTURING, _S.RE_PRINTING), _S.MANUFACTURING, Who.STAFF,
         "payment before production: paid, or PO accepted"),
    Move(Trigger.START_POST_PRODUCTION, (_S.MANUFACTURING, _S.RE_PRINTING), _S.POST_PRODUCTION,
         Who.STAFF),
    Move(Trigger.REPRINT,
         (_S.MANUFACTURING, _S.POST_PRODUCTION, _S.READY_FOR_SHIPPING, _S.READY_FOR_PICKUP),
         _S.RE_PRINTING, Who.STAFF, "reason"),
    Move(Trigger.MARK_READY_FOR_SHIPPING, (_S.MANUFACTURING, _S.POST_PRODUCTION),
         _S.READY_FOR_SHIPPING, Who.STAFF),
    Move(Trigger.MARK_READY_FOR_PICKUP, (_S.MANUFACTURING, _S.POST_PRODUCTION),
         _S.READY_FOR_PICKUP, Who.STAFF),
    Move(Trigger.SHIP, (_S.READY_FOR_SHIPPING,), _S.SHIPPED, Who.STAFF,
         "tracking number (optional)"),
    Move(Trigger.DELIVER, (_S.SHIPPED, _S.READY_FOR_PICKUP), _S.DELIVERED, Who.STAFF),
    Move(Trigger.HOLD, HOLDABLE, _S.ON_HOLD, Who.STAFF, "reason; remembers the status held from"),
    Move(Trigger.RESUME, (_S.ON_HOLD,), None, Who.STAFF, "returns to the status held from"),
    Move(Trigger.CANCEL_BY_CUSTOMER, BEFORE_PRODUCTION, _S.CANCELED_BY_CUSTOMER, Who.EITHER,
         "reason"),
    Move(Trigger.CANCEL_BY_ADMIN, NON_TERMINAL, _S.CANCELED_BY_ADMIN, Who.STAFF, "reason"),
)

WHO: dict[Trigger, Who] = {move.trigger: move.who for move in TRANSITIONS}


@attrs.frozen
class _ReturnsTo:
    """Routes ``resume`` to the one edge whose destination the order asked for.

    ``resume`` has an edge from ``on_hold`` back to every holdable status;
    this is the only condition in the machine, and it carries no business rule.
    """

    status: OrderStatus

    def __call__(self, *, to: OrderStatus) -> bool:
        return to is self.status


def _machine_transitions() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for move in TRANSITIONS:
        if move.dest is None:
            rows.extend(
                {"trigger": move.trigger.value, "source": move.sources, "dest": back,
                 "conditions": [_ReturnsTo(back)]}
                for back in HOLDABLE
            )
        else:
            rows.append({"trigger": move.trigger.value, "source": list(move.sources),
                         "dest": move.dest})
    return rows


_CONFIG: dict[str, Any] = {
    "model": None,
    "initial": OrderStatus.DRAFT,
    "auto_transitions": False,
    "model_attribute": "status",
    "transitions": _machine_transitions(),
}

machine = Machine(states=list(OrderStatus), **_CONFIG)


# The machine never changes once built, so what it answers is worked out once
# per question: asking transitions walks its event and state lists each time.
@functools.cache
def _targets(trigger: Trigger, source: OrderStatus) -> tuple[OrderStatus, ...]:
    return tuple(OrderStatus[t.dest] for t in machine.get_transitions(trigger.value, source)
                 if t.dest is not None)


@functools.cache
def _allowed(source: OrderStatus) -> tuple[Trigger, ...]:
    return tuple(Trigger(name) for name in machine.get_triggers(source))


@functools.cache
def _edges(status: OrderStatus) -> tuple[tuple[Trigger, OrderStatus], ...]:
    return tuple((trigger, target) for trigger in _allowed(status)
                 for target in _targets(trigger, status))


def targets(trigger: Trigger, source: OrderStatus) -> list[OrderStatus]:
    """Statuses ``trigger`` leads to from ``source`` (empty when it is not allowed)."""
    return list(_targets(trigger, source))


def allowed_triggers(source: OrderStatus) -> list[Trigger]:
    """Triggers that have an edge out of ``source``, in table order."""
    return list(_allowed(source))


def reachable(status: OrderStatus) -> list[tuple[Trigger, OrderStatus]]:
    """Every ``(trigger, target)`` edge out of ``status``, in table order.

    From ``on_hold`` this lists ``resume`` to every holdable status; an order
    narrows it to the one it was held from (``Order.reachable``).
    """
    return list(_edges(status))


def perform(trigger: Trigger, order: object, target: OrderStatus) -> None:
    """Move ``order`` (anything with a ``status`` attribute) along one edge.

    The caller has already checked that the edge exists; the machine sets
    ``order.status``.
    """
    moved = machine.events[trigger.value].trigger(order, to=target)
    if not moved:
        raise AssertionError(f"the machine did not move {trigger.value} to {target.value}")


class _LabelledState(State):
    """A state that carries its display label into the diagram."""

    def __init__(self, name: OrderStatus, *, label: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.label = label


class _DiagramMachine(GraphMachine):
    state_cls = _LabelledState


def mermaid_diagram() -> str:
    """The status machine as a Mermaid ``stateDiagram-v2``.

    Drawn by ``GraphMachine(graph_engine="mermaid")`` from the same
    configuration as :data:`machine`; needs no graphviz.
    """
    graph_machine = _DiagramMachine(
        states=[{"name": s, "label": s.label} for s in OrderStatus],
        graph_engine="mermaid",
        title="Order statuses",
        **_CONFIG,
    )
    source = graph_machine.graph_cls(graph_machine).get_graph().draw(None) or ""
    lines = []
    for line in source.splitlines():
        stripped = line.strip()
        # The highlight styles mark a model's current state, which a document has not;
        # transitions writes their statements as "Class", which Mermaid does not parse.
        if stripped.startswith(("classDef ", "Class ")):
            continue
        # Mermaid front matter is YAML: the title needs its key.
        lines.append("title: Order statuses" if stripped == "Order statuses" else line.rstrip())
    return "\n".join(lines) + "\n"
