"""The application object: every use case of fabcore behind one name.

:class:`Fabcore` adds nothing of its own; it gathers the use cases, which
live in modules by concern, each over the shared :class:`~fabcore.app.runner.Runner`:

- :mod:`fabcore.app.accounts`: shops, settings, catalog, customers;
- :mod:`fabcore.app.identity`: sign-up, sign-in, sessions, links, staff, API keys;
- :mod:`fabcore.app.drafting`: models, lines, shipping, billing, firm prices;
- :mod:`fabcore.app.lifecycle`: every status change, by name or by target status;
- :mod:`fabcore.app.payments`: payment page, checkout, gateway events, invoices;
- :mod:`fabcore.app.jobs`: outbox relay, reminders, failed mails;
- :mod:`fabcore.app.queries`: orders, quotes, customers, mailed links;
- :mod:`fabcore.app.storefront`: the cart, parts and their files, the order list and CSV.

Every use case takes the :class:`~fabcore.domain.actor.Actor` asking first
(shop set-up and the gateway's events aside), checks what the actor may see
and do, runs the domain in one unit of work with the mails it causes, and
commits. Build one with :func:`fabcore.connect`; it is a context manager
that closes its adapters.
"""

from __future__ import annotations

from fabcore.app.accounts import Accounts
from fabcore.app.drafting import Drafting
from fabcore.app.identity import Identity
from fabcore.app.jobs import Jobs
from fabcore.app.lifecycle import Lifecycle
from fabcore.app.payments import Payments
from fabcore.app.queries import Queries
from fabcore.app.storefront import Storefront


class Fabcore(Storefront, Accounts, Identity, Drafting, Lifecycle, Payments, Jobs, Queries):
    """The application (see the module docstring)."""

    __slots__ = ()
