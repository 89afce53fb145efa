"""Readable renderings of values for rejection reasons: JSON spelling, and the JSON type."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, Final

__all__ = ["describe", "is_integer", "show", "show_keys"]

_LIMIT: Final = 60
_BIG: Final = 10**60


def is_integer(value: Any) -> bool:
    """A JSON integer: an int, not a bool (JSON ``true``) and not a float (JSON ``3.0``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def show(value: Any) -> str:
    """``value`` spelled as JSON where it can be (``"INF"``, ``null``, ``true``, ``3.0``), shortened."""
    if isinstance(value, str):
        return _cut(_quote(value))
    if type(value) is int and -_BIG < value < _BIG:
        return repr(value)
    if isinstance(value, int | float | bool) or value is None:
        try:
            text = json.dumps(value)
        except (ValueError, TypeError):  # an int too long to print
            text = f"{type(value).__name__} value"
    else:
        try:
            text = repr(value)
        except Exception:  # a notebook object whose repr fails must not make validate raise
            text = f"<{type(value).__name__}>"
    return _cut(text)


def _cut(text: str) -> str:
    return text if len(text) <= _LIMIT else text[: _LIMIT - 3] + "..."


def describe(value: Any) -> str:
    """``value`` and its JSON type: ``"INF" (a string)``, ``3.0 (a float)``, ``true (a boolean)``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, int):
        kind = "an integer"
    elif isinstance(value, float):
        kind = "a float"
    elif isinstance(value, str):
        kind = "a string"
    elif isinstance(value, list | tuple):
        kind = "an array"
    elif isinstance(value, dict):
        kind = "an object"
    else:
        kind = f"a Python {type(value).__name__}"
    return f"{show(value)} ({kind})"


def show_keys(keys: list[Any]) -> str:
    """``'at'`` or ``'at' and 'site'`` or ``'a', 'b' and 'c'``."""
    names = [_cut(repr(k)) if isinstance(k, str) else show(k) for k in keys]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
