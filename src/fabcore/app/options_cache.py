"""Quote options already worked out, kept per catalog in this process.

A model's options depend on nothing but the shop's catalog, the model's
analysis (fixed once made: analyses are stored by content and units and
never change) and the quantity. Catalogs are immutable values that the
storage adapters hand out as one shared object per stored text, so a
catalog's identity tells whether the prices it gives have changed: an
updated catalog is a new object and finds nothing of the old one's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from fabcore.domain.catalog import Catalog
from fabcore.domain.quote import LineQuote

# (sha256, units, quantity) of one model's options.
OptionsKey = tuple[str, str, int]


class OptionsCache:
    """The latest ``size`` option lists, thread safe; least recently used go first."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        # Keyed by id(catalog); the entry holds the catalog so the id cannot be reused
        # by another object while the entry lives.
        self._items: OrderedDict[tuple[int, OptionsKey], tuple[Catalog, Sequence[LineQuote]]]
        self._items = OrderedDict()
        self._lock = threading.Lock()

    def get(self, catalog: Catalog, key: OptionsKey) -> Sequence[LineQuote] | None:
        with self._lock:
            found = self._items.get((id(catalog), key))
            if found is None or found[0] is not catalog:
                return None
            self._items.move_to_end((id(catalog), key))
            return found[1]

    def put(self, catalog: Catalog, key: OptionsKey, options: Sequence[LineQuote]) -> None:
        with self._lock:
            self._items[id(catalog), key] = (catalog, tuple(options))
            self._items.move_to_end((id(catalog), key))
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
