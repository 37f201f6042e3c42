"""The back office's order page in real Chromium: edits in review (material, lines removed and
added), payments recorded and taken back, the order list's filters and CSV export, and the
same pages with JavaScript turned off (forms post and redirect)."""

from __future__ import annotations

import re
from typing import Any

from browser_fixtures import CUSTOMER, DATA, ship, sign_up, staff_sign_in, upload
from http_server import LiveServer


def test_staff_edit_an_order_in_review_and_record_its_payment(
    context: Any, shop_server: LiveServer
) -> None:
    customer = context.new_page()
    sign_up(customer, shop_server)
    upload(customer, "20mm-xyz-cube.stl")
    upload(customer, "box.obj", "cm")
    ship(customer, re.compile("^Pickup"))
    customer.get_by_role("button", name="Submit for review").click()
    customer.locator("[data-state=budget_offer]").wait_for()
    order_id = customer.locator("section.order").get_attribute("data-order-id")
    number = customer.locator("h1").inner_text().split()[-1]

    staff = context.browser.new_context(bypass_csp=True, accept_downloads=True).new_page()
    staff_sign_in(staff, shop_server)
    staff.goto(f"{shop_server.url}/admin/acme/orders/{order_id}")
    cube = staff.locator("form.line-edit", has_text="Edit 20mm-xyz-cube.stl")
    choice = cube.get_by_label("Process and material")
    sls = choice.locator("option", has_text=re.compile("^SLS")).first.get_attribute("value")
    assert sls is not None
    choice.select_option(sls)
    cube.get_by_role("button", name="Save line").click()
    staff.get_by_text("The line was saved.").wait_for()
    breakdown = staff.locator("table.breakdown")
    assert re.search(r"20mm-xyz-cube\.stl\s+SLS", breakdown.inner_text())

    staff.get_by_role("button", name="Remove box.obj").click()
    staff.get_by_text("The line was removed.").wait_for()
    assert staff.locator("article.part").count() == 1
    staff.get_by_label("Model files").set_input_files(str(DATA / "pyramids.3mf"))
    staff.locator("article.part", has_text="pyramids.3mf").wait_for()
    assert "box.obj" not in breakdown.inner_text()
    assert "pyramids.3mf" in staff.locator("table.breakdown").inner_text()
    staff.get_by_role("button", name="Send firm offer").click()
    staff.locator("[data-status=firm_offer_sent]").wait_for()

    customer.goto(f"{shop_server.url}/w/acme/orders/{order_id}")
    customer.locator("[data-state=firm_offer]").get_by_role("button", name="Confirm").click()
    customer.locator("[data-state=ready_for_payment]").wait_for()

    staff.reload()
    staff.locator("[data-status=placed]").wait_for()
    payment = staff.locator("aside section", has=staff.get_by_role("heading", name="Payment"))
    payment.get_by_label(re.compile("^Reference")).fill("bank transfer 42")
    payment.get_by_role("button", name="Record payment").click()
    staff.get_by_text("Payment recorded.").wait_for()
    assert "Payment: Paid" in staff.locator("main").inner_text()
    staff.get_by_label("Note (optional)").last.fill("the transfer bounced")
    staff.get_by_role("button", name="Mark unpaid").click()
    staff.get_by_text("Marked unpaid.").wait_for()
    assert "Payment: Unpaid" in staff.locator("main").inner_text()

    staff.get_by_role("link", name="Orders").click()
    staff.get_by_label("Payment").select_option(label="Unpaid")
    staff.get_by_label("Search (number, customer, e-mail)").fill(CUSTOMER)
    staff.get_by_role("button", name="Filter").click()
    staff.get_by_role("link", name=number).wait_for()
    assert "Page 1 of 1 (1 orders)" in staff.locator("nav.pager").inner_text()
    with staff.expect_download() as download:
        staff.get_by_role("link", name="Export CSV").click()
    path = download.value.path()
    assert path is not None
    with open(path, encoding="utf-8") as csv:
        rows = csv.read().splitlines()
    assert len(rows) == 2
    assert rows[1].startswith(f"{number},")
    assert CUSTOMER in rows[1]
    staff.get_by_label("Created until").fill("2000-01-01")
    staff.get_by_role("button", name="Filter").click()
    staff.get_by_text("No orders match.").wait_for()

    plain = context.browser.new_context(java_script_enabled=False).new_page()
    staff_sign_in(plain, shop_server)
    plain.goto(f"{shop_server.url}/admin/acme/orders/{order_id}")
    plain.get_by_text("Change", exact=True).click()
    option = plain.locator("details.change-option",
                           has=plain.get_by_text("Manufacturing", exact=True))
    option.locator("summary").click()
    option.get_by_role("button", name="Change to Manufacturing").click()
    plain.get_by_text("Status changed to Manufacturing.").wait_for()
    plain.get_by_label(re.compile("^Reference")).fill("cheque 7")
    plain.get_by_role("button", name="Record payment").click()
    plain.get_by_text("Payment recorded.").wait_for()
    assert "Payment: Paid" in plain.locator("main").inner_text()
