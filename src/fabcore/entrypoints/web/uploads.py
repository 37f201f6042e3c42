"""File uploads streamed from the request to a spool file as the bytes arrive.

A model of tens of megabytes is never held whole in the web process while
it arrives: the multipart body is parsed as it streams in (``multipart``'s
push parser), the file part goes to an anonymous temporary file in chunks,
and an upload over the limit is refused (413) as soon as it passes it,
without reading the rest. Small text fields beside the file are kept as
text.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Collection, Mapping
from typing import IO, Any

import anyio.to_thread
import attrs
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
)
from multipart import MultipartSegment, ParserError, PushMultipartParser, parse_options_header

from fabcore.entrypoints.web.settings import MiB

__all__ = ["SpooledUpload", "receive_file"]

# Bytes gathered before one write to the spool file (a write runs in a thread).
_WRITE_SIZE = MiB
# The longest text field accepted beside the file.
_FIELD_LIMIT = 1024


@attrs.frozen
class SpooledUpload:
    """The uploaded file (rewound), its sha256 and the text fields; close ``file`` when done."""

    file: IO[bytes]
    filename: str
    size: int
    fields: Mapping[str, str]
    sha256: str


def _refused(field: str, message: str) -> ValidationException:
    return ValidationException(detail=message,
                               extra=[{"key": field, "message": message, "source": "body"}])


async def receive_file(
    request: Request[Any, Any, Any], *, field: str, limit: int, text_fields: Collection[str]
) -> SpooledUpload:
    """Read the multipart body of ``request``: the file in ``field`` and ``text_fields``.

    Raises 415 for a body that is not ``multipart/form-data``, 400 for a
    malformed one, 413 once the file passes ``limit`` bytes, and 422 when
    the file is missing, given twice, or a text field is too long or not
    UTF-8. Other fields are read past and ignored.
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != "multipart/form-data" or not options.get("boundary"):
        raise HTTPException(status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            detail="send the file as multipart/form-data")
    # Handed to the caller, who closes it (which deletes it).
    spool = tempfile.TemporaryFile(prefix="fabcore-upload-")  # noqa: SIM115
    try:
        upload = await _stream(request, spool, options["boundary"], field, limit, text_fields)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return upload


async def _stream(
    request: Request[Any, Any, Any], spool: IO[bytes], boundary: str, field: str, limit: int,
    text_fields: Collection[str],
) -> SpooledUpload:
    parser = PushMultipartParser(boundary, max_header_count=8, max_segment_count=32)
    segment: MultipartSegment | None = None
    filename: str | None = None
    size = 0
    pending = bytearray()
    value = bytearray()
    fields: dict[str, str] = {}
    digest = hashlib.sha256()

    def write(piece: bytearray) -> None:
        # Hashed on the way, in the writing thread: the file is not read again for it.
        digest.update(piece)
        spool.write(piece)
    try:
        async for chunk in request.stream():
            for event in parser.parse(chunk):
                if isinstance(event, MultipartSegment):
                    segment = event
                    if segment.name == field:
                        if filename is not None:
                            raise _refused(field, "send one file per upload")
                        filename = segment.filename or "model"
                    value.clear()
                elif event is None:
                    if segment is not None and segment.name in text_fields:
                        fields[segment.name] = _text(segment.name, value)
                    segment = None
                elif segment is not None and segment.name == field:
                    size += len(event)
                    if size > limit:
                        raise HTTPException(
                            status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                            detail=f"the file is larger than the {limit // MiB} MB limit")
                    pending += event
                    if len(pending) >= _WRITE_SIZE:
                        await anyio.to_thread.run_sync(write, pending)
                        pending.clear()
                elif segment is not None and segment.name in text_fields:
                    value += event
                    if len(value) > _FIELD_LIMIT:
                        raise _refused(segment.name, f"at most {_FIELD_LIMIT} bytes")
        parser.close()
    except ParserError as exc:
        raise HTTPException(status_code=HTTP_400_BAD_REQUEST,
                            detail=f"the multipart body is malformed: {exc}") from exc
    if filename is None:
        raise _refused(field, "a file is required")
    if pending:
        await anyio.to_thread.run_sync(write, pending)
    return SpooledUpload(spool, filename, size, fields, digest.hexdigest())


def _text(name: str, value: bytearray) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _refused(name, "must be UTF-8 text") from None
