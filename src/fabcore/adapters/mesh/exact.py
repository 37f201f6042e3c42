"""Exact groups of equal rows, found with one plain sort.

Used to find the corners of a triangle soup that are bitwise copies of one
another, so that merging by distance handles each point once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.unsignedinteger[Any]]

# Odd 64-bit constants (from splitmix64 and murmur3) that spread every input bit upwards.
_MIX: Final = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xC2B2AE3D27D4EB4F),
    np.uint64(0xFF51AFD7ED558CCD),
)


def exact_groups(columns: Sequence[UIntArray]) -> tuple[IntArray, IntArray]:
    """Group of each item, items being equal when all their columns are, and each
    group's first item.

    ``columns`` are unsigned integer arrays of one length (the bits of x, y and
    z, say). Groups are numbered in the order of their first items. The items
    are sorted once by a hash of their columns with the item's number in the
    low bits: a plain sort of one array, several times faster than an argsort.
    Each item is then compared with the first item of its hash, and items
    whose hash merely collided are grouped again among themselves, so the
    grouping is exact.
    """
    count = len(columns[0])
    bits = max(1, (count - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    key = np.multiply(columns[0], _MIX[0], dtype=np.uint64)
    term = np.empty_like(key)
    for k, column in enumerate(columns[1:], start=1):
        np.multiply(column, _MIX[k % len(_MIX)], out=term, dtype=np.uint64)
        key += term
    key *= _MIX[2]
    key &= ~low
    key |= np.arange(count, dtype=np.uint64)
    key.sort()
    new = np.empty(count, dtype=np.bool_)
    new[0] = True
    np.bitwise_xor(key[1:], key[:-1], out=term[1:])
    np.greater(term[1:], low, out=new[1:])
    del term
    item = np.bitwise_and(key, low, out=key).view(np.int64)
    # Within a hash, items are in order: the first is the smallest.
    starts = np.flatnonzero(new)
    del new
    firsts = item[starts]
    rep = np.empty(count, dtype=np.int64)
    rep[item] = np.repeat(firsts, np.diff(starts, append=count))
    del item, starts
    stray = np.zeros(count, dtype=np.bool_)
    for column in columns:
        stray |= column != column[rep]
    if stray.any():
        strays = np.flatnonzero(stray)
        rep[strays] = _first_equal(columns, strays)
        firsts = np.concatenate((firsts, np.unique(rep[strays])))
    firsts.sort()
    number = np.empty(count, dtype=np.int64)
    number[firsts] = np.arange(len(firsts))
    return number[rep], firsts


def _first_equal(columns: Sequence[UIntArray], items: IntArray) -> IntArray:
    """For each of ``items`` (in order), the first of them whose columns all equal its own."""
    values = [column[items] for column in columns]
    # lexsort is stable: among equal values, items stay in order.
    order = np.lexsort(values[::-1])
    new = np.zeros(len(items), dtype=np.bool_)
    new[0] = True
    for value in values:
        ordered = value[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(new)
    found = np.empty(len(items), dtype=np.int64)
    found[order] = np.repeat(items[order[starts]], np.diff(starts, append=len(items)))
    return found
