"""Model store on S3-compatible object storage (AWS S3, MinIO, Cloudflare R2, ...).

Install the extra: ``pip install 'fabcore[s3]'`` (boto3). Files are keyed
like the directory store's paths: sha256 ``abcdef...`` is the object
``<prefix>/ab/cdef...`` in the bucket, so ``fabcore models copy`` moves a
directory store to a bucket and back one file per object.

Nothing is held whole in memory. A file to store is read twice: once to
hash it (its digest is its key), once to upload it; a stream that cannot
seek is copied to a temporary file on the first read. A file smaller than
the part size (``part_mb``) goes up in one request; a larger one as a
multipart upload, ``concurrency`` parts at a time, each part's request
body reading its range of the file as it is sent (``os.pread`` where the
file has a descriptor), so no part is copied into memory either. A failed
upload is aborted, and an object appears only when it is complete, so a
reader never sees part of a file. :meth:`S3ModelStore.open` streams an
object back.

Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance role, ...), never
from the URL; so do retries (``AWS_RETRY_MODE``, ``AWS_MAX_ATTEMPTS``).
Every botocore error becomes fabcore's in :func:`_translated`: a missing
object is ``NotFound``, anything else (unreachable endpoint, refused
credentials, missing bucket) is ``StorageError``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Literal, cast
from urllib.parse import parse_qsl, urlsplit

from fabcore.adapters.staging import Staged
from fabcore.domain import checks
from fabcore.domain.errors import ConfigurationError, NotFound, StorageError
from fabcore.ports.model_store import ModelRef, StagedModel

try:
    import boto3
    from boto3.exceptions import Boto3Error
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.response import StreamingBody
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigurationError(
        "the S3 model store needs boto3: pip install 'fabcore[s3]'"
    ) from exc

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

__all__ = ["S3ModelStore"]

MiB = 1024 * 1024
#: S3 refuses parts smaller than 5 MiB (but the last) and uploads of more than 10,000 parts.
MIN_PART_MB = 5
#: The longest a readiness probe (:meth:`S3ModelStore.check`) waits to connect, then to read.
PROBE_TIMEOUT_S = 2.0
_CHUNK = MiB
_CONTENT_TYPE = "application/octet-stream"
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MISSING = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
           "ExpiredToken", "InvalidToken"}
_ADDRESSING: dict[str, Literal["path", "virtual", "auto"]] = {
    "path": "path", "virtual": "virtual", "auto": "auto"
}
# One boto3 session for the process: clients made from it share its loaded service
# descriptions and resolved credentials. Sessions are not thread-safe, clients are.
_session_lock = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def _client(endpoint: str | None, region: str | None, config: Config) -> S3Client:
    with _session_lock:
        return _session().client("s3", endpoint_url=endpoint, region_name=region, config=config)


_URL_OPTIONS = {"endpoint", "region", "addressing", "part_mb", "concurrency",
                "connect_timeout", "read_timeout"}


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    """The one place where boto3's and botocore's errors become fabcore's.

    ``action`` says what was being done ("read model ab12..."), for the message.
    """
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        detail = error.get("Message") or code
        if code in _MISSING:
            raise NotFound(f"could not {action}: no such object") from exc
        if code == "NoSuchBucket":
            raise StorageError(f"could not {action}: the bucket does not exist") from exc
        if code in _DENIED:
            raise StorageError(
                f"could not {action}: the object store refused the credentials ({detail})"
            ) from exc
        raise StorageError(f"could not {action}: {code}: {detail}") from exc
    except (BotoCoreError, Boto3Error) as exc:
        # Unreachable endpoint, time-outs, missing credentials, a broken stream.
        raise StorageError(f"could not {action}: {exc}") from exc
    except OSError as exc:
        # The file being stored could not be read: the upload was aborted.
        raise StorageError(f"could not {action}: {exc}") from exc


class _ObjectReader(io.RawIOBase):
    """A streamed object body as a raw file; errors while reading become ``StorageError``."""

    def __init__(self, body: StreamingBody, action: str) -> None:
        self._body = body
        self._action = action

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        with _translated(self._action):
            data = self._body.read(len(view))
        view[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class _Source:
    """The caller's file from ``start`` on, read at any offset from several threads."""

    def __init__(self, file: IO[bytes], start: int) -> None:
        self._file = file
        self._start = start
        self._lock = threading.Lock()
        self._fd: int | None = None
        with contextlib.suppress(AttributeError, OSError, ValueError):
            # What a Python buffer still holds must reach the descriptor first.
            file.flush()
            fd = file.fileno()
            if stat.S_ISREG(os.fstat(fd).st_mode):
                self._fd = fd

    def read_at(self, offset: int, size: int) -> bytes:
        if self._fd is not None:
            return os.pread(self._fd, size, self._start + offset)
        with self._lock:
            self._file.seek(self._start + offset)
            return self._file.read(size)


