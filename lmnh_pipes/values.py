"""Values in messages: a value shown short and readable, and its JSON kind, for rejection reasons and errors.

=============================  ==========================================================================
``show_value(v)``              ``"INF"``, ``3.0``, ``true``, ``null``, ``[1, 2]``: as JSON spells it
``show_value(v, python=True)`` ``'INF'``, ``True``, ``None``: as Python spells it (a configuration's text)
``kind_of(v)``                 ``a string``, ``an integer``, ``a float``, ``a boolean``, ``null``...
``describe_value(v)``          ``"INF" (a string)``, ``3.0 (a float)``, ``null``
``show_names(names)``          ``'at'``, ``'at' and 'site'``, ``'a', 'b' and 'c'``
=============================  ==========================================================================

Every text is at most ``LIMIT`` characters (a longer one ends in ``...``), and showing a value never raises, so a
validator can put any value in a reason: a huge container costs no more than its first few items, an integer too
long to print or an object whose ``repr`` fails is named by its type. A datetime is shown in ISO 8601.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_quote
from typing import Any, Final

__all__ = ["LIMIT", "describe_value", "kind_of", "show_names", "show_value"]

#: The longest text that :func:`show_value` returns.
LIMIT: Final = 60
_BIG: Final = 10**LIMIT  # an int smaller than this always prints: a larger one may have too many digits


def _cut(text: str) -> str:
    return text if len(text) <= LIMIT else text[: LIMIT - 3] + "..."


class _Shown(reprlib.Repr):
    """A bounded ``repr``: six items of a container, three levels deep; JSON's spelling unless ``python``."""

    def __init__(self, *, python: bool) -> None:
        super().__init__()
        self.python = python
        self.maxlevel = 3
        self.maxstring = self.maxother = self.maxlong = LIMIT
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = self.maxdeque = 6

    def repr_str(self, x: str, level: int) -> str:
        head = x[:LIMIT]  # never quote more than can be shown
        return _cut(repr(head) if self.python else _json_quote(head))  # a longer x gives a longer text: cut

    def repr_int(self, x: int, level: int) -> str:
        try:
            return _cut(int.__repr__(x))
        except ValueError:  # more digits than Python prints (sys.get_int_max_str_digits)
            return "<int>"

    def repr_datetime(self, x: datetime, level: int) -> str:
        return x.isoformat()

    def repr_bool(self, x: bool, level: int) -> str:
        return repr(x) if self.python else "true" if x else "false"

    def repr_NoneType(self, x: None, level: int) -> str:  # noqa: N802 -- reprlib looks methods up by type name
        return "None" if self.python else "null"

    def repr_float(self, x: float, level: int) -> str:
        if self.python or math.isfinite(x):
            return repr(x)
        return "NaN" if x != x else "Infinity" if x > 0 else "-Infinity"

    def repr_tuple(self, x: tuple[Any, ...], level: int) -> str:
        if self.python:
            return super().repr_tuple(x, level)
        return self.repr_list(list(x[: self.maxlist + 1]), level)  # one more than shown: the list ends in ...


_JSON: Final = _Shown(python=False)
_PYTHON: Final = _Shown(python=True)


def show_value(value: Any, *, python: bool = False) -> str:
    """``value`` spelled as JSON (``"INF"``, ``null``, ``true``, ``3.0``, ``[1, 2]``), or as Python spells it
    with ``python`` (``'INF'``, ``None``, ``True``), in at most :data:`LIMIT` characters. Never raises."""
    kind = type(value)
    if kind is str:  # the usual case, inlined: reasons are written on the validators' hot path
        text = repr(value[:LIMIT]) if python else _json_quote(value[:LIMIT])
        return text if len(text) <= LIMIT else text[: LIMIT - 3] + "..."
    if kind is int and -_BIG < value < _BIG:
        text = repr(value)
        return text if len(text) <= LIMIT else text[: LIMIT - 3] + "..."
    try:
        return _cut((_PYTHON if python else _JSON).repr(value))
    except Exception:  # a notebook object whose repr fails must not make a validator raise
        return f"<{kind.__name__}>"


_KINDS: Final[dict[type, str]] = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    type(None): "null",
    dict: "an object",
    list: "an array",
    tuple: "an array",
    datetime: "a datetime",
}


def kind_of(value: Any) -> str:
    """The JSON kind of ``value``, with its article: ``a string``, ``an integer``, ``a float``, ``a boolean``,
    ``null``, ``an object``, ``an array``; also ``a datetime``, and ``a Python set`` for anything else."""
    kind = _KINDS.get(type(value))
    if kind is not None:
        return kind
    for cls, name in _KINDS.items():  # a subclass: an IntEnum, an OrderedDict
        if isinstance(value, cls):
            return name
    if isinstance(value, Mapping):
        return "an object"
    return f"a Python {type(value).__name__}"


def describe_value(value: Any) -> str:
    """``value`` and its kind: ``"INF" (a string)``, ``3.0 (a float)``, ``true (a boolean)``; ``null`` alone."""
    if value is None:
        return "null"
    return f"{show_value(value)} ({kind_of(value)})"


def show_names(names: Iterable[Any]) -> str:
    """Key or field names for a message: ``'at'``, ``'at' and 'site'``, ``'a', 'b' and 'c'``. A name that is not
    a string (a key of a mapping built in Python) is shown as a value."""
    shown = [show_value(n, python=True) if type(n) is str else show_value(n) for n in names]
    return " and ".join(shown) if len(shown) < 3 else ", ".join(shown[:-1]) + " and " + shown[-1]
