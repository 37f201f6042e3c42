"""Numbers in text, parsed with numpy: no Python object per line or per number.

A text format is split into whitespace-separated tokens (:func:`tokens`), and
runs of tokens are parsed as decimals (:func:`parse_decimals`) or integers
(:func:`parse_integers`) in bulk, a chunk of tokens at a time.

Decimals are read eight digits at a time (SWAR: "SIMD within a register")
from windows of the text. A token's shape (digits before the point, whether
there is a point, the length of its exponent part) is found from its first
and last eight bytes; tokens of one shape are parsed together with fixed
shifts, the length of their fraction following from their own. Every byte
is checked, and the value is exact: the digits form an integer ``M``, the
point and exponent a power ``E``; with ``M`` below 2**53 and ``E`` within
22, ``M * 10**E`` (or ``M / 10**-E``) is one correctly rounded operation,
the double ``float()`` gives. Up to 19 digits and ``E`` within 27, the
product is taken in x87 extended precision: its rounding and the one to
double agree unless the first lands exactly between two doubles, which is
seen and left to ``float()``. Any other token (more digits, a far exponent,
``nan``) is parsed by ``float()``, and anything ``float()`` refuses is
reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from fabcore.adapters.mesh.exact import exact_groups
from fabcore.adapters.mesh.threads import Threads

U8Array = npt.NDArray[np.uint8]
U64Array = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_U = np.uint64
_HIGHS: Final = _U(0x8080808080808080)
_ONES: Final = _U(0x0101010101010101)
_ZEROS: Final = _U(0x3030303030303030)
_NIBBLES: Final = _U(0xF0F0F0F0F0F0F0F0)
_SIXES: Final = _U(0x0606060606060606)
_PAIRS: Final = _U(0x00FF00FF00FF00FF)
_QUADS: Final = _U(0x0000FFFF0000FFFF)
_HALF: Final = _U(0xFFFFFFFF)
# _LOW[k]: the low k bytes set, k = 0..8.
_LOW: Final = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
# _TOKEN_MASKS[n]: the bytes of an n-byte token among three words, n = 0..24.
_TOKEN_MASKS: Final = np.array(
    [[_LOW[min(max(n - 8 * k, 0), 8)] for k in range(3)] for n in range(25)], dtype=np.uint64
)
_SEVENS: Final = _U(0x7F7F7F7F7F7F7F7F)
_BYTE_INDEX: Final = _U(0x0001020304050607)
_POW10: Final = 10.0 ** np.arange(23)
_POW10_INT: Final = np.array([10**k for k in range(20)], dtype=np.uint64)
_POW10_WIDE: Final = np.cumprod(np.full(28, 10, dtype=np.longdouble)) / np.longdouble(10)
# x87 extended precision (x86-64 Linux) holds every 19-digit mantissa and
# 10**27 exactly, its 64-bit mantissa first in memory; elsewhere such
# numbers go to float().
_EXTENDED: Final = bool(
    np.finfo(np.longdouble).nmant == 63
    and np.array([1.5], dtype=np.longdouble).view(np.uint64)[0] == 0xC000000000000000
)
_CHUNK: Final = 1 << 15
_BLOCK: Final = 4 << 20
_MAX_FRACTION: Final = 24
_NUMBER: Final = re.compile(rb"[+-]?([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?)([0-9]+))?")


class NotANumber(ValueError):
    """Token ``index`` (of those given) is not a number; ``text`` shows it."""

    def __init__(self, index: int, text: bytes) -> None:
        super().__init__(f"token {index} is not a number: {text[:40]!r}")
        self.index = index
        self.text = text


def as_array(data: bytes | bytearray | memoryview) -> U8Array:
    """The bytes as a uint8 array (no copy)."""
    return np.frombuffer(data, dtype=np.uint8)


def tokens(buf: U8Array) -> tuple[IntArray, IntArray]:
    """Start and end (exclusive) of every run of bytes above space (0x20)."""
    if len(buf) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    # Bounded by a non-word byte on each side, every change is a token's start or end.
    word = np.zeros(len(buf) + 2, dtype=np.bool_)
    np.greater(buf, 32, out=word[1:-1])
    edges = np.flatnonzero(word[1:] != word[:-1]).astype(np.int64, copy=False)
    return edges[0::2], edges[1::2]


def line_of(buf: U8Array, position: int) -> int:
    """1-based line number of byte ``position``."""
    return int(np.count_nonzero(buf[:position] == 10)) + 1


def _windows(buf: U8Array, width: int) -> tuple[npt.NDArray[Any], int]:
    """Every ``width``-byte window of ``buf`` (a view), and how many there are."""
    count = max(len(buf) - width + 1, 0)
    return np.ndarray(shape=(count,), dtype=f"V{width}", buffer=buf, strides=(1,)), count


def _bytes_from(words: U64Array, start: int) -> U64Array:
    """The 8 bytes of each row of ``words`` (little-endian) beginning at byte ``start``."""
    q, r = divmod(start, 8)
    if q >= words.shape[1]:
        return np.zeros(len(words), dtype=np.uint64)
    low = words[:, q]
    if r == 0:
        return low
    low = low >> _U(8 * r)
    if q + 1 < words.shape[1]:
        low = low | (words[:, q + 1] << _U(64 - 8 * r))
    return low


def _digits(x: U64Array, count: int | IntArray) -> tuple[U64Array, U64Array]:
    """Value of the first ``count`` (0..8) bytes of ``x`` read as decimal digits.

    The second array is non-zero where a byte is not a digit.
    """
    if isinstance(count, int):
        if count < 8:
            x = (x << _U(8 * (8 - count))) | (_ZEROS & _LOW[8 - count])
    else:
        x = (x << ((8 - count) * 8).astype(np.uint64)) | (_ZEROS & _LOW[8 - count])
    bad = ((x & _NIBBLES) ^ _ZEROS) | (((x + _SIXES) & _NIBBLES) ^ _ZEROS)
    x = x - _ZEROS
    x = (x * _U(10) + (x >> _U(8))) & _PAIRS
    x = (x * _U(100) + (x >> _U(16))) & _QUADS
    x = (x * _U(10000) + (x >> _U(32))) & _HALF
    return x, bad


def _lowest_byte(hit: U64Array) -> IntArray:
    """Index of the lowest byte with its 0x80 bit set, in a word with no other bits set
    (meaningful where hit is non-zero).

    The lowest bit alone, moved to the bottom of its byte, times a constant whose
    byte ``7 - k`` is ``k``, leaves the index in the top byte.
    """
    lowest = hit & (~hit + _U(1))
    lowest >>= _U(7)
    lowest *= _BYTE_INDEX
    lowest >>= _U(56)
    index: IntArray = lowest.view(np.int64)
    return index


def _find(word: U64Array, pattern: np.uint64) -> U64Array:
    """0x80 in each byte of ``word`` equal to the pattern's byte, exactly (no borrows)."""
    x = word ^ pattern
    return ~(((x & _SEVENS) + _SEVENS) | x | _SEVENS)


