"""The structural rules: ``keys``, ``types``, ``range``, ``one_of``, ``pattern`` and ``set``."""

from __future__ import annotations

import copy as _copy
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from lmnh_pipes import FieldPath, Record, describe_value, option_doc, show_names, show_value
from lmnh_pipes.records import MISSING

from .base import FieldRule, Rule, canonical_name, check_number, config_error
from .conditions import Membership

__all__ = ["JSON_TYPES", "TYPE_ALIASES", "Keys", "OneOf", "Pattern", "Range", "SetFields", "Types"]


@attrs.frozen(kw_only=True, repr=False)
class Keys(Rule):
    """Which top-level keys the value must, may and must not have.

    ``required``: keys that must be present (with any value, even null). ``allowed``: when given, the only keys
    that may be present (the required keys are always allowed). ``forbidden``: keys that must be absent, even
    with a null value.

    >>> Keys(required=["at", "site", "val"], allowed=["at", "site", "val"]).validate(Record.of({"at": 1})).reject
    Rejection(validator='keys', reason="missing keys 'site' and 'val'", rule='keys', replays=0)
    """

    name: str = "keys"
    required: list[str] = attrs.field(
        factory=list, metadata=option_doc("keys that must be present, with any value (even null)")
    )
    allowed: list[str] | None = attrs.field(
        default=None, metadata=option_doc("when given, the only keys allowed (the required keys always are)")
    )
    forbidden: list[str] = attrs.field(
        factory=list, metadata=option_doc("keys that must be absent, even with a null value")
    )
    _required_order: tuple[str, ...] = attrs.field(init=False, eq=False)
    _allowed: frozenset[str] | None = attrs.field(init=False, eq=False)
    _forbidden: frozenset[str] = attrs.field(init=False, eq=False)

    def _prepare(self) -> None:
        for option in ("required", "allowed", "forbidden"):
            keys = getattr(self, option)
            if keys is not None and (isinstance(keys, str) or not all(isinstance(k, str) for k in keys)):
                raise config_error(option, f"expected a list of key names, found {keys!r}")
        required = frozenset(self.required)
        forbidden = frozenset(self.forbidden)
        allowed = None if self.allowed is None else frozenset(self.allowed) | required
        if not required and allowed is None and not forbidden:
            raise config_error("required", "give at least one of required, allowed and forbidden")
        if required & forbidden:
            raise config_error("forbidden", f"{show_names(sorted(required & forbidden))} is also required")
        if allowed is not None and allowed & forbidden:
            raise config_error("forbidden", f"{show_names(sorted(allowed & forbidden))} is also allowed")
        object.__setattr__(self, "_required_order", tuple(dict.fromkeys(self.required)))
        object.__setattr__(self, "_allowed", allowed)
        object.__setattr__(self, "_forbidden", forbidden)

    def _check(self, record: Record, value: Mapping[str, Any]) -> Record:
        for k in self._required_order:
            if k not in value:
                missing = [k for k in self._required_order if k not in value]
                s = "s" if len(missing) > 1 else ""
                return record.rejected_by(self.name, f"missing key{s} {show_names(missing)}", "keys")
        if self._forbidden and not self._forbidden.isdisjoint(value):
            k = next(k for k in self.forbidden if k in value)
            return record.rejected_by(
                self.name, f"forbidden key {show_names([k])} is present ({show_value(value[k])})", "keys"
            )
        allowed = self._allowed
        if allowed is not None and not allowed.issuperset(value):
            extra = [k for k in value if k not in allowed]
            s = "s" if len(extra) > 1 else ""
            return record.rejected_by(self.name, f"unexpected key{s} {show_names(extra)}", "keys")
        return record


#: The type names of the ``types`` rule: the JSON types, plus ``datetime`` (after ``timestamp`` or ``cast``).
JSON_TYPES: Final = ("string", "integer", "number", "boolean", "null", "object", "array", "datetime")
#: The ``cast`` rule's spellings, accepted too: ``types: {val: int}`` is ``types: {val: integer}``.
TYPE_ALIASES: Final = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}

_TYPE_OF: Final[dict[type, str]] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    dict: "object",
    list: "array",
    datetime: "datetime",
}


