"""Back-office pages over HTTP: the outbox's retry, owners-only pages, lists a page at a time,
and the order history naming who changed what."""

from __future__ import annotations

import re
from decimal import Decimal

from fabcore.domain.accounts import Role
from fabcore.domain.actor import Actor
from fabcore.domain.customer import Address
from fabcore.entrypoints.web.pages.admin import CUSTOMERS_PER_PAGE
from fabcore.entrypoints.web.pages.widget import ORDERS_PER_PAGE
from web_fixtures import DATA, PASSWORD, Person, Site

ADDRESS = Address("Ada Lovelace", "1 Analytical Way", "10115", "Berlin", "DE")


def _as(site: Site, person: Person) -> None:
    site.client.cookies.clear()
    site.client.cookies.set("fabcore_session", person.token)


def test_a_failed_mail_is_listed_in_the_outbox_and_sent_again(site: Site) -> None:
    owner = site.owner()
    site.core.relay_outbox()
    site.mailer.fail_next(permanent=True)
    site.client.post("/w/acme/sign-in-link", data={"email": owner.email},
                     headers={"HX-Request": "true"})
    assert site.core.relay_outbox().failed == 1
    _as(site, owner)
    failed = site.client.get("/admin/acme/outbox")
    assert failed.status_code == 200
    assert "550 recipient rejected (simulated)" in failed.text
    retry = re.search(r'action="(/admin/acme/outbox/[^"]+/retry)"', failed.text)
    assert retry is not None
    queued = site.client.post(retry.group(1), data={"csrf_token": owner.csrf},
                              follow_redirects=False)
    assert queued.status_code == 303
    assert site.core.relay_outbox().sent == 1
    assert site.mailer.sent[-1].to == (owner.email,)
    assert "No mails here." in site.client.get("/admin/acme/outbox").text
    assert "Retry" not in site.client.get("/admin/acme/outbox?status=sent").text


def test_staff_and_api_keys_are_for_owners_only(site: Site) -> None:
    owner = site.owner()
    site.core.invite_staff(Actor.owner("acme", owner.account["id"]), email="sam@acme.example",
                           name="Sam Staff", role=Role.STAFF)
    site.core.relay_outbox()
    invitation = next(m for m in site.mailer.sent if m.to == ("sam@acme.example",))
    link = re.search(r"https://shop\.example(/admin/acme/invitation/\S+)", invitation.text)
    assert link is not None
    site.client.cookies.clear()
    accepted = site.client.post(link.group(1), data={"password": PASSWORD},
                                follow_redirects=False)
    assert accepted.status_code == 303
    assert "fabcore_session=" in accepted.headers["set-cookie"]
    sam = site.sign_in("sam@acme.example")
    _as(site, sam)
    orders = site.client.get("/admin/acme/orders", follow_redirects=False)
    assert orders.status_code == 200
    assert "Staff and API keys" not in orders.text
    refused = site.client.get("/admin/acme/staff", follow_redirects=False)
    assert refused.status_code == 403
    assert "only the shop&#39;s owners" in refused.text
    assert site.client.post("/admin/acme/api-keys", data={
        "csrf_token": sam.csrf, "name": "ERP"}).status_code == 403
    assert site.core.list_api_keys(Actor.system("acme")) == []

    _as(site, owner)
    page = site.client.get("/admin/acme/staff")
    assert page.status_code == 200
    assert "Sam Staff" in page.text
    issued = site.client.post("/admin/acme/api-keys", data={"csrf_token": owner.csrf,
                                                            "name": "ERP"})
    assert issued.status_code == 200
    key = re.search(r'<pre class="code" id="new-key" tabindex="0">([^<]+)</pre>', issued.text)
    assert key is not None
    assert site.client.get("/api/v1/shops/acme/orders",
                           headers={"Authorization": f"Bearer {key.group(1)}"}
                           ).status_code == 200


def test_the_customer_list_is_shown_a_page_at_a_time(site: Site) -> None:
    owner = site.owner()
    staff = Actor.owner("acme", owner.account["id"])
    for number in range(CUSTOMERS_PER_PAGE + 1):
        site.core.register_customer(staff, name=f"Customer {number:03d}",
                                    email=f"c{number:03d}@example.com")
    _as(site, owner)
    first = site.client.get("/admin/acme/customers")
    second = site.client.get("/admin/acme/customers?page=2")
    assert first.text.count("@example.com</td>") == CUSTOMERS_PER_PAGE
    assert 'href="/admin/acme/customers?page=2" rel="next"' in first.text
    assert second.text.count("@example.com</td>") == 1
    assert 'rel="next"' not in second.text
    assert 'href="/admin/acme/customers?page=1" rel="prev"' in second.text