def _shape_keys(first8: U64Array, last8: U64Array, length: IntArray) -> IntArray:
    """Per token (after its sign): a key naming where its point and exponent are, or -1.

    ``first8`` and ``last8`` hold the token's first and last eight bytes. Key
    bits: digits before the point (0-19), whether there is a point, the length
    of the exponent part ("e+05" is 4, none is 0), and whether the exponent
    has a sign. The fraction's length follows from the token length.
    """
    hit = _find(first8, _U(0x2E2E2E2E2E2E2E2E))
    point_at = _lowest_byte(hit)
    point = (hit != 0) & (point_at < length)
    # An exponent part ("e5" to "e+100") ends the token: its "e" is in the last bytes.
    hit = _find(last8 | _U(0x2020202020202020), _U(0x6565656565656565))
    hit &= _U(0x8080808080000000)
    at = _lowest_byte(hit)
    exp_len = np.where((hit != 0) & (length > 8 - at), 8 - at, 0)
    after = (last8 >> (np.minimum(at + 1, 7) * 8).astype(np.uint64)) & _U(0xFF)
    signed = (exp_len > 2) & ((after == _U(0x2D)) | (after == _U(0x2B)))
    whole = np.where(point, point_at, length - exp_len)
    key = whole | (point.astype(np.int64) << 5) | (exp_len << 6) | (signed.astype(np.int64) << 9)
    return np.where((length >= 1) & (length <= 32) & (whole <= 19), key, -1)


