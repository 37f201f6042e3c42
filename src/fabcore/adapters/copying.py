"""Deep copies of aggregates that share every part nothing can change.

The memory adapter hands out copies of what it stores, and the SQL adapters
copies of the documents they have already built; :func:`copy_tree` makes
them.
"""

from __future__ import annotations

import copy
import enum
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs

__all__ = ["copy_tree", "immutable"]

_T = TypeVar("_T")

_SHARED_TYPES = (str, int, float, bool, type(None), bytes, Decimal, datetime, date, enum.Enum)

_Copier = Callable[[Any], Any]


@attrs.frozen
class _Plan:
    """How to copy an attrs class: share it whole, or copy each field its own way.

    ``fields`` pairs each field name with the function that copies its value,
    or ``None`` where the value is shared.
    """

    shared: bool
    frozen: bool
    fields: tuple[tuple[str, _Copier | None], ...]


_plans: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    found = _plans.get(cls)
    if found is None:
        found = _plans[cls] = _make_plan(cls)
    return found


def _make_plan(cls: type) -> _Plan:
    names = tuple(f.name for f in attrs.fields(cls))
    frozen = _is_frozen(cls, names)
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: copy by value
        return _Plan(False, frozen, tuple((name, _copy_any) for name in names))
    # Assumed unshared while its own fields are planned, so a class that holds
    # itself is copied.
    _plans[cls] = _Plan(False, frozen, tuple((name, _copy_any) for name in names))
    fields = tuple((name, _copier(hints.get(name, Any))) for name in names)
    shared = frozen and all(copier is None for _, copier in fields)
    return _Plan(shared, frozen, fields)


def _copier(hint: Any) -> _Copier | None:
    """How to copy a value of the annotation ``hint``; ``None``: it never changes, share it."""
    if _shared(hint):
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and len(args) == 1 and _shared(args[0]):
        return list
    if origin is dict and len(args) == 2 and _shared(args[0]) and _shared(args[1]):
        return dict
    return _copy_any


def _shared(hint: Any) -> bool:
    """Whether every value of the annotation ``hint`` is immutable all the way down."""
    if hint is None:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return all(_shared(arg) for arg in args)
    if origin is tuple or origin is frozenset:
        return all(arg is Ellipsis or _shared(arg) for arg in args)
    if origin is typing.Literal:
        return True
    if not isinstance(hint, type) or origin is not None:
        return False
    if issubclass(hint, _SHARED_TYPES):
        return True
    return attrs.has(hint) and _plan(hint).shared


def immutable(cls: type) -> bool:
    """Whether every instance of the attrs class ``cls`` is immutable all the way down."""
    return _plan(cls).shared


def _is_frozen(cls: type, names: tuple[str, ...]) -> bool:
    """Whether the attrs class refuses assignments (``attrs.frozen``)."""
    if not names:
        return True
    probe: Any = object.__new__(cls)
    try:
        setattr(probe, names[0], None)
    except attrs.exceptions.FrozenInstanceError:
        return True
    except Exception:  # a validator refusing None: the class takes assignments
        return False
    return False


def copy_tree(value: _T) -> _T:
    """A deep copy of ``value`` that shares every part nothing can change.

    Immutable values (strings, numbers, times, enums, and frozen attrs
    objects and tuples made only of such values) are shared; lists, dicts and
    mutable attrs objects are copied, so callers never see each other's
    changes. It is what ``copy.deepcopy`` gives, at a fraction of its cost:
    an attrs class is planned once from its fields' annotations (which mypy
    checks), so a field typed immutable is shared without looking inside.
    """
    result: _T = _copy_any(value)
    return result


def _copy_any(value: Any) -> Any:
    if isinstance(value, _SHARED_TYPES):
        return value
    cls = type(value)
    if cls is list:
        return [_copy_any(item) for item in value]
    if cls is tuple:
        items = tuple([_copy_any(item) for item in value])
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if cls is dict:
        return {key: _copy_any(item) for key, item in value.items()}
    if attrs.has(cls):
        plan = _plan(cls)
        if plan.shared:
            return value
        old = [getattr(value, name) for name, _ in plan.fields]
        new = [item if copier is None else copier(item)
               for item, (_, copier) in zip(old, plan.fields, strict=True)]
        if plan.frozen and all(a is b for a, b in zip(new, old, strict=True)):
            return value
        made = object.__new__(cls)
        for (name, _), item in zip(plan.fields, new, strict=True):
            object.__setattr__(made, name, item)
        return made
    return copy.deepcopy(value)
