"""The widget embedded in a page of another origin: allowed origins frame it, others do not."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from browser_fixtures import DATA, ship, staff_sign_in
from http_server import LiveServer, free_port

HOST_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Shop site</title></head>
<body><h1>Our parts service</h1>
<script src="{widget}/w/acme/embed.js" async></script>
<script>
document.addEventListener("fabcore:order-placed", function (e) {{
  document.title = "placed " + e.detail.number;
}});
</script>
</body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def host_site(tmp_path: Path, shop_server: LiveServer) -> Iterator[int]:
    """A plain web server for the shop's own site, on another port."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text(HOST_PAGE.format(widget=shop_server.url))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()),
                                 partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_an_allowed_origin_embeds_the_widget_and_hears_of_the_order(
    context: Any, shop_server: LiveServer, host_site: int
) -> None:
    staff = context.new_page()
    staff_sign_in(staff, shop_server)
    staff.get_by_role("link", name="Settings").click()
    staff.get_by_label(re.compile("^Sites allowed to embed")).fill(
        f"http://localhost:{host_site}")
    staff.get_by_role("button", name="Save settings").click()
    staff.get_by_text("Settings saved.").wait_for()
    assert '/w/acme/embed.js" async' in staff.locator("pre.code").inner_text()

    page = context.new_page()
    page.goto(f"http://localhost:{host_site}/")
    frame = page.frame_locator("iframe[title='Instant quote']")
    form = frame.locator("#sign-up")
    form.locator("#su-name").fill("Ada Lovelace")
    form.locator("#su-email").fill("ada@example.com")
    form.locator("#su-password").fill("ada's long password")
    form.locator("#billing-line1").fill("1 Analytical Way")
    form.locator("#billing-postal").fill("10115")
    form.locator("#billing-city").fill("Berlin")
    form.locator("#billing-country").fill("DE")
    form.get_by_role("button", name="Create account").click()
    frame.get_by_role("heading", name=re.compile("Your quote")).wait_for()
    # The iframe grew to its content, as the widget reported it.
    page.wait_for_function("document.querySelector('iframe').style.height.endsWith('px')")
    frame.get_by_label("Model files").set_input_files(str(DATA / "20mm-xyz-cube.stl"))
    frame.locator("article.part").wait_for()
    ship(frame, re.compile("^Pickup"))
    frame.get_by_role("button", name="Place order").click()
    frame.locator("[data-state=ready_for_payment]").wait_for()
    page.wait_for_function("document.title.startsWith('placed ')")
    height = page.evaluate("parseInt(document.querySelector('iframe').style.height)")
    inner = frame.locator("html").evaluate("e => e.scrollHeight")
    assert abs(height - inner) <= 2

    # A payment page is never framed: Pay now takes the whole window there, and back.
    frame.get_by_role("button", name="Pay now").click()
    page.get_by_role("heading", name="Demo payment page").wait_for()
    page.get_by_role("button", name=re.compile("^Pay ")).click()
    page.locator("#si-email").fill("ada@example.com")
    page.locator("#si-password").fill("ada's long password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.locator("[data-state=paid]").wait_for()


def test_another_origin_is_refused(context: Any, shop_server: LiveServer, host_site: int) -> None:
    answer = context.request.get(f"{shop_server.url}/w/acme/")
    assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{host_site}/")
    page.locator("iframe").wait_for()
    page.wait_for_function("document.querySelector('iframe') !== null")
    child = page.frames[1] if len(page.frames) > 1 else None
    assert child is not None
    child.wait_for_load_state()
    # Chromium shows its own error page in place of a refused frame.
    assert child.url.startswith("chrome-error://"), child.url
    assert page.evaluate("document.querySelector('iframe').style.height") == ""