def _type_of(value: Any) -> str:
    name = _TYPE_OF.get(type(value))
    if name is not None:
        return name
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, datetime):
        return "datetime"
    return type(value).__name__


@attrs.frozen(kw_only=True, repr=False)
class Types(Rule):
    """The JSON type of each named field: ``fields: {val: integer, type: integer|null}``.

    Types: ``string``, ``integer`` (not ``3.0``, not ``true``), ``number`` (an integer or a float, not a
    boolean), ``boolean``, ``null``, ``object``, ``array``, ``datetime``, or a ``|`` union of them; ``cast``'s
    spellings ``str``, ``int``, ``float`` and ``bool`` are taken too. A missing field is not this rule's business
    (it passes): use ``keys`` to require it.
    """

    name: str = "types"
    fields: dict[str, str] = attrs.field(
        metadata=option_doc("field -> type (string, integer, number, boolean, null, object, array, datetime, or a|b)")
    )
    _checks: tuple[tuple[FieldPath, frozenset[str], str], ...] = attrs.field(init=False, eq=False)

    def _prepare(self) -> None:
        if not isinstance(self.fields, Mapping) or not self.fields:
            raise config_error("fields", f"expected a mapping of field -> type, found {self.fields!r}")
        checks = []
        for path, spec in self.fields.items():
            where = f"fields.{path}"
            given = [n.strip() for n in spec.split("|")] if isinstance(spec, str) else [spec]
            names = [canonical_name(where, "type", n, JSON_TYPES, TYPE_ALIASES) for n in given]
            allowed = frozenset(names) | ({"integer"} if "number" in names else set())
            checks.append((FieldPath.parse(path, where), allowed, "|".join(names)))
        object.__setattr__(self, "_checks", tuple(checks))

    def _check(self, record: Record, value: Mapping[str, Any]) -> Record:
        for path, allowed, spec in self._checks:
            item = value.get(path.key, MISSING) if path.key is not None else path.resolve(record)
            if item is MISSING:
                continue
            if (_TYPE_OF.get(type(item)) or _type_of(item)) not in allowed:
                reason = f"{path} is {describe_value(item)}, expected {spec}"
                return record.rejected_by(self.name, reason, "types")
        return record


