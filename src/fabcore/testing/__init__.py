"""Test doubles, and contract suites for adapters written outside fabcore.

The doubles are typed, so ``mailer.sent`` type-checks in an embedder's tests::

    from fabcore.testing import MemoryPaymentGateway, RecordingMailer

The contract suites (``fabcore.testing.repositories``, ``.outbox``,
``.model_store``, ...) need pytest; importing this package does not.
"""

from fabcore.adapters.memory import MemoryPaymentGateway, RecordingMailer

__all__ = ["MemoryPaymentGateway", "RecordingMailer"]
