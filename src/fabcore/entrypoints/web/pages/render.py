"""Rendering of the pages: one Jinja environment, the pages' security policy, HTML errors.

Pages run no inline script: the one inline element is the import map of the
3D viewer, allowed by its hash in ``Content-Security-Policy``. Widget pages
may be framed by the shop's allowed origins; every other page by none.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import jinja2
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from markupsafe import Markup

from fabcore.domain import errors as e
from fabcore.domain.money import Money
from fabcore.entrypoints.web import auth
from fabcore.entrypoints.web.pages.common import frame_ancestors
from fabcore.entrypoints.web.problems import EXCEPTION_HANDLERS, STATUS

log = logging.getLogger("fabcore.web")

VENDOR = "/static/vendor"
IMPORT_MAP = json.dumps({"imports": {
    "three": f"{VENDOR}/three/build/three.module.js",
    "three/addons/": f"{VENDOR}/three/examples/jsm/",
}}, separators=(",", ":"))
_IMPORT_MAP_HASH = base64.b64encode(hashlib.sha256(IMPORT_MAP.encode()).digest()).decode()


def policy(frame_ancestors: str = "'none'") -> str:
    """The pages' ``Content-Security-Policy`` with ``frame-ancestors`` as given."""
    return (f"default-src 'self'; script-src 'self' 'sha256-{_IMPORT_MAP_HASH}'; "
            "style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self' https:; "
            f"frame-ancestors {frame_ancestors}")


def money(value: Money | None) -> str:
    if value is None:
        return "-"
    return f"{value.amount:,.2f} {value.currency}"


def number(value: float | Decimal, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def when(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _json_attr(value: object) -> Markup:
    return Markup.escape(json.dumps(value, separators=(",", ":")))


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("fabcore", "templates/web"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(money=money, number=number, when=when, json_attr=_json_attr)
ENV.globals.update(import_map=Markup(IMPORT_MAP), vendor=VENDOR)


def render(template: str, **context: Any) -> str:
    return ENV.get_template(template).render(**context)


def html(
    template: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    frame_ancestors: str = "'none'",
    **context: Any,
) -> Response[str]:
    """``template`` rendered as an HTML response under the pages' policy."""
    return Response(
        render(template, **context),
        status_code=status,
        media_type="text/html",
        headers={"content-security-policy": policy(frame_ancestors),
                 "cache-control": "no-store", **(headers or {})},
    )


def status_of(exc: Exception) -> int:
    if isinstance(exc, e.FabcoreError):
        return next(s for cls, s, _ in STATUS if isinstance(exc, cls))
    if isinstance(exc, ValidationException):
        return 422
    if isinstance(exc, HTTPException):
        return exc.status_code
    return 500


def message_of(exc: Exception) -> str:
    """What the person is told: the refusal's words, or that something broke."""
    status = status_of(exc)
    if status >= 500 and not isinstance(exc, e.InfrastructureError):
        return "Something went wrong on our side. It was logged; please try again later."
    if isinstance(exc, ValidationException):
        return "Some fields are missing or not valid. Check the form and try again."
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    return str(exc)


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """An error as HTML: a fragment for htmx requests, a page otherwise."""
    status = status_of(exc)
    if status >= 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    fragment = request.headers.get("hx-request") == "true"
    shop = request.path_params.get("shop")
    frame = (frame_ancestors(auth.core(request.app.state), shop)
             if request.url.path.startswith("/w/") and isinstance(shop, str) else "'none'")
    return html("error.html", status=status, frame_ancestors=frame, fragment=fragment,
                status_code=status, message=message_of(exc), title=_title(status))


def _title(status: int) -> str:
    return {401: "Please sign in", 403: "Not allowed", 404: "Not found", 409: "Not possible now",
            413: "Too large", 422: "Please check", 429: "Too many attempts"}.get(
                status, "Something went wrong")


# Every key of the API's handlers, so that none of them answers a page with JSON.
PAGE_EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = dict.fromkeys(
    EXCEPTION_HANDLERS, error_page)
