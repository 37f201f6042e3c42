"""Server-rendered pages: the widget (``/w/{shop}``) and the back office (``/admin/{shop}``)."""

from __future__ import annotations

from litestar import Router

from fabcore.entrypoints.web.pages import admin, demo_payments, widget


def routers() -> list[Router]:
    return [widget.router(), admin.router(), demo_payments.router()]


__all__ = ["routers"]
