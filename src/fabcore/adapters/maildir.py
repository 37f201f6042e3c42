"""Writes mails to a local folder instead of sending them, for development and demos.

The folder is a Maildir (``cur``, ``new``, ``tmp``; point a mail client such
as mutt or Thunderbird at it) and, in ``eml/``, holds the same message once
more as ``<UTC time>-<Message-ID>.eml``, which most desktop mail programs
open with a double click. A mail delivered twice gets two files with the same
``Message-ID``.

Files are written whole and then renamed into place, so a reader never sees
half a mail; the ``.eml`` file is a hard link to the Maildir's (a copy where
the file system has no links). There is no disk sync per mail, as SQLite's default
``synchronous="normal"``: a crashed process loses nothing, a power cut may
lose the last mails written. A sync costs more than everything else a mail
takes on most disks (1-2 ms of kernel time here), and this is the mailer of
development and demos.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from fabcore.adapters.email_message import message_bytes
from fabcore.domain.errors import TemporaryDeliveryError
from fabcore.ports.mailer import Mail

__all__ = ["MaildirMailer"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")
_FOLDERS = ("cur", "new", "tmp", "eml")
# Maildir names are unique per host, process and delivery (see maildir(5)).
_DELIVERIES = itertools.count(1)


class MaildirMailer:
    """Stores each mail in the Maildir at ``path`` and as ``path/eml/*.eml``.

    The folders are created on the first send; an ``OSError`` (disk full, no
    permission) is a :class:`~fabcore.domain.errors.TemporaryDeliveryError`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._made = False
        self._host = _UNSAFE.sub("_", socket.gethostname().replace("/", "_").replace(":", "_"))
        # Plain strings: a mail's paths are joined on every send.
        self._tmp, self._new, self._eml = (os.path.join(self.path, sub)
                                           for sub in ("tmp", "new", "eml"))

    def __repr__(self) -> str:
        return f"MaildirMailer({str(self.path)!r})"

    @property
    def eml_dir(self) -> Path:
        return self.path / "eml"

    def check(self) -> None:
        """The folders exist (made if missing) and a file can be written in ``tmp``."""
        try:
            for sub in _FOLDERS:
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
        unique = (f"{int(now.timestamp())}.M{now.microsecond}P{os.getpid()}"
                  f"Q{next(_DELIVERIES)}.{self._host}")
        try:
            if not self._made or not os.path.isdir(self._new):
                for sub in _FOLDERS:
                    (self.path / sub).mkdir(parents=True, exist_ok=True)
                self._made = True
            temporary = os.path.join(self._tmp, unique)
            with open(temporary, "xb") as file:
                file.write(data)
            delivered = os.path.join(self._new, unique)
            os.rename(temporary, delivered)
            eml = os.path.join(self._eml, name)
            try:
                os.link(delivered, eml)
            except OSError:
                # No links here, the name is taken, or a mail client moved the file already.
                _write_atomically(Path(eml), data)
        except OSError as exc:
            raise TemporaryDeliveryError(
                f"cannot write mail {mail.message_id} to {self.path}: {exc}"
            ) from exc


def _write_atomically(target: Path, data: bytes) -> None:
    # A reader never sees half a file: write next to the target, then rename.
    # Named so that nothing looking for "*.eml" finds it before it is whole.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
