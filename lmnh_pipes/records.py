"""Records: what flows from a source, through validators, to the sinks.

A :class:`Record` holds the decoded ``value`` (a mapping, or ``None`` before a
decoding validator ran), the original ``raw`` bytes, the source coordinates in
``meta``, and, once a validator refused it, a :class:`Rejection`.
Records are immutable: a validator returns a new record.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time
from typing import Any, Final

import attrs

from .errors import ConfigError

__all__ = [
    "MISSING",
    "FieldPath",
    "Meta",
    "Record",
    "Rejection",
    "attribute_path",
    "compile_path",
    "json_default",
    "make_meta",
    "make_record",
    "make_source_record",
    "offsets_by_partition",
    "resolve_path",
    "value_key",
]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: Returned by :meth:`Record.get` for a path that names nothing.
MISSING: Final[Any] = _Missing()


@attrs.frozen(kw_only=True, slots=True)
class Meta:
    """Where a record came from.

    For Kafka: the topic, partition, offset, key and timestamp of the message.
    For a file: ``topic`` is the file's path and ``offset`` the 0-based index of the record in that file.
    ``key`` is text when the message key is valid UTF-8, else bytes, or ``None`` when there is no key.
    """

    source: str = ""
    topic: str = ""
    partition: int = 0
    offset: int = 0
    key: str | bytes | None = None
    timestamp: datetime | None = None


@attrs.frozen(kw_only=True, slots=True)
class Rejection:
    """Why a record was refused: the validator's name, the rule that failed, and a readable reason.

    ``replays`` counts the replays (``lmnh-pipes replay``) that found the record still refused."""

    validator: str
    reason: str
    rule: str = ""
    replays: int = 0


@attrs.frozen(kw_only=True, slots=True)
class Record:
    """One record. Build one for a notebook with :meth:`Record.of`."""

    value: Any = None
    raw: bytes = b""
    meta: Meta = Meta()
    reject: Rejection | None = None

    @property
    def rejected(self) -> bool:
        """True when a validator refused this record."""
        return self.reject is not None

    def with_value(self, value: Any) -> Record:
        """This record, accepted, carrying a new (decoded or typed) value."""
        record = _new(Record)  # make_record's body: one call less on the validators' hot path
        _set_value(record, value)
        _set_raw(record, self.raw)
        _set_meta(record, self.meta)
        _set_reject(record, None)
        return record

    def rejected_by(self, validator: str, reason: str, rule: str = "") -> Record:
        """This record, refused by ``validator`` for ``reason`` (``rule`` groups reasons in the report)."""
        rejection = _new(Rejection)
        _set_validator(rejection, validator)
        _set_reason(rejection, reason)
        _set_rule(rejection, rule or validator)
        _set_replays(rejection, 0)
        record = make_record(self.value, self.raw, self.meta)
        _set_reject(record, rejection)
        return record

    def get(self, path: str, default: Any = MISSING) -> Any:
        """Look up a dotted path: ``site``, ``value.site``, ``meta.offset``, ``reject.reason`` or ``raw``."""
        return resolve_path(self, path, default)

    @classmethod
    def of(cls, item: Any, **meta: Any) -> Record:
        """Wrap a plain item: bytes and str become ``raw``; a mapping becomes ``value`` (and its JSON, ``raw``)."""
        if isinstance(item, Record):
            return item
        m = Meta(**meta) if meta else Meta()
        if isinstance(item, bytes | bytearray | memoryview):
            return cls(value=None, raw=bytes(item), meta=m)
        if isinstance(item, str):
            return cls(value=None, raw=item.encode("utf-8"), meta=m)
        if isinstance(item, Mapping):
            try:
                raw = json.dumps(item, default=str).encode("utf-8")
            except (TypeError, ValueError):
                try:
                    raw = repr(item).encode("utf-8", "backslashreplace")
                except ValueError:  # an integer too long to print
                    raw = b""
            return cls(value=dict(item), raw=raw, meta=m)
        raise TypeError(f"cannot make a record of {type(item).__name__}")


_new = object.__new__
_set_value = Record.__dict__["value"].__set__
_set_raw = Record.__dict__["raw"].__set__
_set_meta = Record.__dict__["meta"].__set__
_set_reject = Record.__dict__["reject"].__set__
_set_validator = Rejection.__dict__["validator"].__set__
_set_reason = Rejection.__dict__["reason"].__set__
_set_rule = Rejection.__dict__["rule"].__set__
_set_replays = Rejection.__dict__["replays"].__set__


def make_record(value: Any, raw: bytes, meta: Meta) -> Record:
    """``Record(value=value, raw=raw, meta=meta)``, about twice as fast: for sources and validators on a hot path
    (a frozen attrs class pays for its immutability in ``__init__``)."""
    record = _new(Record)
    _set_value(record, value)
    _set_raw(record, raw)
    _set_meta(record, meta)
    _set_reject(record, None)
    return record


_meta_setters = tuple(
    Meta.__dict__[name].__set__ for name in ("source", "topic", "partition", "offset", "key", "timestamp")
)


def make_meta(
    source: str, topic: str, partition: int, offset: int, key: str | bytes | None, timestamp: datetime | None
) -> Meta:
    """``Meta(...)`` from positional fields, about twice as fast: for sources on a hot path."""
    meta = _new(Meta)
    set_source, set_topic, set_partition, set_offset, set_key, set_timestamp = _meta_setters
    set_source(meta, source)
    set_topic(meta, topic)
    set_partition(meta, partition)
    set_offset(meta, offset)
    set_key(meta, key)
    set_timestamp(meta, timestamp)
    return meta


def make_source_record(
    raw: bytes,
    source: str,
    topic: str,
    partition: int,
    offset: int,
    key: str | bytes | None,
    timestamp: datetime | None,
) -> Record:
    """``Record(raw=raw, meta=Meta(...))`` in one call: for sources on a hot path, where a call per record counts
    (so it repeats the bodies of :func:`make_meta` and :func:`make_record` rather than calling them)."""
    meta = _new(Meta)
    set_source, set_topic, set_partition, set_offset, set_key, set_timestamp = _meta_setters
    set_source(meta, source)
    set_topic(meta, topic)
    set_partition(meta, partition)
    set_offset(meta, offset)
    set_key(meta, key)
    set_timestamp(meta, timestamp)
    record = _new(Record)
    _set_value(record, None)
    _set_raw(record, raw)
    _set_meta(record, meta)
    _set_reject(record, None)
    return record


_ROOTS: Final = frozenset({"meta", "reject", "raw", "value"})
_META_FIELDS: Final = frozenset(f.name for f in attrs.fields(Meta))
_REJECTION_FIELDS: Final = frozenset(f.name for f in attrs.fields(Rejection))


def _split(path: str) -> tuple[str, tuple[str, ...]]:
    """The one reading of a dotted path: the record's attribute it starts from, and the names below it."""
    head, _, rest = path.partition(".")
    if head in _ROOTS:
        return head, tuple(rest.split(".")) if rest else ()
    return "value", tuple(path.split("."))


