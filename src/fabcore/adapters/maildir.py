"""Writes mails to a local folder instead of sending them, for development and demos.

The folder is a Maildir (``cur``, ``new``, ``tmp``; point a mail client such
as mutt or Thunderbird at it) and, in ``eml/``, holds the same message once
more as ``<UTC time>-<Message-ID>.eml``, which most desktop mail programs
open with a double click. A mail delivered twice gets two files with the same
``Message-ID``.
"""

from __future__ import annotations

import mailbox
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from fabcore.adapters.email_message import message_bytes
from fabcore.domain.errors import TemporaryDeliveryError
from fabcore.ports.mailer import Mail

__all__ = ["MaildirMailer"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


class MaildirMailer:
    """Stores each mail in the Maildir at ``path`` and as ``path/eml/*.eml``.

    The folders are created on the first send; an ``OSError`` (disk full, no
    permission) is a :class:`~fabcore.domain.errors.TemporaryDeliveryError`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"MaildirMailer({str(self.path)!r})"

    @property
    def eml_dir(self) -> Path:
        return self.path / "eml"

    def check(self) -> None:
        """The folders exist (made if missing) and a file can be written in ``tmp``."""
        try:
            for sub in ("cur", "new", "tmp", "eml"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.path / "tmp"):
                pass
        except OSError as exc:
            raise TemporaryDeliveryError(f"cannot write mails to {self.path}: {exc}") from exc

    def send(self, mail: Mail) -> None:
        """Write ``mail`` to the Maildir and to a new ``.eml`` file."""
        now = datetime.now(UTC)
        data = message_bytes(mail, now, linesep="\n")
        safe_id = _UNSAFE.sub("_", mail.message_id.strip("<> ")) or "mail"
        name = f"{now:%Y%m%dT%H%M%S%fZ}-{safe_id}.eml"
        try:
            # Maildir(create=True) makes cur/new/tmp only when the folder is new.
            for sub in ("cur", "new", "tmp", "eml"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            mailbox.Maildir(self.path, create=False).add(data)
            _write_atomically(self.eml_dir / name, data)
        except OSError as exc:
            raise TemporaryDeliveryError(
                f"cannot write mail {mail.message_id} to {self.path}: {exc}"
            ) from exc


def _write_atomically(target: Path, data: bytes) -> None:
    # A reader never sees half a file: write next to the target, then rename.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
