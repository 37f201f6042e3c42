"""The mailer contract, run against every mailer fabcore ships.

The SMTP mailer talks to a real SMTP server on 127.0.0.1 (the
``smtp_server`` fixture, aiosmtpd); the Maildir mailer is read back from
its folder the way a mail client reads it.
"""

from __future__ import annotations

import errno
import fnmatch
import mailbox
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import pytest

from fabcore.adapters.maildir import MaildirMailer
from fabcore.adapters.smtp import SmtpMailer
from fabcore.ports.mailer import Mail
from fabcore.testing import RecordingMailer
from fabcore.testing.mailer import Inbox, MailerContract


class TestRecordingMailer(MailerContract):
    @pytest.fixture
    def mailer(self) -> RecordingMailer:
        return RecordingMailer()

    @pytest.fixture
    def received(self, mailer: RecordingMailer) -> Inbox:
        return lambda: mailer.sent

    @pytest.fixture
    def unreachable_mailer(self) -> RecordingMailer:
        down = RecordingMailer()
        down.fail_next()  # the double's stand-in for a server that is down
        return down


class TestMaildirMailer(MailerContract):
    @pytest.fixture
    def mailer(self, tmp_path: Path) -> MaildirMailer:
        return MaildirMailer(tmp_path / "mail")

    @pytest.fixture
    def received(self, tmp_path: Path) -> Inbox:
        def read() -> list[bytes]:
            if not (tmp_path / "mail").exists():
                return []
            box = mailbox.Maildir(tmp_path / "mail", create=False)
            return [box.get_bytes(key) for key in box.keys()]  # noqa: SIM118 (a Mailbox)

        return read

    def test_mails_sent_at_once_get_a_file_each_and_leave_nothing_in_tmp(
        self, mailer: MaildirMailer, received: Inbox
    ) -> None:
        mails = [Mail(message_id=f"<m{i}@shop.example>", sender="noreply@shop.example",
                      to=("ada@example.com",), subject=f"mail {i}", text="text", html="<p>text</p>")
                 for i in range(40)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(mailer.send, mails))
        assert len(received()) == 40
        assert len(list(mailer.eml_dir.iterdir())) == 40
        assert list((mailer.path / "tmp").iterdir()) == []

    def test_the_eml_file_is_the_delivered_maildir_file_linked(
        self, mailer: MaildirMailer, received: Inbox
    ) -> None:
        mailer.send(Mail(message_id="<linked@shop.example>", sender="noreply@shop.example",
                         to=("ada@example.com",), subject="linked", text="text",
                         html="<p>text</p>"))
        (delivered,) = (mailer.path / "new").iterdir()
        (eml,) = mailer.eml_dir.iterdir()
        assert eml.name.endswith("-linked@shop.example.eml")
        assert os.path.samefile(delivered, eml)
        assert received() == [eml.read_bytes()]

    def test_without_links_a_half_written_eml_is_never_named_like_a_mail(
        self, mailer: MaildirMailer, received: Inbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        renamed: list[tuple[str, str]] = []
        replace = os.replace

        def no_links(source: str, target: str) -> None:
            raise OSError(errno.EPERM, "links are not supported here")

        def recording(source: str, target: str) -> None:
            renamed.append((os.fspath(source), os.fspath(target)))
            replace(source, target)

        monkeypatch.setattr(os, "link", no_links)
        monkeypatch.setattr(os, "replace", recording)
        mailer.send(Mail(message_id="<whole@shop.example>", sender="noreply@shop.example",
                         to=("ada@example.com",), subject="whole", text="text",
                         html="<p>text</p>"))
        ((source, target),) = renamed
        assert target.endswith(".eml")
        assert not fnmatch.fnmatch(Path(source).name, "*.eml")
        assert received() == [Path(target).read_bytes()]
        assert not os.path.samefile(next((mailer.path / "new").iterdir()), target)

    def test_a_maildir_removed_after_a_send_is_made_again(
        self, mailer: MaildirMailer, received: Inbox
    ) -> None:
        mail = Mail(message_id="<again@shop.example>", sender="noreply@shop.example",
                    to=("ada@example.com",), subject="again", text="text", html="<p>text</p>")
        mailer.send(mail)
        shutil.rmtree(mailer.path)
        mailer.send(mail)
        assert len(received()) == 1

    @pytest.fixture
    def unreachable_mailer(self, tmp_path: Path) -> MaildirMailer:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the Maildir should be")
        return MaildirMailer(blocker)


class Accepted(Protocol):
    @property
    def content(self) -> bytes: ...


class AcceptingHandler(Protocol):
    @property
    def received(self) -> Sequence[Accepted]: ...


class SmtpStandIn(Protocol):
    """What these tests use of the ``smtp_server`` fixture."""

    host: str
    port: int

    @property
    def handler(self) -> AcceptingHandler: ...

    def stop(self) -> None: ...


class TestSmtpMailer(MailerContract):
    @pytest.fixture
    def mailer(self, smtp_server: SmtpStandIn) -> SmtpMailer:
        return SmtpMailer(smtp_server.host, smtp_server.port, timeout=5)

    @pytest.fixture
    def received(self, smtp_server: SmtpStandIn) -> Inbox:
        return lambda: [item.content for item in smtp_server.handler.received]

    @pytest.fixture
    def unreachable_mailer(self, smtp_server: SmtpStandIn) -> SmtpMailer:
        smtp_server.stop()
        return SmtpMailer(smtp_server.host, smtp_server.port, timeout=5)
