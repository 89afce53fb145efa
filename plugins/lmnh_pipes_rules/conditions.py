"""Strict JSON membership, and the ``when``/``unless`` conditions that every rule takes.

Equality here is JSON equality without Python's numeric coercions: ``true`` is not ``1`` and ``1.0`` is not
``1`` (``[1]`` is not ``[1.0]`` either), while ``-0`` is ``0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from lmnh_pipes import ConfigError, FieldPath
from lmnh_pipes.records import MISSING, Record

__all__ = ["Condition", "Membership", "canonical"]


def canonical(value: Any) -> Any:
    """A hashable form of a JSON-like value in which only JSON-equal values are equal.

    Raises TypeError for a value that is neither JSON-like nor hashable.
    """
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", float(value))
    if isinstance(value, str):
        return ("str", str(value))
    if isinstance(value, Mapping):
        return ("object", frozenset((str(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("array", tuple(canonical(v) for v in value))
    hash(value)  # any other hashable object (a date from YAML) compares by ==, within its own type
    return ("other", type(value), value)


_SCALARS: Final = (bool, int, float, str, type(None))
_BASES: Final = (bool, int, float, str)  # bool first: it is also an int


class Membership:
    """A set of JSON values with strict equality: ``x in Membership([0, 1])`` is False for ``True`` and ``1.0``.

    Scalars of the exact JSON types are looked up in a per-type frozenset, with no allocation.
    """

    __slots__ = ("_other", "by_type", "values")

    def __init__(self, values: Iterable[Any], option: str = "values") -> None:
        self.values: tuple[Any, ...] = tuple(values)
        by_type: dict[type, set[Any]] = {t: set() for t in _SCALARS}
        other: set[Any] = set()
        for i, v in enumerate(self.values):
            t = type(v)
            if t not in by_type:
                for base in _BASES:
                    if isinstance(v, base):
                        v, t = base(v), base
                        break
            if t in by_type:
                by_type[t].add(v)
                continue
            try:
                other.add(canonical(v))
            except TypeError:
                raise ConfigError(f"{option}[{i}]: {v!r} is not a JSON value") from None
        self.by_type: dict[type, frozenset[Any]] = {t: frozenset(s) for t, s in by_type.items()}
        self._other = frozenset(other)

    def __contains__(self, value: Any) -> bool:
        exact = self.by_type.get(type(value))
        if exact is not None:
            return value in exact
        for base in _BASES:  # a subclass of a JSON scalar type (an IntEnum, a str subclass)
            if isinstance(value, base):
                return base(value) in self.by_type[base]
        if not self._other:
            return False
        try:
            return canonical(value) in self._other
        except (TypeError, RecursionError):
            return False

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return repr(list(self.values))


#: One compiled condition entry: the top-level key (or None), the path, the per-type sets, the membership.
_Entry = tuple[str | None, FieldPath, dict[type, frozenset[Any]], Membership]


@attrs.frozen
class Condition:
    """The compiled ``when``/``unless`` of a rule: the rule applies when every ``when`` entry matches and not
    every ``unless`` entry does."""

    when: tuple[_Entry, ...]
    unless: tuple[_Entry, ...]

    @classmethod
    def build(cls, when: Mapping[str, Any] | None, unless: Mapping[str, Any] | None) -> Condition | None:
        """Compile the options; None when there is nothing to check (the rule applies to every record)."""
        parsed = cls(_entries(when, "when"), _entries(unless, "unless"))
        return parsed if parsed.when or parsed.unless else None

    def applies(self, record: Record, value: Mapping[str, Any]) -> bool:
        """Whether the rule applies to ``record`` (whose decoded value is ``value``)."""
        # Membership tests are inlined (exact-type set first): this runs for every record of every rule.
        for key, path, exact, members in self.when:
            item = value.get(key, MISSING) if key is not None else path.get(record, value)
            found = exact.get(type(item))
            if not (item in found if found is not None else item in members):
                return False
        for key, path, exact, members in self.unless:
            item = value.get(key, MISSING) if key is not None else path.get(record, value)
            found = exact.get(type(item))
            if not (item in found if found is not None else item in members):
                return True
        return not self.unless  # every unless entry matched (or there is none)


def _entries(spec: Mapping[str, Any] | None, option: str) -> tuple[_Entry, ...]:
    if spec is None:
        return ()
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{option}: expected a mapping of field -> value, found {spec!r}")
    out: list[_Entry] = []
    for path, expected in spec.items():
        where = f"{option}.{path}"
        values = expected if isinstance(expected, list | tuple) else [expected]
        if not values:
            raise ConfigError(f"{where}: an empty list matches nothing")
        field, members = FieldPath.parse(path, where), Membership(values, where)
        out.append((field.key, field, members.by_type, members))
    return tuple(out)
