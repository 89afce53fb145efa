"""The raw encoding: bytes as one readable line of text, and back, unambiguously."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from lmnh_pipes_files.rawtext import RawTextError, decode, encode

CONTROL = re.compile("[\x00-\x1f\x7f]")


@given(st.binary())
@example(b"\xd0")
@example(b"\\xd0")
@example(b"ends with \\")
@example(b"\x00\r\n\t\x7f")
@example(b"\xed\xa0\x80")  # a surrogate, which UTF-8 forbids
@example("café 🦕".encode())
def test_any_bytes_come_back_and_the_text_is_one_clean_line(data):
    text = encode(data)
    assert decode(text) == data
    assert CONTROL.search(text) is None
    text.encode("utf-8")  # no lone surrogate: valid UTF-8


@given(st.text().filter(lambda t: "\\" not in t and CONTROL.search(t) is None))
def test_text_without_backslashes_or_controls_is_written_as_it_is(text):
    assert encode(text.encode("utf-8")) == text


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\xd0", "\\xd0"),
        (b"\\xd0", "\\\\xd0"),
        (b"a\\", "a\\\\"),
        (b"\r\n", "\\x0d\\x0a"),
        (b"\x00", "\\x00"),
        (b"\xff\xfe", "\\xff\\xfe"),
        ('{"site": "caf\u00e9"}'.encode(), '{"site": "caf\u00e9"}'),
        (b"\xc3", "\\xc3"),  # the start of a two-byte character, alone
    ],
)
def test_examples(data, text):
    assert encode(data) == text
    assert decode(text) == data


@pytest.mark.parametrize("text", ["\\", "a\\n", "\\x0", "\\xD0", "\\xzz", "\\u00e9", "ok\\"])
def test_anything_else_after_a_backslash_is_refused(text):
    with pytest.raises(RawTextError, match="a backslash must begin"):
        decode(text)
