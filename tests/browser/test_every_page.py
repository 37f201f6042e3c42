"""Every page of the widget and the back office in Chromium: axe-core finds no serious or
critical violation, customers reach nothing of others, and the main pages are photographed.

Set ``FABCORE_SCREENSHOTS`` to a folder to keep the screenshots (the README's come from here).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from browser_fixtures import (
    DATA,
    check_accessibility,
    ship,
    sign_up,
    staff_sign_in,
    text_of,
    upload,
)
from http_server import LiveServer


def _shoot(page: Any, name: str, tmp: Path) -> None:
    folder = Path(os.environ.get("FABCORE_SCREENSHOTS") or tmp)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _visit(page: Any, name: str, tmp: Path, shoot: bool = True) -> None:
    check_accessibility(page, name)
    if shoot:
        _shoot(page, name, tmp)


def test_every_page_is_accessible_and_private(
    context: Any, shop_server: LiveServer, tmp_path: Path
) -> None:
    url = shop_server.url
    customer = context.new_page()
    customer.goto(f"{url}/w/acme/")
    customer.locator("#sign-up").wait_for()
    _visit(customer, "widget-sign-in", tmp_path)
    sign_up(customer, shop_server)
    customer.get_by_label("Model files").set_input_files(str(DATA / "empty.stl"))
    refused = customer.locator("#uploads li.error")
    refused.wait_for()
    assert refused.inner_text() == "empty.stl: the STL file contains no triangles"
    upload(customer, "20mm-xyz-cube.stl")
    assert customer.locator("#uploads li.error").count() == 1
    card = customer.locator("article.part").first
    card.get_by_label("Units of the file").select_option("cm")
    customer.locator("article.part", has_text="200.0 \u00d7 200.0 \u00d7 200.0 mm").wait_for()
    card = customer.locator("article.part").first
    card.get_by_label("Units of the file").select_option("mm")
    customer.locator("article.part", has_text="20.0 \u00d7 20.0 \u00d7 20.0 mm").wait_for()
    upload(customer, "box.obj", "cm")
    assert "20.0 \u00d7 20.0 \u00d7 20.0 mm" in customer.locator("article.part").nth(1).inner_text()
    customer.locator("canvas.viewer[data-ready=true]").nth(1).wait_for()
    ship(customer, re.compile("^DHL parcel"))
    _visit(customer, "widget-cart", tmp_path)
    customer.get_by_role("button", name="Place order").click()
    customer.locator("[data-state=ready_for_payment]").wait_for()
    # The refused upload's notice leaves with the upload zone, once the page has settled.
    customer.wait_for_function("document.querySelectorAll('#uploads li').length === 0")
    assert customer.locator("#uploads li").count() == 0
    _visit(customer, "widget-ready-for-payment", tmp_path)
    placed_id = customer.locator("section.order").get_attribute("data-order-id")
    customer.get_by_label("PO number").fill("PO-4711")
    customer.get_by_label(re.compile("^PO document")).set_input_files(
        files=[{"name": "po.pdf", "mimeType": "application/pdf",
                "buffer": b"%PDF-1.4 purchase order"}])
    customer.get_by_role("button", name="Provide PO").click()
    customer.get_by_text("Purchase order PO-4711").wait_for()

    customer.get_by_role("link", name="New quote").click()
    upload(customer, "pyramids.3mf")
    customer.locator("canvas.viewer[data-ready=true]").first.wait_for()
    assert "12 separate parts" in customer.locator("ul.warnings").inner_text()
    ship(customer, re.compile("^Pickup"))
    customer.get_by_role("button", name="Submit for review").click()
    customer.locator("[data-state=budget_offer]").wait_for()
    _visit(customer, "widget-budget-offer", tmp_path)
    customer.get_by_role("link", name="My orders").click()
    customer.locator("table.list").wait_for()
    _visit(customer, "widget-orders", tmp_path)

    staff = context.browser.new_context(bypass_csp=True, viewport={"width": 1280,
                                                                    "height": 900}).new_page()
    staff_sign_in(staff, shop_server)
    _visit(staff, "admin-orders", tmp_path)
    staff.get_by_role("link", name=re.compile("^Waiting for review")).click()
    staff.locator("table.list a").first.click()
    staff.locator("canvas.viewer[data-ready=true]").first.wait_for()
    _visit(staff, "admin-order-in-review", tmp_path)
    staff.get_by_role("button", name="Send firm offer").click()
    staff.locator("[data-status=firm_offer_sent]").wait_for()
    staff.get_by_text("Change", exact=True).click()
    staff.locator("details.change-option").first.locator("summary").click()
    _visit(staff, "admin-order-change", tmp_path)
    offer = shop_server.wait_for_mail(lambda m: "Firm offer sent" in m["Subject"]
                                      and m["To"] == "ada@example.com")
    link = re.search(r"(http://\S+/w/acme/offers/\S+)", text_of(offer))
    assert link is not None
    customer.goto(link.group(1))
    customer.locator("[data-state=firm_offer]").wait_for()
    _visit(customer, "widget-firm-offer", tmp_path)

    for name, path in (("admin-quotation-tool", "quotes/new"), ("admin-customers", "customers"),
                       ("admin-settings", "settings"), ("admin-staff", "staff"),
                       ("admin-outbox", "outbox?status=sent")):
        staff.goto(f"{url}/admin/acme/{path}")
        staff.locator("h1").wait_for()
        _visit(staff, name, tmp_path)
    staff.goto(f"{url}/admin/acme/catalog")
    staff.get_by_label("Catalog file (TOML)").set_input_files(files=[{
        "name": "catalog.toml", "mimeType": "text/plain",
        "buffer": (DATA.parent.parent / "src" / "fabcore" / "data" / "sample_catalog.toml")
        .read_bytes().replace(b"hourly_rate = 4.0", b"hourly_rate = -4.0", 1)}])
    staff.get_by_role("button", name="Upload and check").click()
    staff.locator("li.bad").first.wait_for()
    _visit(staff, "admin-catalog-error", tmp_path)
    staff.goto(f"{url}/admin/acme/orders/{placed_id}")
    staff.locator("[data-status=po_provided]").wait_for()
    _visit(staff, "admin-order-with-po", tmp_path, shoot=False)
    staff.get_by_text("Change", exact=True).click()
    due = staff.locator("details.change-option", has=staff.get_by_text("PO Payment due",
                                                                        exact=True))
    due.locator("summary").click()
    due.get_by_label(re.compile("^Payment due on")).fill("2027-01-15")
    due.get_by_role("button", name="Change to PO Payment due").click()
    staff.locator("[data-status=po_payment_due]").wait_for()
    assert "Payment due 2027-01-15" in staff.locator("aside").inner_text()

    stranger = context.browser.new_context(bypass_csp=True).new_page()
    sign_up(stranger, shop_server, "eve@example.com")
    stranger.goto(f"{url}/w/acme/orders/{placed_id}")
    stranger.get_by_role("heading", name="Not found").wait_for()
    assert "PO-4711" not in stranger.content()
    _visit(stranger, "widget-not-found", tmp_path, shoot=False)
    stranger.goto(f"{url}/admin/acme/orders/{placed_id}")
    stranger.get_by_role("button", name="Sign in").wait_for()
    assert stranger.url.startswith(f"{url}/admin/acme/sign-in")
    _visit(stranger, "admin-sign-in", tmp_path, shoot=False)
    stranger.get_by_label("E-mail address").fill("eve@example.com")
    stranger.get_by_label("Password").fill("ada's long password")
    stranger.get_by_role("button", name="Sign in").click()
    stranger.get_by_text("This account is a customer account").wait_for()
