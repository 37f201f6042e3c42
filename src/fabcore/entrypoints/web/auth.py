"""Who is calling: sessions (cookie or bearer token), API keys, CSRF, and the shop in the path.

Browsers of the back office hold the session in an HttpOnly cookie; every
unsafe request they make must carry the session's CSRF token in the
``X-CSRF-Token`` header, which the sign-in answer and a readable cookie
give them. Widgets and services send
``Authorization: Bearer <token>`` (a session token or an API key) and need
no CSRF token: a browser never adds that header on its own.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import attrs
from litestar import Request
from litestar.datastructures import State

from fabcore.app.facade import Fabcore
from fabcore.app.identity import Authenticated
from fabcore.domain.accounts import Account
from fabcore.domain.actor import Actor
from fabcore.domain.errors import NotAuthenticated, NotFound, PermissionDenied
from fabcore.entrypoints.web.settings import WebSettings

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: only who can read the session cookie can make it."""
    return hashlib.sha256(b"fabcore-csrf:" + session_token.encode()).hexdigest()


@attrs.frozen
class Caller:
    """The signed-in party of a request."""

    actor: Actor
    account: Account | None
    token: str
    via_cookie: bool


def core(state: State) -> Fabcore:
    found: Fabcore = state.fabcore
    return found


def settings(state: State) -> WebSettings:
    found: WebSettings = state.web_settings
    return found


def network_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client is not None else ""


def bearer_or_cookie(request: Request[Any, Any, Any], cookie: str) -> tuple[str, bool] | None:
    """The presented token and whether it came in the session cookie, or ``None``."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
        return value.strip(), False
    stored = request.cookies.get(cookie)
    return (stored, True) if stored else None


def check_csrf(given: str, session_token: str) -> None:
    """``PermissionDenied`` unless ``given`` is the CSRF token of the session."""
    if not hmac.compare_digest(given.encode(), csrf_token(session_token).encode()):
        raise PermissionDenied(
            "the request lacks this session's CSRF token (X-CSRF-Token header)"
        )


def identify(request: Request[Any, Any, Any], app: Fabcore, found: tuple[str, bool]) -> Caller:
    """The caller of a presented token (``NotAuthenticated`` for a bad or ended one).

    A cookie session's unsafe requests must carry its CSRF token in the header.
    """
    token, via_cookie = found
    who: Authenticated = app.authenticate(token)
    if via_cookie and request.method in UNSAFE:
        check_csrf(request.headers.get(CSRF_HEADER) or "", token)
    return Caller(who.actor, who.account, token, via_cookie)


def in_shop(actor: Actor, shop: str) -> Actor:
    """``NotFound`` unless the actor belongs to the shop named in the path."""
    if actor.shop_id != shop:
        raise NotFound(f"no shop {shop!r}")
    return actor
