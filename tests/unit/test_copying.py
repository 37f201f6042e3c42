"""Copies of aggregates: callers never see each other's changes; fixed parts are shared."""

from __future__ import annotations

import attrs

from fabcore.adapters.copying import copy_tree as _copy
from fabcore.testing import aggregates as a


@attrs.frozen
class _Leaf:
    name: str
    sizes: tuple[float, ...]


@attrs.frozen
class _FrozenHoldingAList:
    leaf: _Leaf
    items: list[str]


@attrs.define
class _Mutable:
    leaf: _Leaf
    leaves: list[_Leaf]
    tags: dict[str, int]
    nested: list[list[str]]
    loose: object = None


def test_an_order_copy_changes_apart_and_shares_what_cannot_change() -> None:
    order = a.order()
    copied = _copy(order)
    assert copied == order
    assert copied is not order
    assert copied.lines is not order.lines
    assert copied.lines[0] is not order.lines[0]
    assert copied.lines[0].analysis is order.lines[0].analysis
    assert copied.history is not order.history
    copied.lines[0].notes = "changed"
    copied.history.clear()
    copied.version += 1
    assert order == a.order()


def test_frozen_values_of_frozen_fields_are_shared() -> None:
    leaf = _Leaf("a", (1.0, 2.0))
    assert _copy(leaf) is leaf


def test_a_frozen_class_holding_a_list_is_copied() -> None:
    value = _FrozenHoldingAList(_Leaf("a", ()), ["x"])
    copied = _copy(value)
    assert copied == value
    assert copied.items is not value.items
    assert copied.leaf is value.leaf


def test_mutable_fields_are_copied_by_their_annotation() -> None:
    loose = ["untyped", ["inside"]]
    value = _Mutable(_Leaf("a", ()), [_Leaf("b", ())], {"k": 1}, [["n"]], loose)
    copied = _copy(value)
    assert copied == value
    assert copied.leaves is not value.leaves
    assert copied.leaves[0] is value.leaves[0]
    assert copied.tags is not value.tags
    assert copied.nested[0] is not value.nested[0]
    assert copied.loose is not loose
    assert isinstance(copied.loose, list)
    assert copied.loose[1] is not loose[1]
