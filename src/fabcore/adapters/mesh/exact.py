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

    With ``threads``, each thread hashes a range of the items and splits the
    hashes by their top bits, which no group spans; each part is then sorted
    and grouped on a thread of its own, and the passes over every item are
    split by item.
    """
    threads = threads or Threads(1)
    count = len(columns[0])
    low = np.uint64((1 << max(1, (count - 1).bit_length())) - 1)
    # A power of two, so that the top bits of the hash name the part.
    parts = 1 << (threads.count.bit_length() - 1) if count >= _PARALLEL_ITEMS else 1
    ranges = _ranges(count, parts)
    if parts == 1:
        key = np.empty(count, dtype=np.uint64)
        _hash_items(columns, low, key, slice(0, count))
        keys = [[[key]]]
    else:
        # keys[r][p]: the keys of part p among the items of range r, block by block.
        keys = [[[] for _ in range(parts)] for _ in ranges]
        threads.each(
            partial(_hash_and_split, columns, low, parts, keys, ranges), range(len(ranges))
        )
    rep = np.empty(count, dtype=np.int64)
    found: list[IntArray] = [np.empty(0, dtype=np.int64)] * parts
    threads.each(partial(_group_part, keys, low, rep, found), range(parts))
    del keys
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


def _hash_block(
    columns: Sequence[UIntArray], low: np.uint64, block: slice, out: UIntArray
) -> UIntArray:
    """The keys of the items in ``block``, in ``out``: their hash above ``low``,
    their number in it."""
    k = out[: block.stop - block.start]
    np.multiply(columns[0][block], _MIX[0], out=k, dtype=np.uint64)
    for j, column in enumerate(columns[1:], start=1):
        k += np.multiply(column[block], _MIX[j % len(_MIX)], dtype=np.uint64)
    k *= _MIX[2]
    k &= ~low
    k |= np.arange(block.start, block.stop, dtype=np.uint64)
    return k


def _blocks(span: slice) -> list[slice]:
    """``span`` in blocks of :data:`_BLOCK` items, small enough for the processor's cache."""
    starts = range(span.start, span.stop, _BLOCK)
    return [slice(start, min(span.stop, start + _BLOCK)) for start in starts]


def _hash_items(columns: Sequence[UIntArray], low: np.uint64, key: UIntArray, span: slice) -> None:
    """The keys of the items in ``span``, into ``key``."""
    for block in _blocks(span):
        _hash_block(columns, low, block, key[block])


def _hash_and_split(
    columns: Sequence[UIntArray],
    low: np.uint64,
    parts: int,
    keys: list[list[list[UIntArray]]],
    ranges: list[slice],
    index: int,
) -> None:
    """The keys of the items of range ``index``, split by their top bits into
    ``keys[index]``, one piece per block and part."""
    scratch = np.empty(_BLOCK, dtype=np.uint64)
    size = 1 << (64 - (parts - 1).bit_length())
    for block in _blocks(ranges[index]):
        k = _hash_block(columns, low, block, scratch)
        for p in range(parts):
            inside = k >= np.uint64(p * size) if p > 0 else np.ones(len(k), dtype=np.bool_)
            if p < parts - 1:
                inside &= k < np.uint64((p + 1) * size)
            keys[index][p].append(k[inside])


def _group_part(
    keys: list[list[list[UIntArray]]],
    low: np.uint64,
    rep: IntArray,
    found: list[IntArray],
    index: int,
) -> None:
    """Sort part ``index`` of the keys (by their top bits) and point each of its
    items at the first item of its hash in ``rep``; that part's first items go
    to ``found[index]``."""
    pieces = [piece for by_part in keys for piece in by_part[index]]
    part = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
    del pieces
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
    for block in _blocks(span):
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
