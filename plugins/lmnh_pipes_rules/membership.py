"""The ``in_catalogue`` rule: membership in a catalogue of JSON objects read with smart-open."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from lmnh_pipes import ConfigError, FieldPath, Record, describe_value, load_json_objects, option_doc, show_value
from lmnh_pipes.records import MISSING

from .base import FieldRule, config_error

__all__ = ["InCatalogue"]

_MEMO_SIZE: Final = 4096
_CANONICAL_DECIMAL: Final = re.compile(r"0|-?[1-9][0-9]*", re.ASCII)


@attrs.frozen(kw_only=True, repr=False)
class InCatalogue(FieldRule):
    """The field names an object of a catalogue: JSON object files at ``catalogue``, each identified by its
    ``key`` field (through a ``format`` template such as ``EXH_{:02d}`` when given).

    The catalogue is loaded by ``open()`` (or on first use); a missing or empty one, or two files with one key,
    raise :class:`~lmnh_pipes.ConfigError`. Options: ``docs/validators.md``.
    """

    name: str = "in_catalogue"
    catalogue: str = attrs.field(metadata=option_doc("a local folder, a glob, a file, or s3://bucket/prefix"))
    key: str = attrs.field(metadata=option_doc("the field of each catalogue object that identifies it"))
    pattern: str = attrs.field(
        default="*.json", metadata=option_doc("the base names to read in a folder or under a prefix")
    )
    format: str | None = attrs.field(
        default=None, metadata=option_doc("a str.format template for one integer, e.g. EXH_{:02d}")
    )
    target: str | None = attrs.field(
        default=None, metadata=option_doc("a field to set, on accepted records, to the key found")
    )
    _target: FieldPath | None = attrs.field(init=False, eq=False)
    # The catalogue's keys, loaded by open() (or lazily): a cache derived from the options rather than
    # configuration, so it lives in a private field set with object.__setattr__ and the rule stays frozen.
    _keys: frozenset[Any] | None = attrs.field(init=False, default=None, eq=False)
    # field value ("3" or 3, exact types) -> formatted key ("EXH_03"): a site is formatted once, not per record
    _formatted: dict[Any, Any] = attrs.field(init=False, factory=dict, eq=False)

    def _prepare(self) -> None:
        super()._prepare()
        for option in ("catalogue", "key", "pattern"):
            if not isinstance(getattr(self, option), str) or not getattr(self, option):
                raise config_error(option, f"expected a non-empty string, found {getattr(self, option)!r}")
        if self.format is not None:
            try:
                sample = self.format.format(3)
            except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
                raise config_error(
                    "format", f"{self.format!r} is not a str.format template for one integer: {exc}"
                ) from None
            if not isinstance(sample, str):
                raise config_error("format", f"expected a string, found {self.format!r}")
        target = None if self.target is None else FieldPath.parse(self.target, "target", writable=True)
        object.__setattr__(self, "_target", target)

    def check(self) -> None:
        """For a local catalogue, check that it holds entries (an S3 one is checked by ``check --online``)."""
        if "://" not in self.catalogue:
            self._load()

    def check_online(self) -> None:
        """Read the catalogue, wherever it is."""
        self._load()

    def open(self) -> None:
        object.__setattr__(self, "_keys", self._load())

    def close(self) -> None:
        object.__setattr__(self, "_keys", None)

    def _load(self) -> frozenset[Any]:
        seen: dict[Any, str] = {}
        for path, obj in load_json_objects(self.catalogue, self.pattern, "catalogue"):
            if self.key not in obj:
                raise ConfigError(f"catalogue file {path} has no {self.key!r} field")
            k = obj[self.key]
            if isinstance(k, bool) or not isinstance(k, str | int):
                raise ConfigError(f"catalogue file {path}: {self.key} is {show_value(k)}, not a string or an integer")
            if k in seen:
                raise ConfigError(f"catalogue files {seen[k]} and {path} both have {self.key} {show_value(k)}")
            seen[k] = path
        return frozenset(seen)

    @property
    def catalogue_keys(self) -> frozenset[Any]:
        """The catalogue's keys (loading it if ``open`` was not called)."""
        keys = self._keys
        if keys is None:
            keys = self._load()
            object.__setattr__(self, "_keys", keys)
        return keys

    def _check_value(self, record: Record, value: Mapping[str, Any], item: Any) -> Record:
        keys = self._keys if self._keys is not None else self.catalogue_keys
        if self.format is not None:
            t = type(item)
            memo = self._formatted
            k = memo.get(item, MISSING) if t is str or t is int else MISSING
            if k is MISSING:
                number = _as_int(item)
                if number is None:
                    reason = f"{self.field} is {describe_value(item)}, not a canonical decimal integer"
                    return record.rejected_by(self.name, reason, "types")
                try:
                    k = self.format.format(number)
                except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
                    reason = (
                        f"{self.field} is {show_value(item)}, which cannot be formatted with {self.format!r}: {exc}"
                    )
                    return record.rejected_by(self.name, reason, "membership")
                if len(memo) < _MEMO_SIZE:
                    memo[item] = k
            found = k in keys
        else:
            k = item
            t = type(item)
            # exact types: a catalogue key "3" or 3 is not matched by 3.0 or True
            found = (t is str or t is int) and item in keys
        if not found:
            reason = f"{self.field} is {show_value(item)}: no {self.key} {show_value(k)} in catalogue {self.catalogue}"
            return record.rejected_by(self.name, reason, "membership")
        target = self._target
        if target is None:
            return record
        copy = dict(value)
        if target.key is not None:
            copy[target.key] = k
        else:
            try:
                target.set_in(copy, k)
            except ValueError as exc:
                return record.rejected_by(self.name, f"cannot set {target}: {exc}", "set")
        return record.with_value(copy)


def _as_int(item: Any) -> int | None:
    if type(item) is int:
        return item
    if type(item) is str and _CANONICAL_DECIMAL.fullmatch(item):
        try:
            return int(item)
        except ValueError:  # more than 4300 digits
            return None
    return None