@attrs.frozen(kw_only=True, repr=False)
class Range(FieldRule):
    """A number between ``min`` and ``max``, both inclusive (either may be left out).

    A boolean, a string or NaN is not a number in range.

    >>> Range(field="val", min=0, max=4).validate(Record.of({"val": 5})).reject.reason
    'val is 5, above the maximum 4'
    """

    name: str = "range"
    min: float | None = attrs.field(default=None, metadata=option_doc("the smallest value allowed"))
    max: float | None = attrs.field(default=None, metadata=option_doc("the largest value allowed"))
    _low: float = attrs.field(init=False, eq=False)
    _high: float = attrs.field(init=False, eq=False)

    def _prepare(self) -> None:
        super()._prepare()
        check_number("min", self.min)
        check_number("max", self.max)
        if self.min is None and self.max is None:
            raise config_error("min", "give min, max, or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise config_error("min", f"{self.min} is greater than max {self.max}")
        object.__setattr__(self, "_low", -math.inf if self.min is None else self.min)
        object.__setattr__(self, "_high", math.inf if self.max is None else self.max)

    def _check_value(self, record: Record, value: Mapping[str, Any], item: Any) -> Record:
        t = type(item)
        if t is not int and t is not float and (isinstance(item, bool) or not isinstance(item, int | float)):
            reason = f"{self.field} is {describe_value(item)}, not a number"
            return record.rejected_by(self.name, reason, "types")
        if self._low <= item <= self._high:
            return record
        if item < self._low:
            reason = f"{self.field} is {show_value(item)}, below the minimum {show_value(_tidy_number(self.min))}"
        elif item > self._high:
            reason = f"{self.field} is {show_value(item)}, above the maximum {show_value(_tidy_number(self.max))}"
        else:
            reason = f"{self.field} is {show_value(item)}, not a number in range"
        return record.rejected_by(self.name, reason, "range")


def _tidy_number(n: float | None) -> Any:
    return int(n) if isinstance(n, float) and n.is_integer() and abs(n) < 2**53 else n


@attrs.frozen(kw_only=True, repr=False)
class OneOf(FieldRule):
    """Membership in a list of JSON values: ``values: [0, 1]``. ``true`` is not ``1`` and ``1.0`` is not ``1``.

    >>> OneOf(field="type", values=[0, 1]).validate(Record.of({"type": True})).reject.reason
    'type is true, not one of [0, 1]'
    """

    name: str = "one_of"
    values: list[Any] = attrs.field(metadata=option_doc("the values allowed (compared as JSON: true is not 1)"))
    _members: Membership = attrs.field(init=False, eq=False)

    def _prepare(self) -> None:
        super()._prepare()
        if isinstance(self.values, str | bytes | Mapping) or not self.values:
            raise config_error("values", f"expected a non-empty list, found {self.values!r}")
        object.__setattr__(self, "_members", Membership(self.values))

    def _check_value(self, record: Record, value: Mapping[str, Any], item: Any) -> Record:
        if item in self._members:
            return record
        return record.rejected_by(
            self.name, f"{self.field} is {show_value(item)}, not one of {show_value(list(self.values))}", "membership"
        )


@attrs.frozen(kw_only=True, repr=False)
class Pattern(FieldRule):
    """A string that the regular expression ``regex`` matches entirely (ASCII classes: ``\\d`` is 0-9 only).

    >>> Pattern(field="site", regex="0|[1-9][0-9]*").validate(Record.of({"site": "03"})).reject.reason
    'site is "03", which does not match "0|[1-9][0-9]*"'
    """

    name: str = "pattern"
    regex: str = attrs.field(metadata=option_doc("a Python regular expression that must match the whole string"))
    _compiled: re.Pattern[str] = attrs.field(init=False, eq=False)

    def _prepare(self) -> None:
        super()._prepare()
        if not isinstance(self.regex, str):
            raise config_error("regex", f"expected a string, found {self.regex!r}")
        try:
            compiled = re.compile(self.regex, re.ASCII)
        except re.error as exc:
            raise config_error("regex", f"not a valid regular expression: {exc}") from None
        object.__setattr__(self, "_compiled", compiled)

    def _check_value(self, record: Record, value: Mapping[str, Any], item: Any) -> Record:
        if not isinstance(item, str):
            reason = f"{self.field} is {describe_value(item)}, expected a string"
            return record.rejected_by(self.name, reason, "types")
        if self._compiled.fullmatch(item) is not None:
            return record
        reason = f"{self.field} is {show_value(item)}, which does not match {show_value(self.regex)}"
        return record.rejected_by(self.name, reason, "pattern")


@attrs.frozen(kw_only=True, repr=False)
class SetFields(Rule):
    """Set fields to constant values on the records it applies to: ``values: {kind: request}``.

    Nothing is rejected (except a record where a dotted path runs through a field that is not an object).
    """

    name: str = "set"
    values: dict[str, Any] = attrs.field(metadata=option_doc("field path -> the constant value to set"))
    _sets: tuple[tuple[FieldPath, Any, bool], ...] = attrs.field(init=False, eq=False)

    def _prepare(self) -> None:
        if not isinstance(self.values, Mapping) or not self.values:
            raise config_error("values", f"expected a mapping of field -> value, found {self.values!r}")
        sets = []
        for path, constant in self.values.items():
            mutable = isinstance(constant, dict | list | set)  # copied per record, so records never share it
            sets.append((FieldPath.parse(path, f"values.{path}", writable=True), constant, mutable))
        object.__setattr__(self, "_sets", tuple(sets))

    def _check(self, record: Record, value: Mapping[str, Any]) -> Record:
        copy = dict(value)
        for path, constant, mutable in self._sets:
            item = _copy.deepcopy(constant) if mutable else constant
            if path.key is not None:
                copy[path.key] = item
                continue
            try:
                path.set_in(copy, item)
            except ValueError as exc:
                return record.rejected_by(self.name, f"cannot set {path}: {exc}", "set")
        return record.with_value(copy)
