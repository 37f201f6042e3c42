"""Structured logs for the server processes (structlog over the standard ``logging``).

:func:`configure_logging` routes every logger (fabcore's, uvicorn's,
Litestar's, procrastinate's) through one structlog formatter on stderr:
one JSON object per line in production, aligned and coloured lines in a
terminal. Every line carries the id of the request (or job) it belongs to,
as ``request_id`` (see :mod:`fabcore.app.context`), the ``pid`` of the
process that wrote it, and the ``extra`` fields of the call that logged it.

``FABCORE_LOG_FORMAT``: ``json``, ``console``, or ``auto`` (the default:
console when stderr is a terminal, JSON otherwise). ``FABCORE_LOG_LEVEL``:
``DEBUG``, ``INFO`` (the default), ``WARNING`` or ``ERROR``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import Processor

from fabcore.app.context import current_request_id
from fabcore.domain.errors import ConfigurationError

__all__ = ["configure_logging", "configured"]

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_state = {"configured": False}


def _request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if "request_id" not in event and (request_id := current_request_id()) is not None:
        event["request_id"] = request_id
    return event


def _pid(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["pid"] = os.getpid()
    return event


# What every record has: the rest of its attributes are the ``extra`` of its call.
_RECORD_KEYS = frozenset(logging.LogRecord("name", 0, "pathname", 0, "msg", (), None).__dict__)


def _json_default(value: Any) -> Any:
    """What ``structlog.processors.JSONRenderer`` writes for a value JSON has no type for."""
    structlog_repr = getattr(value, "__structlog__", None)
    return structlog_repr() if structlog_repr is not None else repr(value)


class _JsonLines(structlog.stdlib.ProcessorFormatter):
    """The JSON formatter, with a short way for plain standard-library records.

    Most lines (a request, a mail sent) are records with a message and some
    ``extra`` fields: such a record is written here as the processor chain
    would write it, in a fifth of its time. Records from structlog, with an
    exception or a stack, or logged while structlog context variables are
    bound take the chain.
    """

    def format(self, record: logging.LogRecord) -> str:
        if (isinstance(record.msg, dict) or record.exc_info or record.exc_text
                or record.stack_info or structlog.contextvars.get_contextvars()):
            return super().format(record)
        event: dict[str, Any] = {"event": record.getMessage()}
        if (request_id := current_request_id()) is not None:
            event["request_id"] = request_id
        event["pid"] = os.getpid()
        event["level"] = record.levelname.lower()
        event["logger"] = record.name
        for key, value in record.__dict__.items():
            if key not in _RECORD_KEYS:
                event[key] = value
        event["timestamp"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return json.dumps(event, default=_json_default)


def _format(value: str | None, stream: TextIO) -> Literal["json", "console"]:
    chosen = (value or os.environ.get("FABCORE_LOG_FORMAT") or "auto").strip().lower()
    if chosen == "auto":
        return "console" if stream.isatty() else "json"
    if chosen in ("json", "console"):
        return "json" if chosen == "json" else "console"
    raise ConfigurationError(f"FABCORE_LOG_FORMAT must be json, console or auto, got {chosen!r}")


def _level(value: str | None) -> str:
    chosen = (value or os.environ.get("FABCORE_LOG_LEVEL") or "INFO").strip().upper()
    if chosen not in _LEVELS:
        raise ConfigurationError(
            f"FABCORE_LOG_LEVEL must be one of {', '.join(_LEVELS)}, got {chosen!r}")
    return chosen


def configure_logging(
    log_format: str | None = None, level: str | None = None, stream: TextIO | None = None
) -> None:
    """Send every log line through structlog to ``stream`` (stderr), as the settings say."""
    out = stream or sys.stderr
    kind = _format(log_format, out)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _request_id,
        _pid,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if kind == "json":
        renderer = structlog.processors.JSONRenderer()
        # Tracebacks as data, without the frames' local variables (passwords, tokens).
        shared.append(structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)))
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    formatter = _JsonLines if kind == "json" else structlog.stdlib.ProcessorFormatter
    handler.setFormatter(formatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(_level(level))
    for name in ("uvicorn", "uvicorn.error", "litestar", "procrastinate"):
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True
    # The web front logs each request itself, with its route and request id.
    logging.getLogger("uvicorn.access").disabled = True
    # The status machine's library reports every callback at INFO.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    _state["configured"] = True


def configured() -> bool:
    """True once :func:`configure_logging` ran in this process."""
    return _state["configured"]
