"""Typed trigger commands: what each move of the status machine needs to be told.

One small frozen class per trigger carries the data the caller gives (a PO
number, a due date, a tracking number, a reason, ...). :data:`COMMANDS` maps
every :class:`~fabcore.domain.status.Trigger` to its class; it is the one
table the order dispatches through (:meth:`fabcore.domain.order.Order.execute`),
whether the move was asked for by name (``place``) or by its target status
(the back office's "Change" button). What the shop decides (review policy,
payment before production, offer validity) and what the catalog prices are
never part of a command: the order reads them from the shop it is given.

:func:`command_fields` describes a command's fields for a form, and
:func:`build_command` makes a command from plain values (form fields, CLI
flags, JSON), naming the field in every refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar, cast

import attrs

from fabcore.domain import checks
from fabcore.domain.errors import InvalidInput
from fabcore.domain.status import Trigger

# The most days an accepted purchase order may give for payment.
MAX_NET_DAYS = 365
_MAX_TEXT = 2000


def _note(value: str | None) -> str | None:
    text = checks.optional_text(value, "note")
    if text is not None and len(text) > _MAX_TEXT:
        raise InvalidInput(f"note must be at most {_MAX_TEXT} characters")
    return text


def _bounded_text(value: str, what: str) -> str:
    text = checks.text(value, what)
    if len(text) > _MAX_TEXT:
        raise InvalidInput(f"{what} must be at most {_MAX_TEXT} characters")
    return text


def _optional_date(value: date | str | None) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return checks.day(value, "due date")


def _optional_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"expiry must be an ISO 8601 time, got {value!r}") from None
    return checks.utc(value, "expiry")


def _optional_net_days(value: int | str | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return checks.whole_number(value, "net days", 0, MAX_NET_DAYS)


def _document_ref(value: str | None) -> str | None:
    return None if value is None else checks.sha256(value, "PO document")


def _revision(value: int | str) -> int:
    return checks.whole_number(value, "offer revision", 1)


def _form(label: str, kind: str, help_text: str = "") -> dict[str, str]:
    """How a form shows a field (see :class:`CommandField`)."""
    return {"label": label, "kind": kind, "help": help_text}


_NOTE = _form("Note", "text", "recorded in the order's history and shown in its mails")
_REASON = _form("Reason", "text", "recorded in the order's history and shown in its mails")



def _required_message(value: str) -> str:
    return _bounded_text(value, "message")


def _required_po_number(value: str) -> str:
    return _bounded_text(value, "PO number")


def _required_reason(value: str) -> str:
    return _bounded_text(value, "reason")


def _tracking_number_or_none(value: str | None) -> str | None:
    return checks.optional_text(value, "tracking number")


@attrs.frozen
class Place:
    """Place a complete, instantly priced order (the review policy must not demand review)."""

    trigger: ClassVar[Trigger] = Trigger.PLACE
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class SubmitForReview:
    """Ask the shop to review the order and send a firm offer."""

    trigger: ClassVar[Trigger] = Trigger.SUBMIT_FOR_REVIEW
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class SendFirmOffer:
    """Send (or re-send) the firm offer; valid until ``expires_at`` or the shop's default."""

    trigger: ClassVar[Trigger] = Trigger.SEND_FIRM_OFFER
    expires_at: datetime | None = attrs.field(
        default=None, converter=_optional_datetime,
        metadata=_form("Offer valid until", "datetime", "leave empty for the shop's validity"),
    )
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class AcceptOffer:
    """The customer accepts the offer revision they were shown."""

    trigger: ClassVar[Trigger] = Trigger.ACCEPT_OFFER
    revision: int = attrs.field(converter=_revision, metadata=_form("Offer revision", "integer"))
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class RequestChanges:
    """The customer sends the offer back to review, saying what to change."""

    trigger: ClassVar[Trigger] = Trigger.REQUEST_CHANGES
    message: str = attrs.field(converter=_required_message,
                               metadata=_form("What should change", "text"))


@attrs.frozen
class ProvidePo:
    """Record the customer's purchase order (number, and the stored document if any)."""

    trigger: ClassVar[Trigger] = Trigger.PROVIDE_PO
    po_number: str = attrs.field(converter=_required_po_number,
                                 metadata=_form("PO number", "text"))
    document_ref: str | None = attrs.field(
        default=None, converter=_document_ref,
        metadata=_form("PO document", "document", "the stored document's sha256"),
    )
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class RequestPayment:
    trigger: ClassVar[Trigger] = Trigger.REQUEST_PAYMENT
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class AcceptPo:
    """Accept the purchase order; payment is due on ``due_date`` or after ``net_days``."""

    trigger: ClassVar[Trigger] = Trigger.ACCEPT_PO
    due_date: date | None = attrs.field(
        default=None, converter=_optional_date,
        metadata=_form("Payment due on", "date", "or give net days"),
    )
    net_days: int | None = attrs.field(
        default=None, converter=_optional_net_days,
        metadata=_form("Net days", "integer", "days from today; or give a due date"),
    )
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)

    def __attrs_post_init__(self) -> None:
        if (self.due_date is None) == (self.net_days is None):
            raise InvalidInput("give exactly one of due_date and net_days")


