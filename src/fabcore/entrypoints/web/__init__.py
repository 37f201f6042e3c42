"""The web front end: HTTP API (and, later, the widget and back-office pages)."""

from fabcore.entrypoints.web.app import create_app
from fabcore.entrypoints.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
