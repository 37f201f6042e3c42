"""Test doubles, and contract suites for adapters written outside fabcore.

The package itself holds the in-memory doubles, typed, and needs nothing
but fabcore::

    from fabcore.testing import MemoryPaymentGateway, RecordingMailer

The contract suites need pytest (and some Hypothesis), so each is a module
of its own: :mod:`fabcore.testing.model_store`, :mod:`fabcore.testing.repositories`,
:mod:`fabcore.testing.outbox`, :mod:`fabcore.testing.payments`,
:mod:`fabcore.testing.mailer`.
"""

from fabcore.adapters.memory import MemoryPaymentGateway, RecordingMailer

__all__ = ["MemoryPaymentGateway", "RecordingMailer"]
