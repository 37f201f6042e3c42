"""The web front: one Litestar application over a :class:`~fabcore.app.facade.Fabcore`.

``create_app(core, settings)`` builds it; a service can mount it, and
``fabcore serve`` runs it under uvicorn. ``/api/v1`` is the JSON API over
the use cases (OpenAPI 3.1 at ``/schema/openapi.json``, its documentation at
``/schema``, served without any CDN); errors are RFC 9457 problem details.
``/healthz``, ``/readyz`` and ``/metrics`` serve operators (see
:mod:`fabcore.entrypoints.web.operations`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Router, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Server
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_204_NO_CONTENT
from litestar.types import Message, Scope

from fabcore import __version__
from fabcore.app.facade import Fabcore
from fabcore.entrypoints import logs
from fabcore.entrypoints.web import operations, pages
from fabcore.entrypoints.web.api import accounts, models, orders, shop
from fabcore.entrypoints.web.api.common import DEPENDENCIES
from fabcore.entrypoints.web.problems import EXCEPTION_HANDLERS
from fabcore.entrypoints.web.settings import MiB, WebSettings

# JSON bodies are small; model uploads get their own limit.
JSON_BODY_LIMIT = MiB

_API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
                "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
                "worker-src blob:; frame-ancestors 'none'; base-uri 'none'")
_HEADERS = ((b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"))


def _static_dir() -> Path:
    return Path(str(resources.files("fabcore.entrypoints.web").joinpath("static")))


async def _security_headers(message: Message, scope: Scope) -> None:
    """Every answer says not to sniff types, leak referrers, or be framed (but the widget).

    An ``OPTIONS`` answer lists every method of its path: Litestar's own
    lists only those of the first handler registered for the path.
    """
    if message["type"] != "http.response.start":
        return
    headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
    if scope.get("method") == "OPTIONS" and message.get("status") == HTTP_204_NO_CONTENT:
        allowed = scope["app"].state.allowed_methods.get(scope.get("path_template", ""))
        if allowed:
            headers = [h for h in headers if h[0].lower() != b"allow"]
            headers.append((b"allow", allowed.encode()))
    present = {name.lower() for name, _ in headers}
    path = scope.get("path", "")
    policy = _DOCS_POLICY if path.startswith("/schema") and not path.endswith(".json") \
        else _API_POLICY
    if b"content-security-policy" not in present:
        headers.append((b"content-security-policy", policy.encode()))
    headers.extend(h for h in _HEADERS if h[0] not in present)
    message["headers"] = headers


@get("/", include_in_schema=False)
async def root(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"api": "/api/v1", "documentation": "/schema", "openapi": "/schema/openapi.json"}


def create_app(core: Fabcore, settings: WebSettings | None = None) -> Litestar:
    """The web application over ``core`` (see the module docstring)."""
    web = settings or WebSettings()
    openapi = OpenAPIConfig(
        title="fabcore",
        version=__version__,
        description=("Instant quoting and order management for manufacturing shops. Sign in "
                     "with `/api/v1/shops/{shop}/sign-in`, then send `Authorization: Bearer "
                     "<token>` (or use the session cookie with the `X-CSRF-Token` header)."),
        path="/schema",
        servers=[Server(url="/")],
        components=Components(security_schemes={
            "bearer": SecurityScheme(type="http", scheme="bearer",
                                     description="A session token or an API key"),
        }),
        security=[{"bearer": []}, {}],
        render_plugins=[
            JsonRenderPlugin(path="/openapi.json"),
            RedocRenderPlugin(js_url="/static/vendor/redoc.standalone.js", google_fonts=False,
                              favicon="", path="/"),
        ],
    )
    app = Litestar(
        route_handlers=[
            root, accounts.router, shop.router, orders.router,
            Router(path="/", route_handlers=[operations.healthz, operations.readyz,
                                             operations.metrics],
                   dependencies={"core": DEPENDENCIES["core"]}),
            models.make_router(web.max_upload_bytes),
            create_static_files_router(path="/static", directories=[_static_dir()],
                                       include_in_schema=False),
            *pages.routers(),
        ],
        state=State({"fabcore": core, "web_settings": web}),
        exception_handlers=dict(EXCEPTION_HANDLERS),
        before_send=[_security_headers],
        openapi_config=openapi,
        request_max_body_size=JSON_BODY_LIMIT,
        # The vendored scripts (three.js is 2 MB) go out compressed; other answers as they are.
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024,
                                             exclude=["^/api/", "^/w/", "^/admin/", "^/schema",
                                                      "^/demo-payments/", "^/healthz"]),
        middleware=[operations.RequestContext],
        # Under fabcore serve and fabcore worker, fabcore.entrypoints.logs set up logging.
        logging_config=None if logs.configured() else LoggingConfig(loggers={
            "litestar": {"level": "INFO", "handlers": ["queue_listener"], "propagate": False},
            # The status machine's library reports every callback at INFO.
            "transitions": {"level": "WARNING"},
        }),
        debug=False,
    )
    app.state.allowed_methods = {route.path_format: ", ".join(sorted(route.methods))
                                 for route in app.routes if isinstance(route, HTTPRoute)}
    return app
