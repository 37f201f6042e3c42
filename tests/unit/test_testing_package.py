"""``fabcore.testing`` gives the typed doubles to code that has no pytest installed."""

from __future__ import annotations

import subprocess
import sys

from fabcore.app.bootstrap import make_mailer, make_payments
from fabcore.ports.mailer import Mail
from fabcore.testing import MemoryPaymentGateway, RecordingMailer
from fabcore.testing import aggregates as a

WITHOUT_PYTEST = """
import sys
sys.modules["pytest"] = None
sys.modules["hypothesis"] = None
import fabcore.testing
from fabcore.testing import MemoryPaymentGateway, RecordingMailer
print(sorted(fabcore.testing.__all__))
print(RecordingMailer.__name__, MemoryPaymentGateway.__name__)
try:
    import fabcore.testing.model_store
except ImportError:
    print("the contract suites need pytest")
"""


def test_the_doubles_import_without_pytest() -> None:
    done = subprocess.run([sys.executable, "-c", WITHOUT_PYTEST], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "['MemoryPaymentGateway', 'RecordingMailer']",
        "RecordingMailer MemoryPaymentGateway",
        "the contract suites need pytest",
    ]


def test_memory_urls_make_the_doubles() -> None:
    mailer, payments = make_mailer("memory://"), make_payments("memory://")
    assert isinstance(mailer, RecordingMailer)
    assert isinstance(payments, MemoryPaymentGateway)
    mailer.send(a.mail())
    sent: list[Mail] = mailer.sent
    assert sent == [a.mail()]
    event = payments.verify_event(*payments.paid_event("ord-1", a.eur("10.00")))
    assert event is not None
    assert (event.order_id, event.amount) == ("ord-1", a.eur("10.00"))
