"""Copy the model files of one store into another (``fabcore models copy``).

Any two :class:`~fabcore.ports.model_store.ModelStore` adapters: a model
directory to an S3 bucket and back, one bucket to another. Files already
in the target with the same size are skipped, so a copy can be run again
after an interruption and carries on where it stopped. Each file is
streamed from one store to the other and hashed on the way: a file whose
bytes no longer match its digest is reported, not counted as copied.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import attrs

from fabcore.domain.errors import InvalidInput, NotFound
from fabcore.ports.model_store import ModelStore


class Outcome(enum.Enum):
    COPIED = "copied"
    SKIPPED = "already there"
    FAILED = "failed"


@attrs.frozen
class FileCopied:
    """What happened to one file: the ``number``-th of ``total`` done so far."""

    number: int
    total: int
    sha256: str
    size: int
    outcome: Outcome
    reason: str = ""


@attrs.define
class ModelCopyResult:
    """Counts of a copy; ``failures`` maps each failed digest to its reason."""

    copied: int = 0
    skipped: int = 0
    copied_bytes: int = 0
    failures: dict[str, str] = attrs.Factory(dict)

    @property
    def failed(self) -> int:
        return len(self.failures)


def copy_models(
    source: ModelStore,
    target: ModelStore,
    *,
    jobs: int = 4,
    progress: Callable[[FileCopied], None] | None = None,
    result: ModelCopyResult | None = None,
) -> ModelCopyResult:
    """Copy every file of ``source`` missing from ``target``, ``jobs`` files at a time.

    ``progress`` hears of each file as it is done. ``result`` (a fresh one
    when not given) is filled in as files are done, so a caller still has
    the counts when a store fails part-way: its ``StorageError`` ends the
    copy, the files copied so far stay copied.
    """
    if jobs < 1:
        raise InvalidInput("jobs must be at least 1")
    counts = result if result is not None else ModelCopyResult()
    digests = sorted(source.digests())
    lock = threading.Lock()

    def one(sha256: str) -> None:
        size = source.size(sha256)
        try:
            there = target.size(sha256) == size
        except NotFound:
            there = False
        reason = ""
        if there:
            outcome = Outcome.SKIPPED
        else:
            with source.open(sha256) as file:
                stored = target.put_file(file, sha256)
            outcome = Outcome.COPIED if stored.sha256 == sha256 else Outcome.FAILED
            if outcome is Outcome.FAILED:
                reason = f"its bytes have the digest {stored.sha256}: the source file is damaged"
        with lock:
            if outcome is Outcome.COPIED:
                counts.copied += 1
                counts.copied_bytes += size
            elif outcome is Outcome.SKIPPED:
                counts.skipped += 1
            else:
                counts.failures[sha256] = reason
            done = counts.copied + counts.skipped + counts.failed
            if progress is not None:
                progress(FileCopied(done, len(digests), sha256, size, outcome, reason))

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="model-copy") as pool:
        futures = [pool.submit(one, sha256) for sha256 in digests]
        try:
            for future in futures:
                future.result()
        finally:
            for future in futures:
                future.cancel()
    return counts
