"""Strict JSON decoding: the fast path (msgspec and a quote count) decides exactly as the standard library's path."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmnh_pipes import DecodeError, decode_object, decode_value
from lmnh_pipes.decoding import MAX_DEPTH


def reference(raw: bytes) -> dict[str, Any]:
    """The standard library's path alone."""
    value = decode_value(raw)
    if not isinstance(value, dict):
        raise DecodeError("not an object")
    return value


def same_decision(raw: bytes) -> None:
    try:
        want: Any = reference(raw)
    except DecodeError:
        want = DecodeError
    try:
        got: Any = decode_object(raw)
    except DecodeError:
        got = DecodeError
    assert got == want, raw
    if want is not DecodeError:
        assert json.dumps(got) == json.dumps(want)  # the same key order, and 1 is not True


KEYS = st.sampled_from(["a", "b", "at", "site", "val", "é", 'q"', "x\\y", ""])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**25), max_value=10**25)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)


def as_text(pairs_or_value: Any) -> str:
    """JSON text in which an object is a list of pairs, so that keys may repeat."""
    if isinstance(pairs_or_value, tuple):  # an object, as a tuple of pairs
        return "{" + ", ".join(f"{json.dumps(k)}: {as_text(v)}" for k, v in pairs_or_value) + "}"
    if isinstance(pairs_or_value, list):
        return "[" + ",".join(as_text(v) for v in pairs_or_value) + "]"
    return json.dumps(pairs_or_value)


values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.lists(st.tuples(KEYS, inner), max_size=4).map(tuple),
    max_leaves=10,
)
objects = st.lists(st.tuples(KEYS, values), max_size=5).map(tuple)


@settings(max_examples=800, deadline=None)
@given(objects)
def test_objects_with_and_without_repeated_keys(obj: Any) -> None:
    same_decision(as_text(obj).encode())


@settings(max_examples=800, deadline=None)
@given(objects, st.integers(min_value=0, max_value=60), st.binary(min_size=1, max_size=3))
def test_damaged_objects(obj: Any, at: int, junk: bytes) -> None:
    raw = as_text(obj).encode()
    at = min(at, len(raw))
    same_decision(raw[:at] + junk + raw[at:])
    same_decision(raw[:at] + raw[at + 1 :])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_any_bytes(raw: bytes) -> None:
    same_decision(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"a": {"b": "x", "b": "x"}}', "duplicate key 'b'"),
        (b'{"a": [{"k": 1, "k": 1}]}', "duplicate key 'k'"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b'{"a": "\xff"}', "not valid UTF-8"),
        (b"[1]", "expected a JSON object, found [1] (an array)"),
        (b'{"a": 1} x', "not valid JSON"),
        (b'{"a":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}", f"deeper than {MAX_DEPTH}"),
    ],
)
def test_refusals_keep_their_reasons(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=re.escape(reason)):
        decode_object(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a": "x\ny"}', "not valid JSON: Invalid control character at character 8"),
        (b'{"a": "x', "not valid JSON: Unterminated string starting at character 6"),
        (b'{"a": 1} x', "not valid JSON: Extra data at character 9"),
    ],
)
def test_a_reason_says_where_once(raw: bytes, reason: str) -> None:
    """json's own messages sometimes end in "at" ("Invalid control character at"): the reason says it once."""
    with pytest.raises(DecodeError) as caught:
        decode_object(raw)
    assert str(caught.value) == reason


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]":,\\ \n\tax1u', max_size=20))
def test_no_reason_doubles_a_word(text: str) -> None:
    try:
        decode_value(text.encode())
    except DecodeError as exc:
        reason = str(exc)
    else:
        return
    words = reason.split()
    assert not any(a == b for a, b in itertools.pairwise(words)), reason


def test_the_deepest_allowed_nesting_is_decoded() -> None:
    raw = b'{"a":' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert decode_object(raw) == reference(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"at": "2024-05-01T10:00:00+01:00", "site": "3", "val": 2}',
        b' {"a":1.5,"b":"2","c":[true,null,-0]} ',
        b'{"n": 123456789012345678901234567890}',
        b'{"a": 1e400}',
        b'{"s": "\\"", "t": "x"}',
        b'{"a": "\\u00e9", "a2": "\xc3\xa9"}',
    ],
)
def test_accepted_values_are_the_standard_librarys(raw: bytes) -> None:
    same_decision(raw)


def test_the_fast_path_decodes_a_kiosk_message_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the standard library's path, the usual message still decodes: the fast path is taken."""
    from lmnh_pipes import decoding as decode

    def refuse(raw: bytes | str) -> Any:
        raise AssertionError("the standard library's path was taken")

    monkeypatch.setattr(decode, "decode_value", refuse)
    raw = b'{"at": "2024-05-01T10:00:00.123456+01:00", "site": "3", "val": 2}'
    assert decode_object(raw) == {"at": "2024-05-01T10:00:00.123456+01:00", "site": "3", "val": 2}
    with pytest.raises(AssertionError, match="standard library"):  # a repeated key is left to it
        decode_object(b'{"a": 1, "a": 2}')
