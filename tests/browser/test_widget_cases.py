"""The seed's ordering cases in real Chromium against a real ``fabcore serve`` (SQLite, Maildir)."""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image

from browser_fixtures import CUSTOMER, check_accessibility, ship, sign_up, text_of, upload
from http_server import LiveServer


def canvas_has_pixels(page: Any) -> bool:
    """The first viewer shows something: many pixels far from its background's colour."""
    canvas = page.locator("canvas.viewer[data-ready=true]").first
    canvas.wait_for()
    image = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    raw = image.tobytes()
    background = raw[0:3]
    pixels = [raw[i:i + 3] for i in range(0, len(raw), 3)]
    differing = sum(1 for p in pixels
                    if max(abs(p[k] - background[k]) for k in range(3)) > 40)
    return differing > len(pixels) // 50


def test_case_1_sign_up_upload_price_place_pay_and_download_the_invoice(
    page: Any, shop_server: LiveServer
) -> None:
    sign_up(page, shop_server)
    check_accessibility(page, "the widget's cart")
    upload(page, "20mm-xyz-cube.stl")
    card = page.locator("article.part").first
    assert "20.0 \u00d7 20.0 \u00d7 20.0 mm" in card.inner_text()
    unit_price = card.locator("[data-unit-price]").inner_text()
    assert re.fullmatch(r"[\d,]+\.\d\d EUR", unit_price)
    assert canvas_has_pixels(page)

    card.get_by_label("Quantity").fill("10")
    card.get_by_label("Quantity").dispatch_event("change")
    page.locator("article.part input[name=quantity][value='10']").wait_for()
    ship(page, re.compile("^DHL parcel"))
    assert "Shipping (DHL parcel)" in page.locator("table.breakdown").inner_text()
    check_accessibility(page, "the cart with a part")
    page.get_by_role("button", name="Place order").click()
    ready = page.locator("[data-state=ready_for_payment]")
    ready.wait_for()
    assert ready.get_by_role("heading", name="Ready for payment").is_visible()
    check_accessibility(page, "the payment page (ready for payment)")
    order_id = page.locator("section.order").get_attribute("data-order-id")

    with page.expect_download() as download:
        ready.get_by_role("link", name="Download invoice").click()
    path = download.value.path()
    assert path is not None
    with open(path, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"

    ready.get_by_role("button", name="Pay now").click()
    page.get_by_role("heading", name="Demo payment page").wait_for()
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    page.locator("[data-state=paid]").wait_for()
    assert page.url.endswith(f"/w/acme/orders/{order_id}")

    placed = shop_server.wait_for_mail(lambda m: ": Placed" in m["Subject"]
                                       and m["To"] == CUSTOMER)
    assert placed["Cc"] == "accounts@example.com"
    assert f"{shop_server.url}/w/acme/orders/{order_id}" in text_of(placed)
    shop_mail = shop_server.wait_for_mail(lambda m: ": Placed" in m["Subject"]
                                          and m["To"] != CUSTOMER)
    assert f"{shop_server.url}/admin/acme/orders/{order_id}" in text_of(shop_mail)
