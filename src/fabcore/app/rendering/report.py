"""Human-readable renderings of analyses and quotes (terminal and notebooks)."""

from __future__ import annotations

from collections.abc import Sequence

from fabcore.app.rendering.tables import render_table
from fabcore.domain.analysis import ModelAnalysis
from fabcore.domain.money import Money
from fabcore.domain.order import Order
from fabcore.domain.order_summary import OrderSummary
from fabcore.domain.quote import LineQuote, OrderQuote
from fabcore.ports.outbox import OutboxMessage


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def analysis_table(a: ModelAnalysis) -> str:
    """The measured figures of one model, one per row."""
    x, y, z = a.bbox_mm
    rows: list[tuple[str, object]] = [
        ("file", f"{a.filename} ({a.format})"),
        ("volume", f"{a.volume_cm3:.3f} cm3" + ("" if a.volume_reliable else " (unreliable)")),
        ("surface area", f"{a.area_cm2:.3f} cm2"),
        ("size", f"{x:.2f} x {y:.2f} x {z:.2f} mm"),
        ("triangles", f"{a.triangles:,}"),
        ("bodies", a.bodies),
        ("watertight", _yes(a.watertight)),
        ("winding consistent", _yes(a.winding_consistent)),
        ("convex hull volume", f"{a.convex_hull_volume_cm3:.3f} cm3"),
        ("overhang area", f"{a.overhang_area_cm2:.3f} cm2"),
    ]
    rows.extend(("warning", f"{w.message} [{w.code.value}]") for w in a.warnings)
    return render_table(("model", ""), rows)


def options_table(quotes: Sequence[LineQuote]) -> str:
    """Every option for one part: priced ones first, then those needing review.

    Review reasons are listed once under the table and referred to by number,
    so the table stays readable when many options share a reason.
    """
    rows = []
    notes: dict[str, int] = {}
    for q in quotes:
        b = q.breakdown
        if q.review_reasons:
            text = "; ".join(q.review_reasons)
            price = f"needs review [{notes.setdefault(text, len(notes) + 1)}]"
        else:
            price = "instant"
        rows.append(
            (
                q.spec.process,
                q.spec.material,
                q.spec.quantity,
                b.unit_price if b else "-",
                b.total if b else "-",
                f"{q.lead_time_days} d",
                price,
            )
        )
    table = render_table(
        ("process", "material", "qty", "unit price", "line total", "lead time", "price"),
        rows,
        right=frozenset({2, 3, 4, 5}),
    )
    if not notes:
        return table
    return table + "\n\n" + "\n".join(f"[{n}] {text}" for text, n in notes.items())


def _money(m: Money) -> str:
    return str(m)


def line_breakdown(q: LineQuote) -> str:
    """Where the price of one line comes from."""
    s = q.spec
    title = f"{s.quantity} x {s.process} / {s.material}"
    if s.color:
        title += f" / {s.color}"
    if s.finishes:
        title += " + " + ", ".join(s.finishes)
    b = q.breakdown
    if b is None:
        return f"{title}\n  needs review: " + "; ".join(q.review_reasons)
    rows: list[tuple[str, str]] = [
        ("material per part", _money(b.material_per_part)),
        (f"machine time per part ({b.machine_hours_per_part:.2f} h)", _money(b.machine_per_part)),
        ("post-production per part", _money(b.post_production_per_part)),
    ]
    rows.extend((f"fee: {fee.name}", _money(fee.amount)) for fee in b.fees)
    if b.minimum_price_adjustment:
        rows.append(("minimum price adjustment", _money(b.minimum_price_adjustment)))
    if b.discount:
        rows.append((f"quantity discount ({b.discount_percent}%)", "-" + _money(b.discount)))
    rows.append(("unit price", _money(b.unit_price)))
    rows.append((f"line total ({s.quantity} parts)", _money(b.total)))
    rows.append(("lead time", f"{q.lead_time_days} days"))
    return title + "\n" + render_table(("", ""), rows, right=frozenset({1}))