class _Range(io.RawIOBase):
    """Bytes ``offset`` to ``offset + size`` of a :class:`_Source`: one request's body.

    Seekable, so botocore can hash it for the signature and send it again on
    a retry; it reads what is asked when it is asked, and nothing is kept.
    """

    def __init__(self, source: _Source, offset: int, size: int) -> None:
        self._source = source
        self._offset = offset
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = min(max(base + offset, 0), self._size)
        return self._position

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._position)
        if wanted <= 0:
            return 0
        data = self._source.read_at(self._offset + self._position, wanted)
        if not data:
            raise OSError(f"the file ended {self._size - self._position} bytes early")
        view[:len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        """botocore closes what it sent; the caller's file stays open."""


def _body(source: _Source, offset: int, size: int) -> IO[bytes]:
    """A request body over a range of ``source`` (a file, as far as botocore is concerned)."""
    return cast(IO[bytes], _Range(source, offset, size))


class S3ModelStore:
    """Content-addressed model files in ``bucket`` under ``prefix`` (see the module docs).

    ``endpoint`` is the store's URL for anything but AWS itself (MinIO,
    R2, a local test server); without it boto3 asks AWS, or
    ``AWS_ENDPOINT_URL`` when set. ``addressing`` is ``"path"``
    (``endpoint/bucket/key``, the default with an endpoint: what MinIO and
    test servers expect), ``"virtual"`` (``bucket.endpoint/key``) or
    ``"auto"`` (boto3's choice, the default without an endpoint). The
    bucket must exist; the store never creates one.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        addressing: str | None = None,
        part_mb: int = 8,
        concurrency: int = 4,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        if not bucket:
            raise ConfigurationError("models: an S3 store needs a bucket")
        if part_mb < MIN_PART_MB:
            raise ConfigurationError(f"models: part_mb must be at least {MIN_PART_MB}")
        if concurrency < 1:
            raise ConfigurationError("models: concurrency must be at least 1")
        style = _ADDRESSING.get(addressing or ("path" if endpoint else "auto"))
        if style is None:
            raise ConfigurationError(
                f"models: addressing must be path, virtual or auto, got {addressing!r}"
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        self.part_size = part_mb * MiB
        self.concurrency = concurrency
        config = Config(
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            s3={"addressing_style": style},
            max_pool_connections=max(10, concurrency), user_agent_extra="fabcore",
        )
        # Readiness probes fail fast: one attempt, a short wait.
        probe = Config(
            connect_timeout=min(connect_timeout, PROBE_TIMEOUT_S),
            read_timeout=min(read_timeout, PROBE_TIMEOUT_S),
            retries={"total_max_attempts": 1}, s3={"addressing_style": style},
            user_agent_extra="fabcore",
        )
        with _translated("set up the S3 client"):
            self._client = _client(endpoint, region, config)
            self._probe = _client(endpoint, region, probe)
        self._bucket_seen = False
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> S3ModelStore:
        """``s3://bucket[/prefix][?endpoint=URL&region=R&addressing=path&part_mb=8...]``.

        Options: ``endpoint``, ``region``, ``addressing`` (``path``,
        ``virtual`` or ``auto``), ``part_mb`` (multipart part size in MiB,
        at least 5; default 8), ``concurrency`` (parts uploaded at once,
        default 4), ``connect_timeout`` and ``read_timeout`` (seconds,
        default 5 and 60). Credentials are never part of the URL.
        """
        parts = urlsplit(url)
        if parts.scheme != "s3":
            raise ConfigurationError(f"models: not an s3:// URL: {url!r}")
        if parts.username is not None or parts.password is not None:
            raise ConfigurationError(
                "models: credentials do not go in the s3:// URL; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
            )
        if not parts.hostname or parts.fragment:
            raise ConfigurationError(
                f"models: expected s3://bucket/prefix?endpoint=..., got {url!r}"
            )
        try:
            options = dict(parse_qsl(parts.query, strict_parsing=bool(parts.query)))
        except ValueError as exc:
            raise ConfigurationError(f"models: bad query in {url!r}: {exc}") from exc
        if unknown := sorted(set(options) - _URL_OPTIONS):
            raise ConfigurationError(
                f"models: unknown s3:// option(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(_URL_OPTIONS))})"
            )

        def number(name: str, default: float, whole: bool = False) -> float:
            raw = options.get(name)
            if raw is None:
                return default
            try:
                value = int(raw) if whole else float(raw)
            except ValueError:
                kind = "a whole number" if whole else "a number"
                raise ConfigurationError(f"models: {name} must be {kind}, got {raw!r}") from None
            if value <= 0:
                raise ConfigurationError(f"models: {name} must be above 0, got {raw!r}")
            return value

        return cls(
            parts.hostname, parts.path,
            endpoint=options.get("endpoint") or None,
            region=options.get("region") or None,
            addressing=options.get("addressing") or None,
            part_mb=int(number("part_mb", 8, whole=True)),
            concurrency=int(number("concurrency", 4, whole=True)),
            connect_timeout=number("connect_timeout", 5.0),
            read_timeout=number("read_timeout", 60.0),
        )

    def __repr__(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"S3ModelStore({where!r}, endpoint={self.endpoint!r})"

    def _key(self, sha256: str) -> str:
        digest = checks.sha256(sha256)
        name = f"{digest[:2]}/{digest[2:]}"
        return f"{self.prefix}/{name}" if self.prefix else name

    # -- reading ------------------------------------------------------------------

    def _head(self, sha256: str) -> int | None:
        """The stored object's size, or ``None`` when there is none."""
        key = self._key(sha256)
        try:
            with _translated(f"look up model {sha256}"):
                return self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        except NotFound:
            # A HEAD answers 404 for a missing bucket too: tell the two apart once.
            self._check_bucket()
            return None

    def _check_bucket(self) -> None:
        if self._bucket_seen:
            return
        try:
            with _translated(f"find bucket {self.bucket!r}"):
                self._client.head_bucket(Bucket=self.bucket)
        except NotFound:
            raise StorageError(f"the bucket {self.bucket!r} does not exist") from None
        with self._lock:
            self._bucket_seen = True

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def size(self, sha256: str) -> int:
        size = self._head(sha256)
        if size is None:
            raise NotFound(f"no stored model with sha256 {sha256}")
        return size

    def open(self, sha256: str) -> BinaryIO:
        key = self._key(sha256)
        action = f"read model {sha256}"
        try:
            with _translated(action):
                body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except NotFound:
            raise NotFound(f"no stored model with sha256 {sha256}") from None
        return io.BufferedReader(_ObjectReader(body, action), buffer_size=_CHUNK)

    def get(self, sha256: str) -> bytes:
        with self.open(sha256) as file:
            return file.read()

    def digests(self) -> Iterator[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        )
        with _translated(f"list the models in bucket {self.bucket!r}"):
            for page in pages:
                for item in page.get("Contents", ()):
                    digest = item["Key"][len(start):].replace("/", "", 1)
                    if _DIGEST.fullmatch(digest) and item["Key"] == self._key(digest):
                        yield digest

    def check(self) -> None:
        """The bucket answers a HEAD, in one attempt of at most ``PROBE_TIMEOUT_S`` a step."""
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        try:
            with _translated(f"reach the model store {where}"):
                self._probe.head_bucket(Bucket=self.bucket)
        except NotFound:
            raise StorageError(f"the bucket {self.bucket!r} does not exist") from None

    # -- writing ------------------------------------------------------------------

    def delete(self, sha256: str) -> None:
        key = self._key(sha256)
        with _translated(f"delete model {sha256}"):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def put(self, data: bytes, filename: str) -> ModelRef:
        ref = ModelRef(sha256=hashlib.sha256(data).hexdigest(), filename=filename,
                       size=len(data))
        # BytesIO shares the bytes it is given: the upload reads them in place.
        self._store(io.BytesIO(data), ref)
        return ref

    def put_file(self, file: IO[bytes], filename: str) -> ModelRef:
        if _seekable(file):
            start = file.tell()
            digest, size = _hash(file, None, filename)
            ref = ModelRef(sha256=digest, filename=filename, size=size)
            _seek(file, start, filename)
            self._store(file, ref)
            _seek(file, start + size, filename)
            return ref
        with self.stage(file, filename) as staged:
            return staged.keep()

    def stage(self, file: IO[bytes], filename: str) -> StagedModel:
        """Spool the file to a temporary file on this machine; it is uploaded when kept.

        An object appears in the bucket only once complete, so the upload
        itself is what keeping takes.
        """
        spool = _spool(filename)
        try:
            digest, size = _hash(file, spool, filename)
        except BaseException:
            spool.close()
            raise
        return _StagedSpool(self, ModelRef(sha256=digest, filename=filename, size=size), spool)

    def _store(self, file: IO[bytes], ref: ModelRef) -> None:
        """Upload ``file`` (positioned at the data of ``ref``) unless it is stored already."""
        if self._head(ref.sha256) == ref.size:
            return
        source = _Source(file, file.tell())
        key = self._key(ref.sha256)
        with _translated(f"store model {ref.sha256}"):
            if ref.size < self.part_size:
                self._client.put_object(Bucket=self.bucket, Key=key,
                                        Body=_body(source, 0, ref.size),
                                        ContentLength=ref.size, ContentType=_CONTENT_TYPE)
            else:
                self._upload_parts(source, ref.size, key)
        with self._lock:
            self._bucket_seen = True

    def _upload_parts(self, source: _Source, size: int, key: str) -> None:
        """A multipart upload, ``concurrency`` parts at a time; aborted when a part fails."""
        # The per-part checksums boto3's own transfer manager asks for, when botocore
        # computes them (AWS_REQUEST_CHECKSUM_CALCULATION=when_supported, its default).
        config = self._client.meta.config
        checksum = getattr(config, "request_checksum_calculation", None) == "when_supported"
        extra: dict[str, Any] = {"ChecksumAlgorithm": "CRC32"} if checksum else {}
        upload_id = self._client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=_CONTENT_TYPE, **extra
        )["UploadId"]

        def send(number: int, offset: int) -> CompletedPartTypeDef:
            length = min(self.part_size, size - offset)
            answer = self._client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                Body=_body(source, offset, length), ContentLength=length, **extra,
            )
            part: CompletedPartTypeDef = {"PartNumber": number, "ETag": answer["ETag"]}
            if checksum and "ChecksumCRC32" in answer:
                part["ChecksumCRC32"] = answer["ChecksumCRC32"]
            return part

        offsets = range(0, size, self.part_size)
        try:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(offsets)),
                                    thread_name_prefix="s3-part") as pool:
                futures = [pool.submit(send, number, offset)
                           for number, offset in enumerate(offsets, start=1)]
                try:
                    parts = [future.result() for future in futures]
                finally:
                    for future in futures:
                        future.cancel()
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with contextlib.suppress(BotoCoreError, ClientError):
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                    UploadId=upload_id)
            raise


