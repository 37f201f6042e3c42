"""The order aggregate's data: lines, prices, editing rules, parties."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from order_builders import NOW, STAFF, SYSTEM, analysis, context, draft, eur, line, order_in

from fabcore.domain.actor import ActorKind
from fabcore.domain.customer import Address, BillingContact, Customer
from fabcore.domain.errors import CurrencyMismatch, GuardFailed, InvalidInput, NotFound
from fabcore.domain.money import Money
from fabcore.domain.order import OrderLine
from fabcore.domain.quote import Fee
from fabcore.domain.shop import BankAccount, ShopSettings
from fabcore.domain.status import OrderStatus


def test_line_prices_and_totals() -> None:
    priced = line(quantity=3)
    assert priced.unit_price == eur("12.50")
    assert priced.total == eur("37.50")

    firm = attrs.evolve(priced, firm_unit_price=eur("10.00"),
                        line_fees=(Fee("setup", eur("5.00")),))
    assert firm.unit_price == eur("10.00")
    assert firm.total == eur("35.00")

    assert line(priced=False).total is None
    order = draft(lines=[priced, attrs.evolve(priced, id="l2")])
    assert order.lines_total == eur("75.00")
    order.lines.append(line("l3", priced=False))
    assert order.lines_total is None


def test_lines_change_only_before_the_offer() -> None:
    order = draft()
    order.set_line(line("l2"))
    order.set_line(line("l2", quantity=7))
    assert [(x.id, x.spec.quantity) for x in order.lines] == [("l1", 2), ("l2", 7)]
    order.remove_line("l1")
    assert [x.id for x in order.lines] == ["l2"]
    with pytest.raises(NotFound):
        order.remove_line("l1")

    order.submit_for_review(STAFF, NOW)
    order.set_firm_price("l2", eur("3.00"))
    order.send_firm_offer(STAFF, NOW, context())
    changes: list[Callable[[], None]] = [
        lambda: order.set_line(line("l9")), lambda: order.remove_line("l2"),
        lambda: order.set_firm_price("l2", eur("1.00")), lambda: order.set_shipping(None),
        lambda: order.set_customer("c9"), lambda: order.set_billing_address(None),
    ]
    for change in changes:
        with pytest.raises(GuardFailed, match="only in Draft or Waiting for review"):
            change()
    assert order.line("l2").firm_unit_price == eur("3.00")


def test_prices_must_be_in_the_order_currency() -> None:
    order = draft()
    with pytest.raises(CurrencyMismatch):
        order.set_firm_price("l1", Money("3.00", "USD"))
    with pytest.raises(CurrencyMismatch):
        order.set_firm_price("l1", eur("3.00"), [Fee("setup", Money("1", "GBP"))])
    assert order.line("l1").firm_unit_price is None


def test_change_status_without_the_data_a_trigger_needs() -> None:
    order = order_in("placed")
    with pytest.raises(InvalidInput, match=r"provide_po needs po_number"):
        order.change_status(STAFF, NOW, OrderStatus.PO_PROVIDED, context())
    assert order.status is OrderStatus.PLACED


def test_order_and_line_fields_are_checked() -> None:
    with pytest.raises(InvalidInput, match="order number"):
        draft(number=" ")
    with pytest.raises(InvalidInput, match="currency"):
        draft(currency="euro")
    with pytest.raises(InvalidInput, match="sha256"):
        OrderLine("l1", "not-a-digest", "a.stl", analysis(), line().spec)


def test_parties_validate_their_addresses() -> None:
    with pytest.raises(InvalidInput, match="e-mail"):
        Customer("c", "s", "Ada", "ada-at-example.com")
    with pytest.raises(InvalidInput, match="e-mail"):
        BillingContact("Accounts", "accounts@")
    with pytest.raises(InvalidInput, match="country"):
        Address("Ada", "1 Way", "1", "Berlin", "Germany")
    assert Address("Ada", "1 Way", "1", "Berlin", "de").country == "DE"
    with pytest.raises(InvalidInput, match="at least one"):
        ShopSettings(notify_emails=(), sender_email="a@b.example")
    with pytest.raises(InvalidInput, match="postal code"):
        Address("Ada", "1 Way", 10115, "Berlin", "DE")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="city"):
        Address("Ada", "1 Way", "1", " ", "DE")


@pytest.mark.parametrize(
    ("changes", "match"),
    [({"offer_validity_days": 0}, "offer validity"),
     ({"offer_validity_days": 366}, "offer validity"),
     ({"payment_terms_days": "x"}, "payment terms"),
     ({"invoice_prefix": "INV 2026 "}, "invoice prefix"),
     ({"legal_name": " "}, None)],
)
def test_shop_settings_are_checked(changes: dict[str, object], match: str | None) -> None:
    base = {"notify_emails": ("a@b.example",), "sender_email": "a@b.example"}
    if match is None:
        assert ShopSettings(**base, **changes).legal_name is None  # type: ignore[arg-type]
        return
    with pytest.raises(InvalidInput, match=match):
        ShopSettings(**base, **changes)  # type: ignore[arg-type]


def test_bank_accounts_check_the_iban() -> None:
    account = BankAccount("Acme GmbH", "de89 3704 0044 0532 0130 00", "cobadeffxxx")
    assert (account.iban, account.bic) == ("DE89370400440532013000", "COBADEFFXXX")
    assert account.iban_grouped == "DE89 3704 0044 0532 0130 00"
    with pytest.raises(InvalidInput, match="check digits"):
        BankAccount("Acme GmbH", "DE88370400440532013000")
    with pytest.raises(InvalidInput, match="not well formed"):
        BankAccount("Acme GmbH", "12345")
    with pytest.raises(InvalidInput, match="BIC"):
        BankAccount("Acme GmbH", "DE89370400440532013000", "COBA")


def test_actors() -> None:
    assert SYSTEM.kind is ActorKind.SYSTEM
    assert str(STAFF) == "staff staff-1"
