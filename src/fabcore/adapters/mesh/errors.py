"""The one exception a reader or measure raises about the file it was given."""

from __future__ import annotations


class ModelError(Exception):
    """The file cannot be analysed; the analyser turns this into ``ModelRejected``.

    ``reason`` is for the person who uploaded the file: what is wrong with it
    and, where it helps, what to do. ``detail`` is the technical account (a
    parser's message, a converter's output) for logs.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def megabytes(size: int) -> str:
    """A byte count for people: bytes, KiB or MiB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def describe(exc: BaseException) -> str:
    """``Type: first line of the message`` of an exception, for logs."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 300:
        text = text[:300] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
