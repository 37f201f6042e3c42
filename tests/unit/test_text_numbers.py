"""Numbers in text parsed in bulk: the same doubles float() gives, or a refusal."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fabcore.adapters.mesh.readers.text import (
    NotANumber,
    as_array,
    first_byte_offsets,
    parse_decimals,
    parse_integers,
    parse_repeated_decimals,
    tokens,
)

DECIMAL = r"[+-]?[0-9]{1,19}(\.[0-9]{0,19})?([eE][+-]?[0-9]{1,3})?"
NOT_NUMBERS = [b"one", b"1.2.3", b"--1", b"1e", b"e5", b".", b"1_000", b"0x10", b"1,5"]
FORMATS = ["%e", "%E", "%.3e", "%.8f", "%.6f", "%.1f", "%g", "%.17g", "%.15g", "%r", "%d"]


def parse_text(text: bytes) -> np.ndarray:
    buf = as_array(text)
    starts, ends = tokens(buf)
    return parse_decimals(buf, starts, ends)


def expected(words: list[str]) -> np.ndarray:
    return np.array([float(w) for w in words])


def formatted(values: list[float], fmt: str) -> list[str]:
    if fmt == "%r":
        return [repr(v) for v in values]
    if fmt == "%d":
        return [str(int(v)) for v in values]
    return [fmt % v for v in values]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_printf_style_parses_to_the_same_doubles(fmt: str) -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate(
        (
            rng.normal(size=3000) * 30,
            rng.normal(size=500) * 1e-7,
            rng.normal(size=500) * 1e9,
            np.float32(rng.normal(size=500) * 100).astype(np.float64),
            [0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e300, 123456789.0],
        )
    ).tolist()
    words = formatted(values, fmt)
    parsed = parse_text(" \n".join(words).encode())
    assert parsed.tobytes() == expected(words).tobytes()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False).map(repr),
            st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: f"{v:.9g}"),
            st.floats(min_value=-1e6, max_value=1e6).map(lambda v: f"{v:.6f}"),
            st.floats(min_value=-1e6, max_value=1e6).map(lambda v: f"{v:e}"),
            st.from_regex(DECIMAL, fullmatch=True),
            st.from_regex(r"[+-]?\.[0-9]{1,12}", fullmatch=True),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([" ", "\n", "\r\n", "\t", "   "]),
)
def test_any_decimal_parses_exactly(words: list[str], separator: str) -> None:
    parsed = parse_text((separator.join(words)).encode())
    assert parsed.tobytes() == expected(words).tobytes()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False).map(repr),
            st.floats(min_value=-100, max_value=100).map(lambda v: f"{v:.3f}"),
            st.from_regex(DECIMAL, fullmatch=True),
            st.sampled_from(["1", "1.0", "1.00", "01", "-0", "0", "12.5", "12.50", "1e1"]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.integers(min_value=0, max_value=29), max_size=60),
    st.sampled_from([b"\n", b"\n" + b" " * 24]),
)
def test_repeated_decimals_parse_like_every_other(
    words: list[str], picks: list[int], end: bytes
) -> None:
    # Repeats, near-repeats ("1.0", "1.00"), tokens past 24 bytes and near the end.
    listed = words + [words[i % len(words)] for i in picks]
    buf = as_array(" ".join(listed).encode() + end)
    starts, ends = tokens(buf)
    parsed = parse_repeated_decimals(buf, starts, ends)
    assert parsed.tobytes() == expected(listed).tobytes()


@pytest.mark.parametrize("word", NOT_NUMBERS)
def test_repeated_decimals_report_the_first_word_that_is_not_a_number(word: bytes) -> None:
    buf = as_array(b"1.5 2.5 1.5 " + word + b" 2.5 " + word + b" 1.5\n")
    starts, ends = tokens(buf)
    with pytest.raises(NotANumber) as caught:
        parse_repeated_decimals(buf, starts, ends)
    assert caught.value.index == 3
    assert caught.value.text == word


def test_nan_and_infinity_are_numbers_for_the_caller_to_judge() -> None:
    parsed = parse_text(b"nan -inf inf NaN 1.0")
    assert np.isnan(parsed[[0, 3]]).all()
    assert parsed[1] == -np.inf
    assert parsed[2] == np.inf


@pytest.mark.parametrize("word", NOT_NUMBERS)
def test_words_that_are_not_numbers(word: bytes) -> None:
    with pytest.raises(NotANumber) as caught:
        parse_text(b"1.5 2.5 " + word + b" 3.5")
    assert caught.value.index == 2
    assert caught.value.text == word


def test_tokens_split_on_any_whitespace() -> None:
    buf = as_array(b"  a bc\n\tdef\r\n")
    starts, ends = tokens(buf)
    assert [bytes(buf[s:e]) for s, e in zip(starts, ends, strict=True)] == [b"a", b"bc", b"def"]
    assert len(tokens(as_array(b""))[0]) == 0
    assert len(tokens(as_array(b" \n "))[0]) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(10**18) + 1, 10**18 - 1), min_size=1, max_size=60))
def test_integers(values: list[int]) -> None:
    buf = as_array(" ".join(map(str, values)).encode())
    starts, ends = tokens(buf)
    assert parse_integers(buf, starts, ends).tolist() == values


@pytest.mark.parametrize("word", [b"1.5", b"x", b"1e3", b"", b"-", b"9" * 19])
def test_integers_refuse_other_words(word: bytes) -> None:
    buf = as_array(b"1 2 " + word + b" 4")
    starts, ends = tokens(buf)
    if not word:
        assert parse_integers(buf, starts, ends).tolist() == [1, 2, 4]
        return
    with pytest.raises(NotANumber):
        parse_integers(buf, starts, ends)


def test_first_byte_offsets() -> None:
    words = [b"12/3/4", b"5", b"67//8", b"9/", b"a" * 30 + b"/b", b"c" * 40]
    buf = as_array(b" ".join(words))
    starts, ends = tokens(buf)
    found = first_byte_offsets(buf, starts, ends, ord("/"))
    assert found.tolist() == [w.find(b"/") if b"/" in w else len(w) for w in words]


def test_lowest_marked_byte_of_every_pattern() -> None:
    from fabcore.adapters.mesh.readers.text import _lowest_byte

    words = [
        sum(0x80 << (8 * k) for k in range(8) if pattern >> k & 1) for pattern in range(1, 256)
    ]
    found = _lowest_byte(np.array(words, dtype=np.uint64))
    assert found.tolist() == [((w & -w).bit_length() - 8) >> 3 for w in words]