def _walk(obj: Any, steps: tuple[str, ...], default: Any) -> Any:
    for step in steps:
        if obj is None:
            return default
        if isinstance(obj, Mapping):
            if step not in obj:
                return default
            obj = obj[step]
        elif attrs.has(type(obj)) and hasattr(obj, step):
            obj = getattr(obj, step)
        else:
            return default
    return obj


@attrs.frozen
class FieldPath:
    """A dotted path to a field of a record, as options that name fields take it: ``site`` or ``value.site`` (a
    key of the value), ``address.city`` (a nested key), ``meta.offset``, ``reject.reason``, ``raw``.

    :meth:`parse` checks a path given for an option; :meth:`resolve` and :meth:`get` read it (``MISSING`` when
    absent); ``set_in`` and ``delete_in`` change it in a fresh top-level copy of the value, copying any nested
    mapping on the way, so that the input record is never modified.
    """

    path: str
    root: str  # the record's attribute the path starts from: value, meta, reject or raw
    steps: tuple[str, ...]  # the names below the root
    key: str | None  # the value's top-level key when the path names one: read with one dict.get

    @classmethod
    def of(cls, path: str) -> FieldPath:
        """``path`` read as it is, unchecked (see :meth:`parse`)."""
        root, steps = _split(path)
        return cls(path, root, steps, steps[0] if root == "value" and len(steps) == 1 else None)

    @classmethod
    def parse(cls, path: Any, option: str, *, writable: bool = False) -> FieldPath:
        """Check a path given for ``option``; a ``writable`` path must name a field of the value.

        Raises :class:`~lmnh_pipes.ConfigError` naming ``option``.
        """
        if not isinstance(path, str) or not path or "" in path.split("."):
            raise ConfigError(f"{option}: expected a field name or a dotted path, found {path!r}")
        field = cls.of(path)
        if writable and not field.parts:
            raise ConfigError(f"{option}: {path!r} cannot be set; name a field of the value")
        return field

    @property
    def parts(self) -> tuple[str, ...]:
        """The path inside the value; ``()`` for a path that starts from meta, reject or raw, or is the value."""
        return self.steps if self.root == "value" else ()

    def resolve(self, record: Record, default: Any = MISSING) -> Any:
        """The field's value in ``record``, or ``default``; see :meth:`Record.get`."""
        return _walk(getattr(record, self.root), self.steps, default)

    def get(self, record: Record, value: Mapping[str, Any]) -> Any:
        """The field's value in ``record`` (whose decoded value is ``value``), or ``MISSING``."""
        if self.key is not None:
            return value.get(self.key, MISSING)
        return _walk(getattr(record, self.root), self.steps, MISSING)

    def get_in(self, mapping: Mapping[str, Any]) -> Any:
        """The field's value inside ``mapping`` (a value, not a record), or ``MISSING``."""
        parts = self.parts
        node: Any = mapping
        for part in parts:
            if not isinstance(node, Mapping) or part not in node:
                return MISSING
            node = node[part]
        return node if parts else MISSING

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


