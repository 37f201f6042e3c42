"""Signed, expiring links for customer mails (view the offer, review and pay).

A token has three dot-separated, URL-safe parts::

    {kid}.{payload}.{mac}

``kid`` names the signing key; ``payload`` is base64url (unpadded) of the
compact JSON ``[order_id, purpose, revision, expires_unix]``; ``mac`` is
base64url of HMAC-SHA256 under that key over ``kid + "." + payload``. The MAC
is checked before the payload is parsed, and both base64 parts must be in
canonical form, so flipping any bit of a token makes it invalid.

Key rotation: tokens are signed with the ``current`` key; any key still
listed verifies. Drop a key from the mapping to revoke every link signed
with it.

The token carries the offer revision it was issued for; whether that
revision is still the order's current one is the caller's check
(:attr:`LinkClaims.revision` against ``order.offer_revision``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

import attrs

from fabcore.domain import checks
from fabcore.domain.errors import ConfigurationError, InvalidInput, OfferLinkInvalid
from fabcore.domain.notifications import LinkPurpose

__all__ = ["LinkBuilder", "LinkClaims", "LinkSigner", "parse_link"]

# Tokens end up in URLs and mail bodies; anything longer is not one of ours.
MAX_TOKEN_LENGTH = 2048
MIN_KEY_BYTES = 16

_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_MAC_BYTES = hashlib.sha256().digest_size


@attrs.frozen
class LinkClaims:
    """What a verified token says."""

    order_id: str
    purpose: LinkPurpose
    revision: int
    expires_at: datetime


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Decode unpadded base64url; ``None`` unless ``text`` is its canonical form."""
    if not _B64URL.fullmatch(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Re-encoding catches set padding bits in the last character, which the
    # decoder ignores: without this, some one-bit changes would still verify.
    return data if _b64encode(data) == text else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class LinkSigner:
    """Issues and verifies link tokens with HMAC-SHA256 keys named by key id."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        for kid, key in keys.items():
            if not isinstance(kid, str) or not _KID.fullmatch(kid):
                raise ConfigurationError(
                    f"link key id {kid!r} must be 1-32 characters of A-Z, a-z, 0-9, '_' or '-'"
                )
            if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
                raise ConfigurationError(
                    f"link key {kid!r} must be at least {MIN_KEY_BYTES} bytes"
                )
        if current not in keys:
            raise ConfigurationError(
                f"current link key {current!r} is not among the keys: {', '.join(keys) or 'none'}"
            )
        self._keys = dict(keys)
        self._current = current

    def __repr__(self) -> str:
        return f"LinkSigner(kids={sorted(self._keys)!r}, current={self._current!r})"

    @staticmethod
    def _mac(key: bytes, kid: str, payload: str) -> bytes:
        return hmac.new(key, f"{kid}.{payload}".encode("ascii"), hashlib.sha256).digest()

    def issue(
        self, order_id: str, purpose: LinkPurpose, revision: int, expires_at: datetime
    ) -> str:
        """A token for ``purpose`` on ``order_id`` at ``revision``, valid until ``expires_at``.

        The expiry is kept to the whole second (rounded down).
        """
        if not isinstance(order_id, str) or not order_id:
            raise InvalidInput("order id must be a non-empty string")
        if not isinstance(purpose, LinkPurpose):
            raise InvalidInput(f"purpose must be a LinkPurpose, got {purpose!r}")
        if not _is_int(revision) or revision < 0:
            raise InvalidInput(f"revision must be a whole number >= 0, got {revision!r}")
        expires = int(checks.utc(expires_at, "expires_at").timestamp())
        body = json.dumps([order_id, purpose.value, revision, expires],
                          separators=(",", ":"), ensure_ascii=True)
        payload = _b64encode(body.encode("ascii"))
        kid = self._current
        token = f"{kid}.{payload}.{_b64encode(self._mac(self._keys[kid], kid, payload))}"
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidInput(f"order id is too long for a link token ({len(order_id)} chars)")
        return token

    def verify(
        self, token: str, *, order_id: str | None = None, purpose: LinkPurpose, now: datetime
    ) -> LinkClaims:
        """The claims of a genuine, unexpired ``token`` for ``purpose`` (and ``order_id``).

        Raises :class:`~fabcore.domain.errors.OfferLinkInvalid` naming the
        reason: malformed, unknown key id, bad signature, wrong purpose,
        another order, expired.
        """
        now = checks.utc(now, "now")
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise OfferLinkInvalid("malformed link token")
        parts = token.split(".")
        if len(parts) != 3:
            raise OfferLinkInvalid("malformed link token")
        kid, payload, mac_text = parts
        if not _KID.fullmatch(kid):
            raise OfferLinkInvalid("malformed link token: bad key id")
        body = _b64decode(payload)
        mac = _b64decode(mac_text)
        if body is None or mac is None or len(mac) != _MAC_BYTES:
            raise OfferLinkInvalid("malformed link token")
        key = self._keys.get(kid)
        if key is None:
            raise OfferLinkInvalid(f"link signed with an unknown key id {kid!r}")
        if not hmac.compare_digest(mac, self._mac(key, kid, payload)):
            raise OfferLinkInvalid("link signature does not match: the link was altered")
        claims = _parse(body)
        if claims.purpose is not purpose:
            raise OfferLinkInvalid(
                f"link is for {claims.purpose.value!r}, not {purpose.value!r}"
            )
        if order_id is not None and claims.order_id != order_id:
            raise OfferLinkInvalid("link is for another order")
        if now >= claims.expires_at:
            raise OfferLinkInvalid(f"link expired at {claims.expires_at.isoformat()}")
        return claims


def _parse(body: bytes) -> LinkClaims:
    """Claims from an authenticated payload (still checked: keys may be shared)."""
    try:
        data = json.loads(body.decode("ascii"))
    except (ValueError, RecursionError):
        raise OfferLinkInvalid("malformed link token payload") from None
    if not (isinstance(data, list) and len(data) == 4):
        raise OfferLinkInvalid("malformed link token payload")
    order_id, purpose_value, revision, expires = data
    purposes = {p.value: p for p in LinkPurpose}
    if (not isinstance(order_id, str) or not order_id or purpose_value not in purposes
            or not _is_int(revision) or revision < 0 or not _is_int(expires)):
        raise OfferLinkInvalid("malformed link token payload")
    try:
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (OverflowError, OSError, ValueError):
        raise OfferLinkInvalid("malformed link token payload") from None
    return LinkClaims(order_id, purposes[purpose_value], revision, expires_at)


_PATHS: dict[LinkPurpose, str] = {LinkPurpose.OFFER: "offers", LinkPurpose.PAY: "pay"}


class LinkBuilder:
    """Turns tokens and orders into the URLs of the web front's pages.

    Customers act in the shop's widget (``/w/{shop}/...``), staff in its
    back office (``/admin/{shop}/...``).
    """

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"link base URL must be an http(s) URL, got {base_url!r}")
        if parts.query or parts.fragment:
            raise ConfigurationError(
                f"link base URL must not have a query or fragment, got {base_url!r}"
            )
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"LinkBuilder({self.base_url!r})"

    def _area(self, shop_id: str | None, staff: bool = False) -> str:
        if shop_id is None:
            return self.base_url
        return f"{self.base_url}/{'admin' if staff else 'w'}/{quote(shop_id, safe='')}"

    def url(self, purpose: LinkPurpose, token: str, shop_id: str | None = None) -> str:
        """``{base_url}/w/{shop_id}/offers/{token}`` or ``.../pay/{token}`` (no shop: the base)."""
        return f"{self._area(shop_id)}/{_PATHS[purpose]}/{quote(token, safe='')}"

    def offer(self, token: str, shop_id: str | None = None) -> str:
        return self.url(LinkPurpose.OFFER, token, shop_id)

    def pay(self, token: str, shop_id: str | None = None) -> str:
        return self.url(LinkPurpose.PAY, token, shop_id)

    def order(self, shop_id: str, order_id: str, *, staff: bool) -> str:
        """The order's page: in the back office for staff, in the widget for its customer."""
        return f"{self._area(shop_id, staff)}/orders/{quote(order_id, safe='')}"

    def account(
        self, path: str, token: str, shop_id: str | None = None, *, staff: bool = False
    ) -> str:
        """``{base_url}/w/{shop_id}/{path}/{token}`` for account links (sign-in, confirm, ...).

        Staff's links lead to the back office (``/admin/{shop_id}/...``).
        """
        return f"{self._area(shop_id, staff)}/{path}/{quote(token, safe='')}"


def parse_link(url: str) -> tuple[LinkPurpose, str]:
    """The purpose and token of a link :class:`LinkBuilder` made (``.../offers/{token}``).

    Only the path's last two segments count, so the link may have been
    built on any base URL. ``OfferLinkInvalid`` for anything else; the token
    itself is checked when it is used.
    """
    if not isinstance(url, str) or len(url) > MAX_TOKEN_LENGTH * 4:
        raise OfferLinkInvalid("not a link from one of our mails")
    segments = [part for part in urlsplit(url.strip()).path.split("/") if part]
    purposes = {path: purpose for purpose, path in _PATHS.items()}
    if len(segments) < 2 or segments[-2] not in purposes:
        raise OfferLinkInvalid("not a link from one of our mails")
    return purposes[segments[-2]], unquote(segments[-1])
