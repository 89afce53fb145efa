"""Strict JSON decoding: UTF-8 bytes holding exactly one JSON object.

Refused: invalid UTF-8, a byte-order mark, NaN / Infinity, duplicate keys (at any depth), anything but an
object at the top, and nesting deeper than ``MAX_DEPTH``. Insignificant whitespace and key order don't matter.

:func:`decode_object` first tries msgspec's decoder, about seven times faster than the standard library's with a
pairs hook, on the common case: plain ASCII without escapes, no floats. msgspec keeps the last of duplicate keys,
so the fast path counts the quotes instead: without escapes every ``"`` opens or closes a key or a string, so the
raw bytes hold exactly twice as many quotes as the decoded value has keys and strings, unless a key repeats. Any
other input, and any input msgspec refuses, takes the standard library's path, which gives the same decisions and
the readable reasons.
"""

from __future__ import annotations

import json
from typing import Any, Final

import msgspec

from .values import describe_value

__all__ = ["MAX_DEPTH", "DecodeError", "decode_object", "decode_value"]

MAX_DEPTH: Final = 64


class DecodeError(ValueError):
    """The bytes are not one strict JSON object; the message says why, for a rejection reason."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DecodeError(f"duplicate key {key!r}")
            seen.add(key)
    return result


def _constant(name: str) -> Any:
    raise DecodeError(f"{name} is not valid JSON")


_decoder = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


_fast_decode: Final = msgspec.json.Decoder().decode
#: Longer input takes the standard library's path, whose int() refuses numbers of more than 4300 digits.
_FAST_MAX_BYTES: Final = 4300
_BACKSLASH: Final = ord("\\")  # an int: `in` then looks for one byte, several times faster


def decode_object(raw: bytes | str) -> dict[str, Any]:
    """Decode ``raw`` into a dict, or raise :class:`DecodeError` with a readable reason."""
    if type(raw) is bytes and len(raw) <= _FAST_MAX_BYTES and raw.isascii() and _BACKSLASH not in raw:
        try:
            value = _fast_decode(raw)
        except (msgspec.DecodeError, RecursionError):
            pass
        else:
            if type(value) is dict and 2 * _keys_and_strings(value, 1) == raw.count(b'"'):
                return value
    value = decode_value(raw)
    if not isinstance(value, dict):
        raise DecodeError(f"expected a JSON object, found {describe_value(value)}")
    return value


def decode_value(raw: bytes | str) -> Any:
    """Decode ``raw`` into any one JSON value, by the same strict rules; raise :class:`DecodeError` if it is not."""
    if isinstance(raw, bytes):
        if raw.startswith(b"\xef\xbb\xbf"):
            raise DecodeError("starts with a UTF-8 byte-order mark")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"not valid UTF-8 (byte {exc.start})") from None
    else:
        text = raw
        if text.startswith("\ufeff"):
            raise DecodeError("starts with a byte-order mark")
    if not text.strip():
        raise DecodeError("empty value")
    if _too_deep(text):
        raise DecodeError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return _decoder.decode(text)
    except DecodeError:
        raise
    except json.JSONDecodeError as exc:
        # Some of json's messages end in "at" already ("Invalid control character at"): say it once.
        raise DecodeError(f"not valid JSON: {exc.msg.removesuffix(' at')} at character {exc.pos}") from None
    except RecursionError:
        raise DecodeError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # the only other ValueError: int() refuses a number of more than 4300 digits
        raise DecodeError("not valid JSON: a number with too many digits") from None


def _keys_and_strings(value: dict[str, Any] | list[Any], depth: int) -> int:
    """How many keys and strings ``value`` holds, at any depth; -1 (never a match) if it holds a float, whose
    parsing the fast path leaves to the standard library, or nests deeper than ``MAX_DEPTH``."""
    if depth > MAX_DEPTH:
        return -1
    if type(value) is dict:
        count = len(value)
        items: Any = value.values()
    else:
        count = 0
        items = value
    for item in items:
        kind = type(item)
        if kind is str:
            count += 1
        elif kind is dict or kind is list:
            inner = _keys_and_strings(item, depth + 1)
            if inner < 0:
                return -1
            count += inner
        elif kind is float:
            return -1
    return count


def _too_deep(text: str) -> bool:
    # Cheap pre-check, so hostile input cannot reach the recursion limit; brackets in strings only overcount.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif ch in "]}":
            depth -= 1
    return False
