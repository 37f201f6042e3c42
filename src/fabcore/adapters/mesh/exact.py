"""Exact groups of equal rows, found by sorting an array of hashes.

Used to find the corners of a triangle soup that are bitwise copies of one
another, so that merging by distance handles each point once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fabcore.adapters.mesh.threads import Threads

IntArray = npt.NDArray[np.int64]
UIntArray = npt.NDArray[np.unsignedinteger[Any]]
BoolArray = npt.NDArray[np.bool_]

# Odd 64-bit constants (from splitmix64 and murmur3) that spread every input bit upwards.
_MIX: Final = (
    np.uint64(0x9E3779B97F4A7C15),
    np.uint64(0xC2B2AE3D27D4EB4F),
    np.uint64(0xFF51AFD7ED558CCD),
)
# Fewer items than this are grouped in the calling thread alone.
_PARALLEL_ITEMS: Final = 1 << 18
# Items per block of a pass: 64K eight-byte values fill half a megabyte.
_BLOCK: Final = 1 << 16


def exact_groups(
    columns: Sequence[UIntArray], threads: Threads | None = None
) -> tuple[IntArray, IntArray]:
    """Group of each item, items being equal when all their columns are, and each
    group's first item.

    ``columns`` are unsigned integer arrays of one length (the bits of x, y and
    z, say). Groups are numbered in the order of their first items. The items
    are sorted by a hash of their columns with the item's number in the low
    bits: a plain sort of one array, several times faster than an argsort.
    Each item is then compared with the first item of its hash, and items
    whose hash merely collided are grouped again among themselves, so the
    grouping is exact.

    With ``threads``, the hashes are split by their top bits, which no group
    spans, and each part is sorted and grouped on a thread of its own; the
    passes over every item are split by item.
    """
    threads = threads or Threads(1)
    count = len(columns[0])
    low = np.uint64((1 << max(1, (count - 1).bit_length())) - 1)
    # A power of two, so that the top bits of the hash name the part.
    parts = 1 << (threads.count.bit_length() - 1) if count >= _PARALLEL_ITEMS else 1
    ranges = _ranges(count, parts)
    key = np.empty(count, dtype=np.uint64)
    threads.each(partial(_hash_items, columns, key, low), ranges)
    rep = np.empty(count, dtype=np.int64)
    found: list[IntArray] = [np.empty(0, dtype=np.int64)] * parts
    threads.each(partial(_group_part, key, low, parts, rep, found), range(parts))
    del key
    firsts = np.concatenate(found) if parts > 1 else found[0]
    stray = np.zeros(count, dtype=np.bool_)
    threads.each(partial(_check, columns, rep, stray), ranges)
    if stray.any():
        strays = np.flatnonzero(stray)
        rep[strays] = _first_equal(columns, strays)
        firsts = np.concatenate((firsts, np.unique(rep[strays])))
    firsts.sort()
    number = np.empty(count, dtype=np.int64)
    number[firsts] = np.arange(len(firsts))
    threads.each(partial(_renumber, number, rep), ranges)
    return rep, firsts


def _ranges(count: int, parts: int) -> list[slice]:
    """``range(count)`` in ``parts`` slices of (nearly) equal size."""
    edges = [count * k // parts for k in range(parts + 1)]
    return [slice(edges[k], edges[k + 1]) for k in range(parts)]


def _hash_items(columns: Sequence[UIntArray], key: UIntArray, low: np.uint64, span: slice) -> None:
    """The keys of the items in ``span``: their hash above ``low``, their number in it.

    Made a block at a time, so that the block's terms stay in the processor's cache.
    """
    for start in range(span.start, span.stop, _BLOCK):
        block = slice(start, min(span.stop, start + _BLOCK))
        k = key[block]
        np.multiply(columns[0][block], _MIX[0], out=k, dtype=np.uint64)
        for j, column in enumerate(columns[1:], start=1):
            k += np.multiply(column[block], _MIX[j % len(_MIX)], dtype=np.uint64)
        k *= _MIX[2]
        k &= ~low
        k |= np.arange(block.start, block.stop, dtype=np.uint64)


def _group_part(
    key: UIntArray,
    low: np.uint64,
    parts: int,
    rep: IntArray,
    found: list[IntArray],
    index: int,
) -> None:
    """Sort part ``index`` of the keys (by their top bits) and point each of its
    items at the first item of its hash in ``rep``; that part's first items go
    to ``found[index]``."""
    if parts == 1:
        part = key
    else:
        size = 1 << (64 - (parts - 1).bit_length())
        inside = np.ones(len(key), dtype=np.bool_)
        if index > 0:
            np.greater_equal(key, np.uint64(index * size), out=inside)
        if index < parts - 1:
            inside &= key < np.uint64((index + 1) * size)
        part = key[inside]
        del inside
    part.sort()
    new = np.empty(len(part), dtype=np.bool_)
    if len(part):
        new[0] = True
        # A hash starts where the bits above the item's number change.
        np.greater(part[1:] ^ part[:-1], low, out=new[1:])
    item = np.bitwise_and(part, low, out=part).view(np.int64)
    # Within a hash, items are in order: the first is the smallest.
    starts = np.flatnonzero(new)
    del new
    firsts = item[starts]
    rep[item] = np.repeat(firsts, np.diff(starts, append=len(part)))
    found[index] = firsts


def _check(columns: Sequence[UIntArray], rep: IntArray, stray: BoolArray, span: slice) -> None:
    """Mark in ``stray`` the items of ``span`` whose columns differ from their first item's."""
    at, out = rep[span], stray[span]
    for column in columns:
        out |= column[span] != column[at]


def _renumber(number: IntArray, rep: IntArray, span: slice) -> None:
    """Turn each item's first item in ``span`` of ``rep`` into its group, a block at a time."""
    for start in range(span.start, span.stop, _BLOCK):
        block = slice(start, min(span.stop, start + _BLOCK))
        rep[block] = number[rep[block]]


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