def _parse_shape(
    key: int, words: U64Array, tail: U64Array | None, length: IntArray, negative: BoolArray
) -> tuple[FloatArray, BoolArray]:
    """Values of the tokens whose shape is ``key``, and which of them were read exactly.

    ``words`` are each token's first bytes after its sign (16 or 32), ``tail``
    the eight bytes starting at its exponent part (when it has one).
    """
    whole, point = key & 31, bool(key >> 5 & 1)
    exp_len, signed = key >> 6 & 7, bool(key >> 9 & 1)
    fraction = length - whole - point - exp_len
    ok = (fraction >= 0) & (fraction <= _MAX_FRACTION) & (whole + fraction >= 1)
    np.clip(fraction, 0, _MAX_FRACTION, out=fraction)
    bad = np.zeros(len(words), dtype=np.uint64)
    if point:
        bad |= _byte(words, whole) ^ _U(0x2E)
    most = int(fraction.max())
    # Past 19 digits the mantissa may wrap past 2**64; its size as a double tells.
    size: FloatArray | None = None
    if whole + most > 19:
        size = np.zeros(len(words), dtype=np.float64)
    if point and whole + 1 + most <= 8:
        # One word: drop the point and read whole and fraction digits together.
        w = words[:, 0]
        joined = ((w & _LOW[whole]) << _U(8)) | (w & ~_LOW[whole + 1])
        mantissa, wrong = _digits(joined >> _U(8), fraction + whole)
        bad |= wrong
    else:
        mantissa = np.zeros(len(words), dtype=np.uint64)
        runs: list[tuple[int, int | IntArray]] = [
            (start, min(8, whole - start)) for start in range(0, whole, 8)
        ]
        fixed = int(fraction.min()) == most
        for start in range(0, most, 8):
            count = min(most - start, 8) if fixed else np.clip(fraction - start, 0, 8)
            runs.append((whole + point + start, count))
        for start, count in runs:
            value, wrong = _digits(_bytes_from(words, start), count)
            scale = _U(10**count) if isinstance(count, int) else _POW10_INT[count]
            if size is not None:
                size = size * scale.astype(np.float64) + value.astype(np.float64)
            mantissa = mantissa * scale + value
            bad |= wrong
    exponent = -fraction
    if exp_len and tail is not None:
        ok &= exp_len - 1 - signed >= 1
        bad |= ((tail & _U(0xFF)) | _U(0x20)) ^ _U(0x65)
        digits, wrong = _digits(tail >> _U(8 * (1 + signed)), exp_len - 1 - signed)
        bad |= wrong
        shift = digits.astype(np.int64)
        if signed:
            np.negative(shift, out=shift, where=((tail >> _U(8)) & _U(0xFF)) == _U(0x2D))
        exponent += shift
    ok &= bad == 0
    if size is not None:
        ok &= size < 1e19
    plain = mantissa.astype(np.float64)
    if exp_len:
        power = _POW10[np.minimum(np.abs(exponent), 22)]
        values = np.divide(plain, power)
        np.multiply(plain, power, out=values, where=exponent >= 0)
        double = ok & (mantissa <= _U(2**53)) & (np.abs(exponent) <= 22)
    else:
        values = plain / _POW10[np.minimum(fraction, 22)]
        double = ok & (mantissa <= _U(2**53)) & (fraction <= 22)
    if not double.all():
        wide = ok & ~double & _EXTENDED & (np.abs(exponent) <= 27)
        if wide.all():
            values, exact = _extended(mantissa, exponent)
            ok &= exact
        elif wide.any():
            values[wide], exact = _extended(mantissa[wide], exponent[wide])
            ok[np.flatnonzero(wide)[~exact]] = False
            ok &= double | wide
        else:
            ok &= double
    np.negative(values, out=values, where=negative)
    return values, ok


