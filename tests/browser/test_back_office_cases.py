"""Case 2 (review, firm offer, mailed link), case 3 (the quotation tool) and the "Change" button,
in real Chromium: the customer in the widget, staff in the back office, against a real server."""

from __future__ import annotations

import re
from email.message import Message
from typing import Any

from browser_fixtures import (
    CUSTOMER,
    DATA,
    check_accessibility,
    ship,
    sign_up,
    staff_sign_in,
    text_of,
    upload,
)
from http_server import LiveServer


def change_to(page: Any, status: str, fields: dict[str, str] | None = None) -> None:
    page.get_by_text("Change", exact=True).click()
    option = page.locator("details.change-option", has=page.get_by_text(status, exact=True))
    option.locator("summary").click()
    for label, value in (fields or {}).items():
        option.get_by_label(re.compile(label)).fill(value)
    option.get_by_role("button", name=f"Change to {status}").click()
    page.locator("[data-status]", has_text=status).wait_for()


def mail_to(server: LiveServer, to: str, subject: str) -> Message:
    return server.wait_for_mail(lambda m: subject in m["Subject"] and m["To"] == to)


def test_case_2_review_budget_offer_firm_offer_from_the_mail_then_pay(
    context: Any, shop_server: LiveServer
) -> None:
    customer = context.new_page()
    sign_up(customer, shop_server)
    upload(customer, "20mm-xyz-cube.stl")
    ship(customer, re.compile("^Pickup"))
    customer.get_by_label("Note for the shop (optional)").fill("please check the walls")
    customer.get_by_role("button", name="Submit for review").click()
    budget = customer.locator("[data-state=budget_offer]")
    budget.wait_for()
    assert budget.get_by_role("heading", name="Budget offer").is_visible()
    assert customer.get_by_role("button", name="Pay now").count() == 0
    budget.get_by_text("Review budget offer").click()
    assert budget.locator("table.breakdown").is_visible()
    check_accessibility(customer, "the budget offer")
    order_id = customer.locator("section.order").get_attribute("data-order-id")

    staff_page = context.browser.new_context(bypass_csp=True).new_page()
    staff_sign_in(staff_page, shop_server)
    check_accessibility(staff_page, "the order list")
    staff_page.get_by_role("link", name=re.compile("Waiting for review")).click()
    staff_page.locator("table.list a").first.click()
    staff_page.locator("[data-status=waiting_for_review]").wait_for()
    check_accessibility(staff_page, "the order page in review")
    edit = staff_page.locator("form.line-edit").first
    edit.get_by_label("Quantity").fill("3")
    edit.get_by_label(re.compile("^Unit price")).fill("4.20")
    edit.get_by_label("Fee 1 name").fill("Wall check")
    edit.get_by_label("Fee 1 amount").fill("5.00")
    edit.get_by_role("button", name="Save line").click()
    staff_page.get_by_text("The line was saved.").wait_for()
    assert "4.20 EUR" in staff_page.locator("table.breakdown").inner_text()
    staff_page.get_by_role("button", name="Send firm offer").click()
    staff_page.locator("[data-status=firm_offer_sent]").wait_for()

    offer = mail_to(shop_server, CUSTOMER, "Firm offer sent")
    link = re.search(r"(http://\S+/w/acme/offers/\S+)", text_of(offer))
    assert link is not None
    customer.goto(link.group(1))
    firm = customer.locator("[data-state=firm_offer]")
    firm.wait_for()
    assert customer.get_by_role("button", name="Pay now").count() == 0
    assert "17.60 EUR" in firm.locator("table.breakdown").inner_text()
    check_accessibility(customer, "the firm offer")
    firm.get_by_role("button", name="Confirm").click()
    ready = customer.locator("[data-state=ready_for_payment]")
    ready.wait_for()
    assert customer.url.endswith(f"/w/acme/orders/{order_id}")
    ready.get_by_role("button", name="Pay now").click()
    customer.get_by_role("button", name=re.compile("^Pay ")).click()
    customer.locator("[data-state=paid]").wait_for()
    shop_server.wait_for_mail(lambda m: "payment received" in m["Subject"].lower()
                              and m["To"] == CUSTOMER)


