"""Mails lead their readers to where they act, in real Chromium: order links after signing in
(widget and back office), the signed "review and pay" link without it; and a customer asks
for changes to a firm offer, then cancels."""

from __future__ import annotations

import re
from typing import Any

from browser_fixtures import CUSTOMER, PASSWORD, ship, sign_up, staff_sign_in, text_of, upload
from http_server import OWNER_EMAIL, OWNER_PASSWORD, LiveServer


def _link(server: LiveServer, to: str, subject: str, path: str) -> str:
    mail = server.wait_for_mail(lambda m: subject in m["Subject"] and (
        m["To"] == to if to == CUSTOMER else m["To"] != CUSTOMER))
    found = re.search(rf"(http://\S+{path}\S*)", text_of(mail))
    assert found is not None, text_of(mail)
    return found.group(1)


def _fresh(context: Any) -> Any:
    return context.browser.new_context(bypass_csp=True).new_page()


def test_order_links_work_after_signing_in_and_the_pay_link_without(
    context: Any, shop_server: LiveServer
) -> None:
    customer = context.new_page()
    sign_up(customer, shop_server)
    upload(customer, "20mm-xyz-cube.stl")
    ship(customer, re.compile("^Pickup"))
    customer.get_by_role("button", name="Place order").click()
    customer.locator("[data-state=ready_for_payment]").wait_for()
    order_id = customer.locator("section.order").get_attribute("data-order-id")

    widget_link = _link(shop_server, CUSTOMER, ": Placed", f"/w/acme/orders/{order_id}")
    reader = _fresh(context)
    reader.goto(widget_link)
    reader.locator("#si-email").fill(CUSTOMER)
    reader.locator("#si-password").fill(PASSWORD)
    reader.get_by_role("button", name="Sign in", exact=True).click()
    reader.locator("[data-state=ready_for_payment]").wait_for()
    assert reader.url == widget_link
    assert reader.get_by_role("button", name="Pay now").is_visible()

    admin_link = _link(shop_server, "shop", ": Placed", f"/admin/acme/orders/{order_id}")
    clerk = _fresh(context)
    clerk.goto(admin_link)
    clerk.get_by_label("E-mail address").fill(OWNER_EMAIL)
    clerk.get_by_label("Password").fill(OWNER_PASSWORD)
    clerk.get_by_role("button", name="Sign in").click()
    clerk.locator("[data-status=placed]").wait_for()
    assert clerk.url == admin_link

    customer.get_by_label("PO number").fill("PO-0815")
    customer.get_by_role("button", name="Provide PO").click()
    customer.get_by_text("Purchase order PO-0815").wait_for()
    clerk.reload()
    clerk.get_by_text("Change", exact=True).click()
    due = clerk.locator("details.change-option",
                        has=clerk.get_by_text("PO Payment due", exact=True))
    due.locator("summary").click()
    due.get_by_label(re.compile("^Payment due on")).fill("2027-02-01")
    due.get_by_role("button", name="Change to PO Payment due").click()
    clerk.locator("[data-status=po_payment_due]").wait_for()

    pay_link = _link(shop_server, CUSTOMER, ": PO Payment due", "/w/acme/pay/")
    payer = _fresh(context)
    payer.goto(pay_link)
    ready = payer.locator("[data-state=ready_for_payment]")
    ready.wait_for()
    assert payer.locator("#si-email").count() == 0
    assert ready.get_by_role("link", name="Download invoice").count() == 0
    ready.get_by_role("button", name="Pay now").click()
    payer.get_by_role("heading", name="Demo payment page").wait_for()
    payer.get_by_role("button", name=re.compile("^Pay ")).click()
    payer.locator("[data-state=paid]").wait_for()
    assert payer.url == pay_link
    clerk.reload()
    assert "Paid" in clerk.locator("main").inner_text()


def test_a_customer_asks_for_changes_to_the_firm_offer_then_cancels(
    context: Any, shop_server: LiveServer
) -> None:
    customer = context.new_page()
    sign_up(customer, shop_server)
    upload(customer, "20mm-xyz-cube.stl")
    ship(customer, re.compile("^Pickup"))
    customer.get_by_role("button", name="Submit for review").click()
    customer.locator("[data-state=budget_offer]").wait_for()
    order_id = customer.locator("section.order").get_attribute("data-order-id")

    staff = _fresh(context)
    staff_sign_in(staff, shop_server)
    staff.goto(f"{shop_server.url}/admin/acme/orders/{order_id}")
    staff.get_by_role("button", name="Send firm offer").click()
    staff.locator("[data-status=firm_offer_sent]").wait_for()

    customer.goto(f"{shop_server.url}/w/acme/orders/{order_id}")
    firm = customer.locator("[data-state=firm_offer]")
    firm.wait_for()
    assert customer.get_by_role("button", name="Pay now").count() == 0
    firm.get_by_label("Ask for changes").fill("ten of them, please")
    firm.get_by_role("button", name="Request changes").click()
    customer.locator("[data-state=budget_offer]").wait_for()
    assert "ten of them, please" in customer.locator("ol.history").inner_text()

    mail = shop_server.wait_for_mail(lambda m: "Waiting for review" in m["Subject"]
                                     and m["To"] != CUSTOMER and "ten of them" in text_of(m))
    assert f"/admin/acme/orders/{order_id}" in text_of(mail)
    staff.reload()
    staff.locator("[data-status=waiting_for_review]").wait_for()
    history = staff.locator("ol.history").inner_text()
    assert "Firm offer sent \u2192 Waiting for review by Ada Lovelace (customer)" in history
    assert "ten of them, please" in history

    customer.locator("summary", has_text="Cancel this order").click()
    customer.get_by_label("Why do you cancel?").fill("found another shop")
    customer.get_by_role("button", name="Cancel order").click()
    customer.locator("span.status", has_text="Canceled by customer").wait_for()
    assert customer.locator("summary", has_text="Cancel this order").count() == 0
    customer.get_by_role("link", name="My orders").click()
    row = customer.locator("table.list tr", has_text="Canceled by customer")
    row.wait_for()
    row.get_by_role("link").click()
    customer.locator("ol.history", has_text="found another shop").wait_for()