def order_breakdown(o: OrderQuote) -> str:
    """Every line's breakdown, then the order totals."""
    parts = [line_breakdown(line) for line in o.lines]
    rows: list[tuple[str, str]] = [("subtotal", _money(o.subtotal))]
    rows.extend((f"fee: {fee.name}", _money(fee.amount)) for fee in o.order_fees)
    if o.minimum_order_adjustment:
        rows.append(("minimum order adjustment", _money(o.minimum_order_adjustment)))
    rows.append((f"shipping ({o.shipping_method or 'none'})", _money(o.shipping)))
    rows.append((f"tax ({o.tax_rate * 100:.2f}%)", _money(o.tax)))
    rows.append(("total", _money(o.total) if o.total is not None else "needs review"))
    rows.append(("lead time", f"{o.lead_time_days} days"))
    parts.append(render_table(("order", ""), rows, right=frozenset({1})))
    if o.needs_review:
        reasons = o.review_reasons or tuple(r for line in o.lines for r in line.review_reasons)
        parts.append("needs review: " + "; ".join(dict.fromkeys(reasons)))
    return "\n\n".join(parts)


def order_summary(summary: OrderSummary) -> dict[str, object]:
    """The fields of an order a list shows (also its JSON form in ``orders list``).

    ``total`` is the agreed total, ``None`` until the order is placed or offered.
    """
    return {
        "number": summary.number,
        "id": summary.id,
        "status": summary.status.value,
        "payment_status": summary.payment_status.value,
        "customer_id": summary.customer_id,
        "lines": summary.lines,
        "total": summary.total,
        "created_at": summary.created_at,
    }


def orders_table(summaries: Sequence[OrderSummary]) -> str:
    """One row per order, newest first as given."""
    rows = [
        (s.number, s.status.label, s.payment_status.value, s.customer_id or "-", s.lines,
         s.total or "-", s.created_at.strftime("%Y-%m-%d %H:%M"))
        for s in summaries
    ]
    return render_table(
        ("number", "status", "payment", "customer", "lines", "total", "created (UTC)"),
        rows, right=frozenset({4, 5}),
    )


def order_details(order: Order) -> str:
    """Header, lines and history of one order."""
    head = [
        ("order", order.number),
        ("status", order.status.label + (f" (held from {order.held_from.label})"
                                         if order.held_from else "")),
        ("payment", order.payment_status.value),
        ("customer", order.customer_id or "-"),
        ("shipping", order.shipping.method if order.shipping else "-"),
        ("created", order.created_at.isoformat()),
    ]
    if order.offer_revision:
        expires = order.offer_expires_at.isoformat() if order.offer_expires_at else "never"
        head.append(("offer", f"revision {order.offer_revision}, expires {expires}"))
    if order.po is not None:
        due = order.po.due_date.isoformat() if order.po.due_date else "not accepted yet"
        head.append(("purchase order", f"{order.po.number}, due {due}"))
    if order.tracking_number:
        head.append(("tracking", order.tracking_number))
    lines = render_table(
        ("line", "model", "process", "material", "qty", "unit price", "total"),
        [
            (i, line.model_filename, line.spec.process, line.spec.material,
             line.spec.quantity, line.unit_price or "needs review", line.total or "-")
            for i, line in enumerate(order.lines, start=1)
        ],
        right=frozenset({4, 5, 6}),
    )
    history = render_table(
        ("when (UTC)", "from", "to", "by", "note"),
        [
            (h.at.strftime("%Y-%m-%d %H:%M"), h.from_status.label, h.to_status.label,
             str(h.actor), h.note or "")
            for h in order.history
        ],
    )
    return "\n\n".join([render_table(("", ""), head), lines, history])


def outbox_summary(message: OutboxMessage) -> dict[str, object]:
    """The fields of an outbox message a list shows (also its JSON form)."""
    return {
        "id": message.id,
        "status": message.status.value,
        "to": list(message.mail.to),
        "cc": list(message.mail.cc),
        "subject": message.mail.subject,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "last_error": message.last_error,
        "created_at": message.created_at,
        "sent_at": message.sent_at,
    }


def outbox_table(messages: Sequence[OutboxMessage]) -> str:
    return render_table(
        ("id", "status", "to", "subject", "attempts", "last error"),
        [
            (m.id, m.status.value, ", ".join(m.mail.to), m.mail.subject, m.attempts,
             (m.last_error or "")[:60])
            for m in messages
        ],
        right=frozenset({4}),
    )