def _extended(mantissa: U64Array, exponent: IntArray) -> tuple[FloatArray, BoolArray]:
    """``mantissa * 10**exponent`` rounded once to a double, where that can be told.

    The product is taken in x87 extended precision (64-bit mantissa, one
    rounding), then rounded to double. The two roundings agree unless the
    first lands exactly on a midpoint between two doubles, which its 11
    lowest mantissa bits show (0b10000000000); such values are left to float().
    """
    wide = mantissa.astype(np.longdouble)
    power = _POW10_WIDE[np.abs(exponent)]
    product = np.divide(wide, power)
    up = exponent >= 0
    if up.any():
        np.multiply(wide, power, out=product, where=up)
    low_bits = product.view(np.uint64).reshape(len(product), -1)[:, 0] & _U(0x7FF)
    return product.astype(np.float64), low_bits != _U(0x400)


def _byte(words: U64Array, position: int) -> U64Array:
    q, r = divmod(position, 8)
    return (words[:, q] >> _U(8 * r)) & _U(0xFF)


def parse_decimals(
    buf: U8Array, starts: IntArray, ends: IntArray, threads: Threads | None = None,
    *, chunk: int | None = None,
) -> FloatArray:
    """The decimal numbers at ``buf[starts[i]:ends[i]]``; raises :class:`NotANumber`.

    Chunks of ``chunk`` tokens (default :data:`_CHUNK`) are parsed on
    ``threads`` side by side, each into its own part of the result; the first
    bad token is the one reported.
    """
    chunk = chunk or _CHUNK
    count = len(starts)
    out = np.empty(count, dtype=np.float64)
    narrow, _ = _windows(buf, 16)
    wide, nwide = _windows(buf, 32)
    eights, neights = _windows(buf, 8)

    def parse(first: int) -> None:
        s = starts[first : first + chunk]
        e = ends[first : first + chunk]
        head = buf[s]
        negative = head == 0x2D
        body = s + (negative | (head == 0x2B))
        length = e - body
        todo = np.ones(len(s), dtype=np.bool_)
        pick = np.flatnonzero((body < nwide) & (e >= 8) & (e <= neights))
        if len(pick):
            start, stop, size = body[pick], e[pick], length[pick]
            keys = _shape_keys(
                eights[start].view(np.uint64), eights[stop - 8].view(np.uint64), size
            )
            for key in np.flatnonzero(np.bincount(keys + 1)[1:]):
                group = np.flatnonzero(keys == key)
                where = start[group]
                if int(size[group].max()) <= 16:
                    words = narrow[where].view(np.uint64).reshape(-1, 2)
                else:
                    words = wide[where].view(np.uint64).reshape(-1, 4)
                exp_len = int(key) >> 6 & 7
                tail = eights[stop[group] - exp_len].view(np.uint64) if exp_len else None
                values, ok = _parse_shape(
                    int(key), words, tail, size[group], negative[pick[group]]
                )
                done = pick[group[ok]]
                out[first + done] = values[ok]
                todo[done] = False
        for i in np.flatnonzero(todo):
            out[first + i] = _slow_decimal(buf, first + int(i), int(s[i]), int(e[i]))

    _each_chunk(count, chunk, threads, parse)
    return out


def _each_chunk(
    count: int, chunk: int, threads: Threads | None, work: Callable[[int], None]
) -> None:
    """``work(first)`` for the chunk of tokens from each ``first``, in order of ``first``."""
    for _ in (threads or Threads(1)).map(work, range(0, count, chunk)):
        pass