def resolve_path(record: Record, path: str, default: Any = MISSING) -> Any:
    """Resolve a dotted path against a record; see :meth:`Record.get`."""
    root, steps = _split(path)
    return _walk(getattr(record, root), steps, default)


def value_key(path: str) -> str | None:
    """The key, when ``path`` names one top-level key of the value (``site``, ``value.site``; not ``meta.offset``
    or ``a.b``)."""
    root, steps = _split(path)
    return steps[0] if root == "value" and len(steps) == 1 else None


def attribute_path(path: str) -> str | None:
    """``path`` itself when it names an attribute of the record (``raw``, ``meta.offset``, ``reject.reason``), which
    ``operator.attrgetter`` can read; else None."""
    return path if _attribute(*_split(path)) else None


def _attribute(root: str, steps: tuple[str, ...]) -> bool:
    if root == "raw":
        return not steps
    fields = _META_FIELDS if root == "meta" else _REJECTION_FIELDS if root == "reject" else ()
    return len(steps) == 1 and steps[0] in fields


def compile_path(path: str) -> Callable[[Record], Any]:
    """A function that resolves ``path`` like :meth:`Record.get` (``MISSING`` when absent), faster: for sinks
    that look the same paths up in every record."""
    field = FieldPath.of(path)
    key = field.key
    if key is not None:

        def value_key(record: Record) -> Any:
            value = record.value
            if type(value) is dict:
                return value.get(key, MISSING)
            return field.resolve(record)

        return value_key
    if _attribute(field.root, field.steps):
        if field.root == "raw":
            return operator.attrgetter("raw")
        get = operator.attrgetter(field.steps[0])
        if field.root == "meta":
            return lambda record: get(record.meta)
        return lambda record: MISSING if record.reject is None else get(record.reject)
    return field.resolve


def offsets_by_partition(records: Iterable[Record]) -> dict[tuple[str, int], list[int]]:
    """The offsets of ``records`` per ``(meta.topic, meta.partition)``, each list in the records' order: for a
    source that acknowledges, or a sink that stores positions, per partition."""
    by_partition: dict[tuple[str, int], list[int]] = {}
    # Records come in runs of one partition (a consumer hands them out so): look a list up once per run.
    topic, partition, offsets = "", -1, None
    for r in records:
        meta = r.meta
        if meta.partition != partition or meta.topic != topic or offsets is None:
            topic, partition = meta.topic, meta.partition
            offsets = by_partition.setdefault((topic, partition), [])
        offsets.append(meta.offset)
    return by_partition


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)`` for record values: ISO 8601 for dates and times, bytes as UTF-8
    text (bytes that are not UTF-8 as ``\\xNN``), anything else as ``str``."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)
