"""Real Chromium for the browser tests (Playwright driving Debian's ``chromium``): a pytest plugin.

The tests skip where Chromium is not installed, except under CI (``CI``
set), where a missing browser fails them: ``.ci/run`` installs it.
Chromium writes its profile under ``HOME``, so ``HOME`` points at a
temporary folder while it runs. ``check_accessibility`` runs axe-core
(vendored in ``tests/browser/vendor``) in the page and fails on serious or
critical violations.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from http_server import OWNER_EMAIL, OWNER_PASSWORD, LiveServer, start_server

CHROMIUM = os.environ.get("FABCORE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "browser" / "vendor" / "axe.min.js"
DATA = Path(__file__).resolve().parent / "data"


def _missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install --no-install-recommends chromium)"
    return None


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    why = _missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests need Chromium under CI: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    saved = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        with sync_playwright() as driver:
            launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                yield launched
            finally:
                launched.close()
    finally:
        if saved is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = saved


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    # axe-core is injected as an inline script, which the pages' policy forbids.
    made = browser.new_context(bypass_csp=True, accept_downloads=True,
                               viewport={"width": 1280, "height": 900})
    # Generous: analyses share two cores with the rest of a test run.
    made.set_default_timeout(90_000)
    made.set_default_navigation_timeout(90_000)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.fixture
def shop_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "server")
    try:
        yield server
    finally:
        server.stop()


def check_accessibility(page: Any, where: str) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("""async () => {
        const found = await axe.run(document, {resultTypes: ["violations"]});
        return found.violations.filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}));
    }""")
    assert result == [], f"accessibility violations on {where}: {result}"


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


CUSTOMER = "ada@example.com"
PASSWORD = "ada's long password"


def sign_up(page: Any, server: LiveServer, email: str = CUSTOMER) -> None:
    """Create a customer account in the widget; the cart shows afterwards."""
    page.goto(f"{server.url}/w/acme/")
    form = page.locator("#sign-up")
    form.get_by_label("Your name").fill("Ada Lovelace")
    form.locator("#su-email").fill(email)
    form.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    form.locator("#billing-company").fill("Analytical Engines Ltd")
    form.get_by_label("Street and number").fill("1 Analytical Way")
    form.get_by_label("Postal code").fill("10115")
    form.get_by_label("City").fill("Berlin")
    form.get_by_label("Country (two letters, e.g. DE)").fill("DE")
    form.locator("#su-bc-name").fill("Accounts")
    form.locator("#su-bc-email").fill("accounts@example.com")
    form.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name=re.compile("Your quote")).wait_for()


def upload(page: Any, filename: str, units: str = "mm") -> None:
    before = page.locator("article.part").count()
    page.get_by_label("Units of the files").select_option(units)
    page.get_by_label("Model files").set_input_files(str(DATA / filename))
    page.locator("article.part").nth(before).wait_for()


def ship(page: Any, method: re.Pattern[str]) -> None:
    page.get_by_label(method).check()
    page.get_by_role("button", name="Save shipping").click()
    page.locator("table.breakdown th", has_text=re.compile("^Shipping \\(")).wait_for()


def staff_sign_in(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/admin/acme/")
    page.get_by_label("E-mail address").fill(OWNER_EMAIL)
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Orders").wait_for()
