"""Mail URLs: ``make_mailer`` and ``SmtpMailer.from_url``, without any network."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabcore.adapters.maildir import MaildirMailer
from fabcore.adapters.memory import RecordingMailer
from fabcore.adapters.smtp import SmtpMailer
from fabcore.app.bootstrap import make_mailer
from fabcore.domain.errors import ConfigurationError


def test_memory() -> None:
    assert isinstance(make_mailer("memory://"), RecordingMailer)


def test_plain_smtp_defaults() -> None:
    mailer = make_mailer("smtp://mail.example.com")

    assert isinstance(mailer, SmtpMailer)
    assert (mailer.host, mailer.port, mailer.security) == ("mail.example.com", 25, "none")
    assert mailer.username is None
    assert mailer.timeout == 10.0
    assert mailer.keep_alive == 30.0


def test_starttls_with_login_port_and_options() -> None:
    mailer = SmtpMailer.from_url(
        "smtp://shop%40example.com:p%40ss%3Aword@mail.example.com:2525"
        "?security=starttls&timeout=2.5&local_hostname=fab.example.com&keep_alive=0"
    )

    assert (mailer.host, mailer.port, mailer.security) == ("mail.example.com", 2525, "starttls")
    assert mailer.username == "shop@example.com"
    assert mailer.timeout == 2.5
    assert mailer.local_hostname == "fab.example.com"
    assert mailer.keep_alive == 0.0
    assert "p@ss:word" not in repr(mailer)


@pytest.mark.parametrize(
    ("url", "port", "security"),
    [
        ("smtps://mail.example.com", 465, "ssl"),
        ("smtps://mail.example.com?security=ssl", 465, "ssl"),
        ("smtp://mail.example.com?security=starttls", 587, "starttls"),
        ("smtp://mail.example.com?security=ssl", 465, "ssl"),
    ],
)
def test_default_port_follows_security(url: str, port: int, security: str) -> None:
    mailer = SmtpMailer.from_url(url)

    assert (mailer.port, mailer.security) == (port, security)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("smtp://", "no host"),
        ("smtp://mail.example.com:99999", "port"),
        ("smtp://mail.example.com:abc", "port"),
        ("smtp://mail.example.com?security=tls", "security must be one of"),
        ("smtps://mail.example.com?security=starttls", "implicit TLS"),
        ("smtp://mail.example.com?timeout=soon", "timeout"),
        ("smtp://mail.example.com?timeout=0", "timeout must be positive"),
        ("smtp://mail.example.com?keep_alive=long", "keep_alive"),
        ("smtp://mail.example.com?keep_alive=-1", "keep_alive must be 0 or more"),
        ("smtp://mail.example.com?keep_alive=nan", "keep_alive must be 0 or more"),
        ("smtp://mail.example.com?tls=1", "unknown option"),
        ("smtp://mail.example.com/inbox", "no path"),
        ("smtp://user@mail.example.com", "no password"),
    ],
)
def test_bad_smtp_urls(url: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        make_mailer(url)


def test_errors_do_not_repeat_the_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_mailer("smtp://shop:hunter2@mail.example.com:70000")

    assert "hunter2" not in str(caught.value)


def test_maildir_absolute_and_relative(tmp_path: Path) -> None:
    absolute = make_mailer(f"maildir://{tmp_path}/mail")
    relative = make_mailer("maildir://var/mail%20box")

    assert isinstance(absolute, MaildirMailer)
    assert absolute.path == tmp_path / "mail"
    assert isinstance(relative, MaildirMailer)
    assert relative.path == Path("var/mail box")


def test_maildir_needs_a_path() -> None:
    with pytest.raises(ConfigurationError, match="maildir"):
        make_mailer("maildir://")


def test_unknown_scheme_lists_the_supported_ones() -> None:
    with pytest.raises(ConfigurationError, match="memory, smtp, smtps, maildir"):
        make_mailer("sendgrid://key")


def test_smtp_mailer_checks_its_settings() -> None:
    with pytest.raises(ConfigurationError, match="username and a password"):
        SmtpMailer("mail.example.com", username="shop")
    with pytest.raises(ConfigurationError, match="security"):
        SmtpMailer("mail.example.com", security="tls")  # type: ignore[arg-type]
