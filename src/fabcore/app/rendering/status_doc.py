"""Render ``docs/statuses.md`` from the status machine and the mail policy.

Regenerate with ``python -m fabcore.app.rendering.status_doc > docs/statuses.md``;
a unit test fails when the committed file is out of date.
"""

from __future__ import annotations

from fabcore.domain.commands import command_fields
from fabcore.domain.notifications import MAIL_RULES, LinkPurpose, MailRule, Notice
from fabcore.domain.order import PO_REMINDER_DAYS
from fabcore.domain.status import (
    HOLDABLE,
    NON_TERMINAL,
    TERMINAL,
    TRANSITIONS,
    OrderStatus,
    Who,
    mermaid_diagram,
)

_WHO = {Who.CUSTOMER: "customer", Who.STAFF: "staff", Who.EITHER: "customer or staff"}
_LINK = {LinkPurpose.OFFER: "offer (accepts only this revision)", LinkPurpose.PAY: "review and pay"}


def _code(value: str) -> str:
    return f"`{value}`"


def _statuses(statuses: tuple[OrderStatus, ...]) -> str:
    if statuses == NON_TERMINAL:
        return "any non-final status"
    if statuses == HOLDABLE:
        return "any non-final status but `on_hold`"
    return ", ".join(_code(s.value) for s in statuses)


def _mail_row(occasion: str, rule: MailRule) -> str:
    cells = [
        occasion,
        _code(rule.customer) if rule.customer else "-",
        _code(rule.shop) if rule.shop else "-",
        "yes" if rule.cc_billing else "-",
        _LINK[rule.link] if rule.link else "-",
    ]
    return "| " + " | ".join(cells) + " |"


def render_status_doc() -> str:
    """The Markdown of ``docs/statuses.md``."""
    out = [
        "# Order statuses",
        "",
        "<!-- Generated from fabcore.domain.status and fabcore.domain.notifications by",
        "     `python -m fabcore.app.rendering.status_doc > docs/statuses.md`. Do not edit. -->",
        "",
        "An order moves only along the edges below, each named by a trigger. Every move",
        "is recorded in the order's history (from, to, trigger, actor, time, note).",
        "Payment status (unpaid / paid) is kept apart from the order status.",
        "",
        "## Statuses",
        "",
        "| value | label | final |",
        "|---|---|---|",
    ]
    out += [f"| {_code(s.value)} | {s.label} | {'yes' if s in TERMINAL else '-'} |"
            for s in OrderStatus]
    out += [
        "",
        "## Diagram",
        "",
        "```mermaid",
        mermaid_diagram().rstrip("\n"),
        "```",
        "",
        "## Triggers",
        "",
        "| trigger | from | to | who | guard | command fields (? optional) |",
        "|---|---|---|---|---|---|",
    ]
    for move in TRANSITIONS:
        dest = _code(move.dest.value) if move.dest else "the status held from"
        fields = ", ".join(f"`{f.name}`{'' if f.required else '?'}"
                           for f in command_fields(move.trigger)) or "-"
        out.append(f"| {_code(move.trigger.value)} | {_statuses(move.sources)} | {dest} | "
                   f"{_WHO[move.who]} | {move.guard or '-'} | {fields} |")
    out += [
        "",
        "Every move runs through one typed command per trigger (`fabcore.domain.commands`),",
        "whether it is asked for by name (`place`, `ship`, ...) or by its target status:",
        "staff's `change_status(target)` finds the trigger that reaches `target` from the",
        "current status, builds its command from the fields given, and fails with the list",
        "of reachable statuses when none does; `reachable_statuses` lists them with their",
        "fields. What depends on the shop (the review policy on Placed, the agreed price and",
        "the offer's expiry on Firm offer sent, payment before production) is applied the",
        "same way on both paths.",
        "Where staff may act, so may the shop's automation (a `system` actor); what only",
        "the customer may do, nobody does for them.",
        "",
        "## E-mails",
        "",
        "Every mail names the previous and the new status and the order details: lines,",
        "shipping, tax, total and payment state as agreed; offer mails state the expiry.",
        "Resuming from On hold mails both sides that the order was resumed, whatever status",
        "it returns to.",
        f"The PO payment reminder goes out once, from {PO_REMINDER_DAYS} days before the",
        "due date, while the order is PO Payment due and unpaid.",
        "",
        "| occasion | customer mail | shop mail | CC billing contact | link in customer mail |",
        "|---|---|---|---|---|",
    ]
    for occasion, rule in MAIL_RULES.items():
        label = occasion.label if isinstance(occasion, Notice) else (
            f"{occasion.label} ({_code(occasion.value)})")
        out.append(_mail_row(label, rule))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render_status_doc(), end="")