def test_my_orders_are_shown_a_page_at_a_time(site: Site) -> None:
    ada = site.sign_up("ada@example.com")
    actor = site.core.authenticate(ada.token).actor
    for _ in range(ORDERS_PER_PAGE + 1):
        site.core.create_order(actor)
    headers = {"HX-Request": "true", **ada.headers}
    first = site.client.get("/w/acme/orders", headers=headers)
    second = site.client.get("/w/acme/orders?page=2", headers=headers)
    assert first.text.count('hx-push-url="true">0') == ORDERS_PER_PAGE
    assert "Older orders" in first.text
    assert second.text.count('hx-push-url="true">0') == 1
    assert "Newer orders" in second.text
    assert "Older orders" not in second.text


def test_the_order_history_names_who_changed_the_status(site: Site) -> None:
    owner = site.owner()
    ada = site.sign_up("ada@example.com", billing_address={
        "name": "Ada Lovelace", "line1": "1 Analytical Way", "postal_code": "10115",
        "city": "Berlin", "country": "DE"})
    actor = site.core.authenticate(ada.token).actor
    order = site.core.create_order(actor)
    model = site.core.upload_model(actor, (DATA / "20mm-xyz-cube.stl").read_bytes(), "cube.stl")
    site.core.add_part(actor, order.id, model)
    site.core.set_shipping(actor, order.id, "pickup")
    site.core.place(actor, order.id)
    site.core.change_status(Actor.owner("acme", owner.account["id"]), order.id,
                            "manufacturing", {}, "first in the queue")
    _as(site, owner)
    page = site.client.get(f"/admin/acme/orders/{order.id}")
    history = page.text.split('<ol class="history">', 1)[1].split("</ol>", 1)[0]
    assert "by Olga Owner (staff)" in history
    assert "first in the queue" in history
    assert "by Ada (customer)" in history


def test_the_order_list_has_tabs_with_counts_and_pages(site: Site) -> None:
    owner = site.owner()
    staff = Actor.owner("acme", owner.account["id"])
    customer = site.core.register_customer(staff, name="Ada", email="ada@example.com",
                                           billing_address=ADDRESS)
    for _ in range(26):
        site.core.create_order(staff, customer.id)
    _as(site, owner)
    first = site.client.get("/admin/acme/orders")
    tabs = first.text.split('class="tabs"', 1)[1].split("</ul>", 1)[0]
    assert re.search(r'>All <span class="count">26</span>', tabs)
    assert re.search(r'>Draft <span class="count">26</span>', tabs)
    assert "Page 1 of 2 (26 orders)" in first.text
    assert first.text.count('<td><a href="/admin/acme/orders/') == 25
    second = site.client.get("/admin/acme/orders?page=2")
    assert second.text.count('<td><a href="/admin/acme/orders/') == 1
    assert 'rel="prev"' in second.text
    assert 'rel="next"' not in second.text
    paid = site.client.get("/admin/acme/orders?payment=paid")
    assert "No orders match." in paid.text
    later = site.client.get("/admin/acme/orders?from=2026-11-03")
    assert "No orders match." in later.text
    bad = site.client.get("/admin/acme/orders?from=someday")
    assert bad.status_code == 422
    assert "must be a date like" in bad.text


def test_settings_and_customers_are_saved_from_their_forms(site: Site) -> None:
    owner = site.owner()
    _as(site, owner)
    saved = site.client.post("/admin/acme/settings", follow_redirects=False, data={
        "csrf_token": owner.csrf, "mode": "manual", "max_order_total": "1200.50",
        "max_quantity": "40", "payment_before_production": "on",
        "offer_validity_days": "21", "widget_origins": "https://shop.example\nhttp://localhost:8080"})
    assert saved.status_code == 303
    settings = site.core.get_shop(Actor.system("acme")).settings
    assert settings.review.mode.value == "manual"
    assert settings.review.max_order_total is not None
    assert settings.review.max_order_total.amount == Decimal("1200.50")
    assert settings.review.max_quantity == 40
    assert not settings.review.dfm_warnings_require_review
    assert settings.payment_before_production
    assert settings.offer_validity_days == 21
    assert settings.widget_origins == ("https://shop.example", "http://localhost:8080")
    page = site.client.get("/admin/acme/settings").text
    assert '<option value="manual" selected>' in page
    assert 'value="1200.50"' in page

    added = site.client.post("/admin/acme/customers", follow_redirects=False, data={
        "csrf_token": owner.csrf, "name": "Grace Hopper", "email": "grace@example.com",
        "company": "Navy", "billing_contact_name": "Accounts",
        "billing_contact_email": "accounts@navy.example", "billing_line1": "1 Compiler Road",
        "billing_postal_code": "10001", "billing_city": "New York", "billing_country": "us"})
    assert added.status_code == 303
    grace = site.core.find_customer(Actor.system("acme"), "grace@example.com")
    assert grace is not None
    assert grace.billing_contact is not None
    assert grace.billing_contact.email == "accounts@navy.example"
    assert grace.billing_address is not None
    assert grace.billing_address.country == "US"
    listed = site.client.get("/admin/acme/customers").text
    assert "Grace Hopper" in listed
    assert "accounts@navy.example" in listed