class _StagedSpool(Staged):
    """A model spooled by :meth:`S3ModelStore.stage`, uploaded when kept."""

    def __init__(self, store: S3ModelStore, ref: ModelRef, spool: IO[bytes]) -> None:
        super().__init__(ref)
        self._owner = store
        self._spool = spool

    def _store(self) -> None:
        _seek(self._spool, 0, self.ref.filename)
        self._owner._store(self._spool, self.ref)

    def _release(self) -> None:
        self._spool.close()


def _seekable(file: IO[bytes]) -> bool:
    try:
        return file.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def _seek(file: IO[bytes], position: int, filename: str) -> None:
    try:
        file.seek(position)
    except (OSError, ValueError) as exc:
        raise StorageError(f"could not store model {filename!r}: {exc}") from exc


def _hash(file: IO[bytes], copy: IO[bytes] | None, filename: str) -> tuple[str, int]:
    """Digest and size of the rest of ``file``, read in pieces (written to ``copy`` too)."""
    hasher = hashlib.sha256()
    size = 0
    try:
        while chunk := file.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
            if copy is not None:
                copy.write(chunk)
    except OSError as exc:
        raise StorageError(f"could not store model {filename!r}: {exc}") from exc
    return hasher.hexdigest(), size


def _spool(filename: str) -> IO[bytes]:
    """A new temporary file, deleted once closed; failing to make one is ``StorageError``."""
    try:
        return tempfile.TemporaryFile(prefix="fabcore-s3-")
    except OSError as exc:
        raise StorageError(f"could not store model {filename!r}: {exc}") from exc