def parse_repeated_decimals(
    buf: U8Array, starts: IntArray, ends: IntArray, threads: Threads | None = None
) -> FloatArray:
    """:func:`parse_decimals` for text that repeats its numbers, parsing each distinct one once.

    An ASCII STL lists every vertex once per triangle using it, so each of
    its numbers recurs several times. The spans are tokens as :func:`tokens`
    finds them; those of at most 24 bytes are grouped by their exact bytes,
    three words zeroed past the token's end. No token holds a zero byte, so
    the words also tell its length.
    """
    count = len(starts)
    windows, nwindows = _windows(buf, 24)
    length = ends - starts
    fits = (length <= 24) & (starts < nwindows)
    every = bool(fits.all())
    short: IntArray | slice = slice(None) if every else np.flatnonzero(fits)
    s, e, size = (starts, ends, length) if every else (starts[short], ends[short], length[short])
    if len(s) < max(2, count // 2):
        return parse_decimals(buf, starts, ends, threads)
    words = windows[s].view(np.uint64).reshape(-1, 3)
    words &= np.take(_TOKEN_MASKS, size, axis=0)
    group, first = exact_groups([words[:, 0], words[:, 1], words[:, 2]], threads)
    del words
    try:
        distinct = parse_decimals(buf, s[first], e[first], threads)
        if every:
            return distinct[group]
        out = np.empty(count, dtype=np.float64)
        out[short] = distinct[group]
        fits = ~fits
        out[fits] = parse_decimals(buf, starts[fits], ends[fits], threads)
    except NotANumber:
        # The plain parse reports the first bad token of all.
        return parse_decimals(buf, starts, ends, threads)
    return out


def _slow_decimal(buf: U8Array, index: int, start: int, end: int) -> float:
    text = bytes(buf[start:end])
    # float() also takes "1_0" or " 1"; a file's numbers are plain decimals.
    match = _NUMBER.fullmatch(text)
    if match is not None and (match.group(1) or match.group(2)):
        return float(text)
    if text.lower().lstrip(b"+-") in (b"nan", b"inf", b"infinity"):
        return float(text)
    raise NotANumber(index, text)


def parse_integers(
    buf: U8Array, starts: IntArray, ends: IntArray, threads: Threads | None = None,
    *, chunk: int | None = None,
) -> IntArray:
    """The integers (optionally signed, at most 18 digits) at ``buf[starts[i]:ends[i]]``.

    Raises :class:`NotANumber` for anything else. Chunks of ``chunk`` tokens
    (default :data:`_CHUNK`) are parsed on ``threads`` side by side.
    """
    chunk = chunk or _CHUNK
    count = len(starts)
    out = np.empty(count, dtype=np.int64)
    if count == 0:
        return out
    eights, nwindows = _windows(buf, 8)

    def parse(first: int) -> None:
        s = starts[first : first + chunk]
        e = ends[first : first + chunk]
        head = buf[s]
        negative = head == 0x2D
        body = s + (negative | (head == 0x2B))
        length = e - body
        fast = (length >= 1) & (length <= 8) & (body < nwindows)
        every = bool(fast.all())
        pick = np.flatnonzero(fast) if not every else slice(None)
        if every or len(np.asarray(pick)):
            lo = eights[body[pick]].view(np.uint64)
            size = length[pick]
            x = (lo << ((8 - size) * 8).astype(np.uint64)) | (_ZEROS & _LOW[8 - size])
            value, bad = _digits(x, 8)
            signed = value.astype(np.int64)
            np.negative(signed, out=signed, where=negative[pick])
            out[first : first + len(s)][pick] = signed
            fast[np.arange(len(s))[pick][bad != 0]] = False
        for i in np.flatnonzero(~fast):
            text = bytes(buf[s[i] : e[i]])
            # Past 18 digits a whole number does not fit the array (nor any mesh).
            if re.fullmatch(rb"[+-]?[0-9]{1,18}", text) is None:
                raise NotANumber(first + int(i), text)
            out[first + i] = int(text)

    _each_chunk(count, chunk, threads, parse)
    return out


def first_byte_offsets(buf: U8Array, starts: IntArray, ends: IntArray, value: int) -> IntArray:
    """Offset of the first ``value`` byte in each token, or the token's length."""
    count = len(starts)
    out = np.empty(count, dtype=np.int64)
    windows, nwindows = _windows(buf, 16)
    pattern = _U(value * 0x0101010101010101)
    for first in range(0, count, _CHUNK):
        s = starts[first : first + _CHUNK]
        e = ends[first : first + _CHUNK]
        length = e - s
        fast = s < nwindows
        pick = np.flatnonzero(fast)
        found = length.copy()
        if len(pick):
            block = windows[s[pick]].view(np.uint64).reshape(-1, 2)
            result = np.full(len(pick), 16, dtype=np.int64)
            for half, base in ((1, 8), (0, 0)):
                x = block[:, half] ^ pattern
                t = (x - _ONES) & ~x & _HIGHS
                lowest = t & (~t + _U(1))
                offset = ((np.frexp(lowest.astype(np.float64))[1] - 8) >> 3) + base
                result = np.where(t != 0, offset, result)
            result = np.minimum(result, length[pick])
            found[pick] = result
            # Past 16 bytes the windows cannot tell: look again among all such bytes.
            fast[pick[(result == 16) & (length[pick] > 16)]] = False
        rest = np.flatnonzero(~fast)
        if len(rest):
            low, high = int(s[rest].min()), int(e[rest].max())
            at = np.append(np.flatnonzero(buf[low:high] == value) + low, high)
            position = at[np.searchsorted(at, s[rest])]
            found[rest] = np.minimum(position, e[rest]) - s[rest]
        out[first : first + len(s)] = found
    return out


def first_eight(buf: U8Array, starts: IntArray, ends: IntArray) -> U64Array:
    """The first eight bytes of each token, little-endian, zero past its end."""
    count = len(starts)
    eights, neights = _windows(buf, 8)
    inside = starts < neights
    if bool(inside.all()):
        masked: U64Array = eights[starts].view(np.uint64)
        masked &= _LOW[np.clip(ends - starts, 0, 8)]
        return masked
    words = np.zeros(count, dtype=np.uint64)
    words[inside] = eights[starts[inside]].view(np.uint64)
    for i in np.flatnonzero(~inside):
        tail = bytes(buf[starts[i] : ends[i]])[:8].ljust(8, b"\0")
        words[i] = np.frombuffer(tail, dtype="<u8")[0]
    words &= _LOW[np.clip(ends - starts, 0, 8)]
    return words


def packed(word: bytes) -> np.uint64:
    """``word`` (at most eight bytes) as :func:`first_eight` gives it."""
    return _U(int.from_bytes(word.ljust(8, b"\0"), "little"))


def lower(words: U64Array, length: IntArray) -> U64Array:
    """Letters of :func:`first_eight` words in lower case (other bytes may change too)."""
    lowered: U64Array = words | (_U(0x2020202020202020) & _LOW[np.clip(length, 0, 8)])
    return lowered


def first_on_line(buf: U8Array, starts: IntArray, ends: IntArray) -> BoolArray:
    """Whether each token is the first of its line (a newline lies in the gap before it)."""
    count = len(starts)
    first = np.zeros(count, dtype=np.bool_)
    if count == 0:
        return first
    # The first token counts as the first of its line.
    gap = np.zeros(count, dtype=np.int64)
    gap[1:] = starts[1:] - ends[:-1]
    first[0] = True
    widest = min(int(gap.max()), 16)
    # Tokens are maximal runs: every gap is at least one byte wide.
    if widest >= 1:
        np.equal(buf[starts[1:] - 1], 10, out=first[1:])
    for back in range(2, widest + 1):
        first |= (gap >= back) & (buf[np.maximum(starts - back, 0)] == 10)
    wide = np.flatnonzero(gap > 16)
    if len(wide):
        newlines = np.flatnonzero(buf[int(starts[0]) : int(ends[-1])] == 10) + int(starts[0])
        before = np.searchsorted(newlines, ends[wide - 1])
        first[wide] = np.searchsorted(newlines, starts[wide]) > before
    return first


def line_blocks(data: bytes, size: int | None = None) -> Iterator[tuple[int, int]]:
    """Consecutive pieces ``(start, end)`` of ``data`` of about ``size`` bytes, cut after newlines.

    Text is worked on a block at a time so that the arrays of one block stay
    in the processor's cache, and blocks can be read side by side; a line
    never spans two blocks. ``size`` is 4 MiB unless given.
    """
    size = size or _BLOCK
    start = 0
    while start < len(data):
        end = min(len(data), start + size)
        if end < len(data):
            newline = data.find(b"\n", end)
            end = len(data) if newline < 0 else newline + 1
        yield start, end
        start = end
