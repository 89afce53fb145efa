"""Field paths, strict JSON membership, and the ``when``/``unless`` conditions that every rule takes.

Equality here is JSON equality without Python's numeric coercions: ``true`` is not ``1`` and ``1.0`` is not
``1`` (``[1]`` is not ``[1.0]`` either), while ``-0`` is ``0``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from lmnh_pipes import ConfigError
from lmnh_pipes.records import MISSING, Record, resolve_path

__all__ = ["Condition", "FieldPath", "Membership", "canonical"]

_TOP: Final = frozenset({"meta", "reject", "raw"})


@attrs.frozen
class FieldPath:
    """A dotted path to a field: ``site``, ``value.site``, ``address.city``, ``meta.offset``.

    ``get`` reads it (``MISSING`` when absent); ``set_in`` and ``delete_in`` change it in a fresh top-level copy
    of the value, copying any nested mapping on the way, so the input record is never modified.
    """

    path: str
    key: str | None  # the top-level key when the path is a plain key of the value: read with one dict.get
    parts: tuple[str, ...]  # the path inside the value; () for meta/reject/raw, which cannot be set

    @classmethod
    def parse(cls, path: Any, option: str, *, writable: bool = False) -> FieldPath:
        """Check a path given for ``option``; ``writable`` paths must name a field of the value."""
        if not isinstance(path, str) or not path or "" in path.split("."):
            raise ConfigError(f"{option}: expected a field name or a dotted path, found {path!r}")
        head, _, rest = path.partition(".")
        if head == "value":
            parts = tuple(rest.split(".")) if rest else ()
        elif head in _TOP:
            parts = ()
        else:
            parts = tuple(path.split("."))
        if writable and not parts:
            raise ConfigError(f"{option}: {path!r} cannot be set; name a field of the value")
        return cls(path, parts[0] if len(parts) == 1 else None, parts)

    def get(self, record: Record, value: Mapping[str, Any]) -> Any:
        """The field's value in ``record`` (whose decoded value is ``value``), or ``MISSING``."""
        if self.key is not None:
            return value.get(self.key, MISSING)
        return resolve_path(record, self.path)

    def get_in(self, mapping: Mapping[str, Any]) -> Any:
        """The field's value inside ``mapping`` (a value, not a record), or ``MISSING``."""
        node: Any = mapping
        for part in self.parts:
            if not isinstance(node, Mapping) or part not in node:
                return MISSING
            node = node[part]
        return node if self.parts else MISSING

    def set_in(self, copy: dict[str, Any], new: Any) -> None:
        """Set the field in ``copy`` (a fresh copy of the value). Raises ValueError if a parent is not a mapping."""
        parts = self.parts
        target = copy
        for i, part in enumerate(parts[:-1]):
            child = target.get(part, MISSING)
            if child is MISSING:
                child = {}
            elif isinstance(child, Mapping):
                child = dict(child)
            else:
                raise ValueError(f"{'.'.join(parts[: i + 1])!r} is not an object")
            target[part] = child
            target = child
        target[parts[-1]] = new

    def delete_in(self, copy: dict[str, Any]) -> None:
        """Remove the field from ``copy`` (a fresh copy of the value), if it is there."""
        parts = self.parts
        node: Any = copy
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping) or parts[-1] not in node:
            return
        target = copy
        for part in parts[:-1]:
            child = dict(target[part])
            target[part] = child
            target = child
        del target[parts[-1]]

    def __str__(self) -> str:
        return self.path


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