@attrs.frozen
class Release:
    """Free the order for manufacturing."""

    trigger: ClassVar[Trigger] = Trigger.RELEASE
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class StartManufacturing:
    trigger: ClassVar[Trigger] = Trigger.START_MANUFACTURING
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class StartPostProduction:
    trigger: ClassVar[Trigger] = Trigger.START_POST_PRODUCTION
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class Reprint:
    """Send faulty parts back to be made again."""

    trigger: ClassVar[Trigger] = Trigger.REPRINT
    reason: str = attrs.field(converter=_required_reason, metadata=_REASON)


@attrs.frozen
class MarkReadyForShipping:
    trigger: ClassVar[Trigger] = Trigger.MARK_READY_FOR_SHIPPING
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class MarkReadyForPickup:
    trigger: ClassVar[Trigger] = Trigger.MARK_READY_FOR_PICKUP
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class Ship:
    trigger: ClassVar[Trigger] = Trigger.SHIP
    tracking_number: str | None = attrs.field(
        default=None, converter=_tracking_number_or_none,
        metadata=_form("Tracking number", "text"),
    )
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class Deliver:
    trigger: ClassVar[Trigger] = Trigger.DELIVER
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class Hold:
    """Put the order on hold; resuming returns it to the status it was held from."""

    trigger: ClassVar[Trigger] = Trigger.HOLD
    reason: str = attrs.field(converter=_required_reason, metadata=_REASON)


@attrs.frozen
class Resume:
    """Return an order on hold to the status it was held from."""

    trigger: ClassVar[Trigger] = Trigger.RESUME
    note: str | None = attrs.field(default=None, converter=_note, metadata=_NOTE)


@attrs.frozen
class CancelByCustomer:
    """Cancel before production, at the customer's wish."""

    trigger: ClassVar[Trigger] = Trigger.CANCEL_BY_CUSTOMER
    reason: str = attrs.field(converter=_required_reason, metadata=_REASON)


@attrs.frozen
class CancelByAdmin:
    """Cancel at the shop's decision."""

    trigger: ClassVar[Trigger] = Trigger.CANCEL_BY_ADMIN
    reason: str = attrs.field(converter=_required_reason, metadata=_REASON)


Command = (
    Place | SubmitForReview | SendFirmOffer | AcceptOffer | RequestChanges | ProvidePo
    | RequestPayment | AcceptPo | Release | StartManufacturing | StartPostProduction | Reprint
    | MarkReadyForShipping | MarkReadyForPickup | Ship | Deliver | Hold | Resume
    | CancelByCustomer | CancelByAdmin
)

COMMANDS: Mapping[Trigger, type[Command]] = {
    cls.trigger: cls
    for cls in (
        Place, SubmitForReview, SendFirmOffer, AcceptOffer, RequestChanges, ProvidePo,
        RequestPayment, AcceptPo, Release, StartManufacturing, StartPostProduction, Reprint,
        MarkReadyForShipping, MarkReadyForPickup, Ship, Deliver, Hold, Resume,
        CancelByCustomer, CancelByAdmin,
    )
}


@attrs.frozen
class CommandField:
    """One field of a command, as a form shows it.

    ``kind`` is ``text``, ``integer``, ``date``, ``datetime`` or
    ``document`` (an uploaded file, given by its stored sha256).
    """

    name: str
    label: str
    kind: str
    required: bool
    help: str = ""


def command_fields(trigger: Trigger) -> tuple[CommandField, ...]:
    """The fields of the command for ``trigger``, in the order a form lists them."""
    return tuple(
        CommandField(
            name=field.name,
            label=field.metadata["label"],
            kind=field.metadata["kind"],
            required=field.default is attrs.NOTHING,
            help=field.metadata["help"],
        )
        for field in attrs.fields(COMMANDS[trigger])
    )


def build_command(trigger: Trigger, values: Mapping[str, object]) -> Command:
    """The command for ``trigger`` from plain values (strings are parsed per field).

    ``note`` stands in for a required ``reason`` or ``message`` when that is
    not given, so "Change" with a note works for every trigger. Unknown and
    missing fields are refused with ``InvalidInput`` naming them.
    """
    cls = COMMANDS[trigger]
    names = [field.name for field in attrs.fields(cls)]
    given = {name: value for name, value in values.items() if value is not None}
    for spoken in ("reason", "message"):
        if spoken in names and spoken not in given and "note" in given and "note" not in names:
            given[spoken] = given.pop("note")
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InvalidInput(
            f"{trigger.value} takes {', '.join(names) or 'no data'}; "
            f"not {', '.join(unknown)}"
        )
    missing = [f.name for f in attrs.fields(cls)
               if f.default is attrs.NOTHING and f.name not in given]
    if missing:
        raise InvalidInput(f"{trigger.value} needs {', '.join(missing)}")
    try:
        command: Command = cls(**cast(dict[str, Any], given))
    except InvalidInput as exc:
        raise InvalidInput(f"{trigger.value}: {exc}") from None
    return command
