"""The request a piece of work belongs to, carried into threads, jobs, mails and log lines.

The web front binds the id of each request (its ``X-Request-ID``, or a new
one) with :func:`request_scope`; a job deferred while it is bound carries
it, and the worker binds it again while the job runs. Mails rendered under
it carry it in an ``X-Request-ID`` header; the logging set-up adds it to
every line. Context variables follow the work into the threads that
``anyio`` and the task queue start for it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["current_request_id", "new_request_id", "request_scope", "valid_request_id"]

_REQUEST_ID: ContextVar[str | None] = ContextVar("fabcore_request_id", default=None)

# What a request id from outside may look like: it ends up in mail headers and logs.
_VALID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    return _REQUEST_ID.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> str | None:
    """``value`` when it is a usable request id (printable, no spaces, at most 128), else None."""
    if value is None or not _VALID.fullmatch(value):
        return None
    return value


@contextmanager
def request_scope(request_id: str | None) -> Iterator[None]:
    """Run a block as part of request ``request_id`` (None: of no request)."""
    token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)