def test_case_3_quotation_tool_draft_offer_confirmation(
    context: Any, shop_server: LiveServer
) -> None:
    staff_page = context.new_page()
    staff_sign_in(staff_page, shop_server)
    staff_page.get_by_role("link", name="Quotation tool").click()
    new = staff_page.locator("form", has=staff_page.get_by_role("heading",
                                                                  name="For a new customer"))
    new.get_by_label("Name", exact=True).first.fill("Grace Hopper")
    new.get_by_label("E-mail address").fill("grace@example.com")
    new.locator("#billing-line1").fill("1 Compiler Road")
    new.locator("#billing-postal").fill("10001")
    new.locator("#billing-city").fill("New York")
    new.locator("#billing-country").fill("US")
    new.get_by_role("button", name="Add customer and start quote").click()
    staff_page.locator("[data-status=draft]").wait_for()
    check_accessibility(staff_page, "the quotation tool's draft")
    staff_page.get_by_label("Model files").set_input_files(str(DATA / "box.obj"))
    staff_page.locator("article.part").first.wait_for()
    staff_page.get_by_label(re.compile("^Pickup")).check()
    staff_page.get_by_role("button", name="Save shipping").click()
    staff_page.get_by_text("Shipping saved.").wait_for()

    staff_page.get_by_role("link", name="Quotation tool").click()
    draft = staff_page.locator("table.list a").first
    assert draft.is_visible()
    draft.click()
    staff_page.get_by_role("button", name="Send firm offer").click()
    staff_page.locator("[data-status=firm_offer_sent]").wait_for()

    offer = mail_to(shop_server, "grace@example.com", "Firm offer sent")
    link = re.search(r"(http://\S+/w/acme/offers/\S+)", text_of(offer))
    assert link is not None
    customer = context.browser.new_context(bypass_csp=True).new_page()
    customer.goto(link.group(1))
    customer.locator("[data-state=firm_offer]").get_by_role("button", name="Confirm").click()
    customer.get_by_text("Thank you: your order is placed.").wait_for()
    staff_page.reload()
    staff_page.locator("[data-status=placed]").wait_for()
    mail_to(shop_server, "grace@example.com", ": Placed")

    staff_page.get_by_role("link", name="Quotation tool").click()
    assert staff_page.get_by_text("No drafts.").is_visible()
    staff_page.get_by_label("Customer", exact=True).select_option(label="Grace Hopper "
                                                                        "(grace@example.com)")
    staff_page.get_by_role("button", name="Start quote", exact=True).click()
    staff_page.locator("[data-status=draft]").wait_for()
    assert "Grace Hopper" in staff_page.locator("aside").inner_text()
    staff_page.get_by_role("link", name="Quotation tool").click()
    assert staff_page.locator("table.list a").count() == 1


def test_change_moves_an_order_through_statuses_and_mails_both_sides(
    context: Any, shop_server: LiveServer
) -> None:
    customer = context.new_page()
    sign_up(customer, shop_server)
    upload(customer, "20mm-xyz-cube.stl")
    ship(customer, re.compile("^Pickup"))
    customer.get_by_role("button", name="Place order").click()
    customer.locator("[data-state=ready_for_payment]").wait_for()
    number = customer.locator("h1").inner_text().split()[-1]

    staff_page = context.browser.new_context(bypass_csp=True).new_page()
    staff_sign_in(staff_page, shop_server)
    staff_page.get_by_label("Search (number, customer, e-mail)").fill(CUSTOMER)
    staff_page.get_by_role("button", name="Filter").click()
    staff_page.get_by_role("link", name=number).click()
    staff_page.locator("[data-status=placed]").wait_for()
    change_to(staff_page, "Manufacturing")
    change_to(staff_page, "On hold", {"^Reason": "out of filament"})
    check_accessibility(staff_page, "the order page with the Change menu")
    change_to(staff_page, "Manufacturing")
    change_to(staff_page, "Ready for pickup")
    change_to(staff_page, "Delivered")
    history = staff_page.locator("ol.history").inner_text()
    assert "Placed → Manufacturing" in history
    assert "Ready for pickup → Delivered" in history

    for status in ("Manufacturing", "On hold", "Ready for pickup", "Delivered"):
        to_customer = mail_to(shop_server, CUSTOMER, f": {status}")
        assert "/w/acme/orders/" in text_of(to_customer)
        to_shop = shop_server.wait_for_mail(
            lambda m, s=status: f": {s}" in m["Subject"] and m["To"] != CUSTOMER)
        assert "/admin/acme/orders/" in text_of(to_shop)
