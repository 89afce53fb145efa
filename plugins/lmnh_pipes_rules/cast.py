"""The ``cast`` rule: CSV strings to typed values (``"2"`` -> 2, ``"2023-09-01 08:03:41"`` -> an aware datetime)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import attrs

from lmnh_pipes import (
    DecodeError,
    FieldPath,
    Record,
    TimestampError,
    decode_value,
    kind_of,
    option_doc,
    parse_rfc3339,
    parse_time_zone,
    show_value,
)
from lmnh_pipes.records import MISSING

from .base import Rule, canonical_name, config_error

__all__ = ["CAST_KINDS", "KIND_ALIASES", "Cast"]

#: The target kinds of the ``cast`` rule.
CAST_KINDS: Final = ("int", "float", "str", "bool", "datetime", "json")
#: The ``types`` rule's spellings, accepted too: ``cast: {val: integer}`` is ``cast: {val: int}``.
KIND_ALIASES: Final = {"integer": "int", "number": "float", "string": "str", "boolean": "bool"}

_INT: Final = re.compile(r"[+-]?[0-9]+", re.ASCII)
_INTEGRAL_FLOAT: Final = re.compile(r"([+-]?[0-9]+)\.0+", re.ASCII)
_FLOAT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_NAIVE: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?", re.ASCII
)
_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})


class _CastError(ValueError):
    """The value cannot be cast; the message completes "<field> is <value>, ..."."""


def _int_caster(integral_floats: bool) -> Callable[[Any], Any]:
    def to_int(item: Any) -> int:
        t = type(item)
        if t is str:
            if _INT.fullmatch(item):
                return int(item)
            m = _INTEGRAL_FLOAT.fullmatch(item) if integral_floats else None
            if m is not None:
                return int(m.group(1))
            hint = " (integral_floats is off)" if _INTEGRAL_FLOAT.fullmatch(item) else ""
            raise _CastError(f"not an integer{hint}")
        if t is int:
            return item  # type: ignore[no-any-return]  # checked: an int
        if t is float and integral_floats and item.is_integer():
            return int(item)
        raise _CastError(f"{kind_of(item)}, not an integer")

    return to_int


def _to_float(item: Any) -> float:
    t = type(item)
    if t is str:
        if not _FLOAT.fullmatch(item):
            raise _CastError("not a number")
        result = float(item)
    elif t is float or t is int:
        result = float(item)
    else:
        raise _CastError(f"{kind_of(item)}, not a number")
    if not math.isfinite(result):
        raise _CastError("not a finite number")
    return result


def _to_str(item: Any) -> str:
    if type(item) is str:
        return item
    raise _CastError(f"{kind_of(item)}, not a string")


def _to_bool(item: Any) -> bool:
    if type(item) is bool:
        return item
    if type(item) is str:
        lowered = item.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise _CastError("not a boolean (true/false, yes/no, 1/0)")


def _datetime_caster(tz: ZoneInfo) -> Callable[[Any], Any]:
    def to_datetime(item: Any) -> datetime:
        if isinstance(item, datetime):
            return item if item.utcoffset() is not None else item.replace(tzinfo=tz, fold=0)
        if type(item) is not str:
            raise _CastError(f"{kind_of(item)}, not a date and time")
        m = _NAIVE.fullmatch(item)
        if m is not None:
            year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
            micro = int((m.group(7) or "").ljust(6, "0"))
            try:
                return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz, fold=0)
            except ValueError as exc:
                raise _CastError(f"not a real date and time: {exc}") from None
        try:
            return parse_rfc3339(item)
        except TimestampError:
            raise _CastError("not a date and time (YYYY-MM-DD HH:MM:SS[.ffffff], or RFC 3339 with an offset)") from None

    return to_datetime


def _to_json(item: Any) -> Any:
    if type(item) is not str:
        return item
    try:
        return decode_value(item)
    except DecodeError as exc:
        raise _CastError(f"not JSON: {exc}") from None


@attrs.frozen(kw_only=True, repr=False)
class Cast(Rule):
    """Cast string fields (from a CSV file) to typed values: ``fields: {val: int, at: datetime}``.

    Kinds: ``int``, ``float``, ``str``, ``bool``, ``datetime`` (a naive time is read in ``timezone``) and
    ``json``, with ``types``' spellings ``integer``, ``number``, ``string`` and ``boolean`` taken too; ``empty``
    says what an empty string becomes. Options and each kind's rules: ``docs/validators.md``.
    """

    name: str = "cast"
    fields: dict[str, str] = attrs.field(metadata=option_doc("field -> kind to cast it to", choices=CAST_KINDS))
    empty: Literal["drop", "null", "keep"] = attrs.field(
        default="drop", metadata=option_doc("what an empty string becomes: no key, null, or itself (not cast)")
    )
    integral_floats: bool = attrs.field(
        default=False, metadata=option_doc('int fields also accept an integral float: "1.0" -> 1')
    )
    timezone: str = attrs.field(
        default="Europe/London", metadata=option_doc("the IANA zone in which naive date-times are read")
    )
    _casts: tuple[tuple[FieldPath, Callable[[Any], Any], str], ...] = attrs.field(init=False, eq=False)

    def _prepare(self) -> None:
        if not isinstance(self.fields, Mapping) or not self.fields:
            raise config_error("fields", f"expected a mapping of field -> kind, found {self.fields!r}")
        if self.empty not in ("drop", "null", "keep"):
            raise config_error("empty", f"expected drop, null or keep, found {self.empty!r}")
        tz = parse_time_zone(self.timezone, "timezone")
        casters: dict[str, Callable[[Any], Any]] = {
            "int": _int_caster(self.integral_floats),
            "float": _to_float,
            "str": _to_str,
            "bool": _to_bool,
            "datetime": _datetime_caster(tz),
            "json": _to_json,
        }
        casts = []
        for path, given in self.fields.items():
            where = f"fields.{path}"
            kind = canonical_name(where, "kind", given, CAST_KINDS, KIND_ALIASES)
            casts.append((FieldPath.parse(path, where, writable=True), casters[kind], kind))
        object.__setattr__(self, "_casts", tuple(casts))

    def _check(self, record: Record, value: Mapping[str, Any]) -> Record:
        copy = dict(value)
        empty = self.empty
        for path, caster, kind in self._casts:
            item = copy.get(path.key, MISSING) if path.key is not None else path.get_in(copy)
            if item is MISSING:
                continue
            if type(item) is str and item == "":
                if empty == "keep":
                    continue
                if empty == "drop":
                    path.delete_in(copy)
                    continue
                new: Any = None
            else:
                try:
                    new = caster(item)
                except _CastError as exc:
                    return record.rejected_by(self.name, f"{path} is {show_value(item)}, {exc}", "cast")
                except (ValueError, OverflowError, TypeError, RecursionError):  # int() of > 4300 digits, ...
                    return record.rejected_by(self.name, f"{path} is {show_value(item)}, not a valid {kind}", "cast")
            if path.key is not None:
                copy[path.key] = new
            else:
                try:
                    path.set_in(copy, new)
                except ValueError as exc:
                    return record.rejected_by(self.name, f"cannot set {path}: {exc}", "set")
        return record.with_value(copy)
