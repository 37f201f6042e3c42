"""The SQL adapters' documents: built once per text (handed out as copies), encoded by parts."""

from __future__ import annotations

import json

import attrs
import pytest

from fabcore.adapters import sql
from fabcore.adapters.copying import copy_tree
from fabcore.adapters.serialization import converter, dumps
from fabcore.adapters.sql import DocumentCache, _order_document
from fabcore.domain.errors import StorageError
from fabcore.domain.order import Order
from fabcore.domain.status import OrderStatus
from fabcore.testing import aggregates as a


def test_an_order_read_twice_is_two_independent_copies() -> None:
    cache = DocumentCache()
    text = _order_document(a.order())
    first = cache.order(3, text, "ord-1")
    first.tracking_number = "changed"
    first.lines.clear()
    again = cache.order(4, text, "ord-1")
    assert again == attrs.evolve(a.order(), version=4)
    assert again is not first


def test_an_order_written_reads_back_as_written_with_the_stored_version() -> None:
    cache = DocumentCache()
    order = a.order()
    order.tracking_number = "T1"
    text = _order_document(order)
    cache.wrote_order(text, order)
    order.tracking_number = "changed after writing"
    read = cache.order(7, text, "ord-1")
    assert read.tracking_number == "T1"
    assert read.version == 7


def test_shops_and_customers_are_copies_catalogs_are_shared() -> None:
    cache = DocumentCache()
    shop_text, customer_text, catalog_text = dumps(a.shop()), dumps(a.customer()), dumps(
        a.catalog())
    shop = cache.shop(shop_text, "shop-1")
    shop.name = "changed"
    assert cache.shop(shop_text, "shop-1") == a.shop()
    customer = cache.customer(customer_text, "cust-1")
    customer.name = "changed"
    assert cache.customer(customer_text, "cust-1") == a.customer()
    assert cache.catalog(catalog_text, "shop-1") is cache.catalog(catalog_text, "shop-1")


def test_an_unreadable_document_fails_each_time() -> None:
    cache = DocumentCache()
    for _ in range(2):
        with pytest.raises(StorageError, match="cust-1"):
            cache.customer('{"id": 1}', "cust-1")


def test_the_oldest_documents_make_room(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = sql._load_order

    def counting(version: int, text: str | bytes, order_id: str) -> Order:
        parsed.append(order_id)
        return real(version, text, order_id)

    monkeypatch.setattr(sql, "_load_order", counting)
    cache = DocumentCache(size=2)
    orders = [a.order(f"ord-{i}", number=str(i)) for i in range(3)]
    texts = [_order_document(order) for order in orders]
    for text, order in zip(texts, orders, strict=True):
        cache.wrote_order(text, order)
    assert cache.order(0, texts[2], "ord-2") == orders[2]
    assert cache.order(0, texts[0], "ord-0") == orders[0]
    assert parsed == ["ord-0"]


def _converter_json(order: Order) -> str:
    data = converter.unstructure(order)
    del data["version"]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize(
    "order",
    [a.order(), a.order(status=OrderStatus.ON_HOLD, customer_id=None, due_date=None),
     a.draft("d-1", "7")],
    ids=["rich", "on-hold-without-customer", "draft"],
)
def test_an_order_document_is_the_converters_json(order: Order) -> None:
    assert _order_document(order) == _converter_json(order)
    assert _order_document(order) == _converter_json(order)  # the parts encoded before
    copied = copy_tree(order)
    copied.status = OrderStatus.CANCELED_BY_ADMIN
    if copied.lines:
        copied.lines[0].notes = "changed after the first save"
    copied.history.append(attrs.evolve(a.order().history[0], note="again"))
    assert _order_document(copied) == _converter_json(copied)
    assert sql.load(_order_document(copied), Order, "o") == attrs.evolve(copied, version=0)
