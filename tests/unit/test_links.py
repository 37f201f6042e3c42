"""Signed link tokens: round trip, every kind of refusal, key rotation, fuzzing."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fabcore.app.links import LinkBuilder, LinkSigner, parse_link
from fabcore.domain.errors import ConfigurationError, InvalidInput, OfferLinkInvalid
from fabcore.domain.notifications import LinkPurpose

OFFER, PAY = LinkPurpose.OFFER, LinkPurpose.PAY
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=14)
KEY1 = b"1" * 32
KEY2 = b"2" * 32


def signer(current: str = "k1", **keys: bytes) -> LinkSigner:
    return LinkSigner(keys or {"k1": KEY1}, current=current)


def token(order_id: str = "ord-1", purpose: LinkPurpose = OFFER, revision: int = 3) -> str:
    return signer().issue(order_id, purpose, revision, EXPIRES)


def test_round_trip_gives_back_the_claims() -> None:
    claims = signer().verify(token(), order_id="ord-1", purpose=OFFER, now=NOW)
    assert claims.order_id == "ord-1"
    assert claims.purpose is OFFER
    assert claims.revision == 3
    assert claims.expires_at == EXPIRES


def test_order_id_is_optional_when_verifying() -> None:
    claims = signer().verify(token("ord-7", PAY, 0), purpose=PAY, now=NOW)
    assert (claims.order_id, claims.purpose, claims.revision) == ("ord-7", PAY, 0)


def test_token_is_url_safe_and_names_its_key() -> None:
    value = token(order_id="ord/ü?&=#1")
    assert value.startswith("k1.")
    assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in value)
    claims = signer().verify(value, order_id="ord/ü?&=#1", purpose=OFFER, now=NOW)
    assert claims.order_id == "ord/ü?&=#1"


def test_expiry_is_kept_to_the_second_rounded_down() -> None:
    value = signer().issue("ord-1", OFFER, 1, EXPIRES + timedelta(microseconds=999_999))
    claims = signer().verify(value, purpose=OFFER, now=NOW)
    assert claims.expires_at == EXPIRES


def _flip(text: str, index: int, bit: int) -> str:
    return text[:index] + chr(ord(text[index]) ^ (1 << bit)) + text[index + 1:]


def test_one_bit_changed_anywhere_is_refused() -> None:
    # Several tokens, so the last base64 characters (whose low bits are
    # padding) take many values.
    for revision in range(24):
        original = token(order_id=f"ord-{revision * 7}", revision=revision)
        for index in range(len(original)):
            for bit in range(8):
                tampered = _flip(original, index, bit)
                with pytest.raises(OfferLinkInvalid):
                    signer().verify(tampered, purpose=OFFER, now=NOW)


def test_changed_payload_with_the_old_signature_is_a_bad_signature() -> None:
    kid, _, mac = token().split(".")
    forged_body = b'["ord-1","offer",99,9999999999]'
    forged = f"{kid}.{base64.urlsafe_b64encode(forged_body).rstrip(b'=').decode()}.{mac}"
    with pytest.raises(OfferLinkInvalid, match="signature"):
        signer().verify(forged, purpose=OFFER, now=NOW)


def test_same_key_id_with_another_secret_is_a_bad_signature() -> None:
    impostor = LinkSigner({"k1": b"x" * 32}, current="k1")
    value = impostor.issue("ord-1", OFFER, 3, EXPIRES)
    with pytest.raises(OfferLinkInvalid, match="signature"):
        signer().verify(value, purpose=OFFER, now=NOW)


def test_wrong_purpose_is_refused() -> None:
    with pytest.raises(OfferLinkInvalid, match="is for 'offer', not 'pay'"):
        signer().verify(token(purpose=OFFER), purpose=PAY, now=NOW)


def test_expired_token_is_refused_from_the_second_of_expiry() -> None:
    value = token()
    signer().verify(value, purpose=OFFER, now=EXPIRES - timedelta(seconds=1))
    with pytest.raises(OfferLinkInvalid, match="expired"):
        signer().verify(value, purpose=OFFER, now=EXPIRES)
    with pytest.raises(OfferLinkInvalid, match="expired"):
        signer().verify(value, purpose=OFFER, now=EXPIRES + timedelta(days=3))


def test_token_for_another_order_is_refused() -> None:
    with pytest.raises(OfferLinkInvalid, match="another order"):
        signer().verify(token("ord-1"), order_id="ord-2", purpose=OFFER, now=NOW)


def test_unknown_key_id_is_refused() -> None:
    value = signer("k9", k9=KEY2).issue("ord-1", OFFER, 3, EXPIRES)
    with pytest.raises(OfferLinkInvalid, match="unknown key id 'k9'"):
        signer().verify(value, purpose=OFFER, now=NOW)


def test_rotation_signs_with_the_new_key_and_still_verifies_old_tokens() -> None:
    old_token = token()
    rotated = signer("k2", k1=KEY1, k2=KEY2)
    assert rotated.verify(old_token, purpose=OFFER, now=NOW).revision == 3
    new_token = rotated.issue("ord-1", OFFER, 4, EXPIRES)
    assert new_token.startswith("k2.")
    assert rotated.verify(new_token, purpose=OFFER, now=NOW).revision == 4
    retired = signer("k2", k2=KEY2)
    with pytest.raises(OfferLinkInvalid, match="unknown key id 'k1'"):
        retired.verify(old_token, purpose=OFFER, now=NOW)


def _signed(body: bytes, kid: str = "k1", key: bytes = KEY1) -> str:
    payload = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
    mac = hmac.new(key, f"{kid}.{payload}".encode(), hashlib.sha256).digest()
    return f"{kid}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize("body", [
    b"not json", b"{}", b"[]", b'["ord-1","offer",1]', b'["","offer",1,9999999999]',
    b'["ord-1","refund",1,9999999999]', b'["ord-1","offer",true,9999999999]',
    b'["ord-1","offer",-1,9999999999]', b'["ord-1","offer",1,"soon"]',
    b'["ord-1","offer",1,1e400]', b'["ord-1","offer",1,99999999999999999999]',
    b"\xff\xfe",
])
def test_genuinely_signed_but_malformed_payload_is_refused(body: bytes) -> None:
    with pytest.raises(OfferLinkInvalid, match="malformed"):
        signer().verify(_signed(body), purpose=OFFER, now=NOW)


@pytest.mark.parametrize("value", [
    "", "k1", "k1..", "k1.abc", "a.b.c.d", "k1.@@@.abc", "k1.YQ.YQ", "k 1.YQ.YQ",
    "k1." + "A" * 5000 + ".x",
])
def test_malformed_tokens_are_refused(value: str) -> None:
    with pytest.raises(OfferLinkInvalid, match="malformed"):
        signer().verify(value, purpose=OFFER, now=NOW)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_verifies(value: str) -> None:
    with pytest.raises(OfferLinkInvalid):
        signer().verify(value, purpose=OFFER, now=NOW)


_B64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
               min_size=0, max_size=120)


@settings(max_examples=300, deadline=None)
@given(kid=st.sampled_from(["k1", "k2", "kx"]), payload=_B64, mac=_B64)
def test_random_token_shaped_text_never_verifies(kid: str, payload: str, mac: str) -> None:
    with pytest.raises(OfferLinkInvalid):
        signer("k1", k1=KEY1, k2=KEY2).verify(f"{kid}.{payload}.{mac}", purpose=OFFER, now=NOW)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_signed_garbage_payloads_are_malformed(body: bytes) -> None:
    with pytest.raises(OfferLinkInvalid, match="malformed"):
        signer().verify(_signed(b"#" + body), purpose=OFFER, now=NOW)


# -- configuration and inputs ---------------------------------------------


def test_keys_must_be_long_enough_and_named_plainly() -> None:
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        LinkSigner({"k1": b"short"}, current="k1")
    with pytest.raises(ConfigurationError, match="key id"):
        LinkSigner({"k.1": KEY1}, current="k.1")
    with pytest.raises(ConfigurationError, match="not among the keys"):
        LinkSigner({"k1": KEY1}, current="k2")


def test_issue_checks_its_inputs() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        signer().issue("ord-1", OFFER, 1, datetime(2026, 3, 16))
    with pytest.raises(InvalidInput, match="revision"):
        signer().issue("ord-1", OFFER, -1, EXPIRES)
    with pytest.raises(InvalidInput, match="order id"):
        signer().issue("", OFFER, 1, EXPIRES)
    with pytest.raises(InvalidInput, match="too long"):
        signer().issue("x" * 3000, OFFER, 1, EXPIRES)


def test_verify_needs_an_aware_now() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        signer().verify(token(), purpose=OFFER, now=datetime(2026, 3, 2))


def test_signer_repr_shows_no_secret() -> None:
    text = repr(signer("k2", k1=KEY1, k2=KEY2))
    assert "['k1', 'k2']" in text
    assert "1111" not in text
    assert "2222" not in text


# -- URLs -----------------------------------------------------------------


def test_builder_makes_offer_and_pay_urls() -> None:
    urls = LinkBuilder("https://shop.example/portal/")
    value = token()
    assert urls.offer(value) == f"https://shop.example/portal/offers/{value}"
    assert urls.pay(value) == f"https://shop.example/portal/pay/{value}"
    assert urls.url(PAY, value) == urls.pay(value)


def test_builder_leads_customers_to_the_widget_and_staff_to_the_back_office() -> None:
    urls = LinkBuilder("https://shop.example")
    value = token()
    assert urls.offer(value, "acme") == f"https://shop.example/w/acme/offers/{value}"
    assert urls.pay(value, "acme") == f"https://shop.example/w/acme/pay/{value}"
    assert parse_link(urls.offer(value, "acme")) == (LinkPurpose.OFFER, value)
    assert urls.order("acme", "o 1", staff=False) == "https://shop.example/w/acme/orders/o%201"
    assert urls.order("acme", "o1", staff=True) == "https://shop.example/admin/acme/orders/o1"
    assert urls.account("sign-in", "t", "acme") == "https://shop.example/w/acme/sign-in/t"
    assert urls.account("invitation", "t", "acme", staff=True) == (
        "https://shop.example/admin/acme/invitation/t")


@pytest.mark.parametrize("base", ["shop.example", "ftp://shop.example", "https://",
                                  "https://shop.example/?a=1", "https://shop.example/#x"])
def test_builder_refuses_bad_base_urls(base: str) -> None:
    with pytest.raises(ConfigurationError):
        LinkBuilder(base)
