"""What every generic rule shares: the ``when``/``unless`` conditions, the "is it decoded" check and a readable
``repr``. Values in rejection reasons are shown by :mod:`lmnh_pipes.values`.

A rule is an ``@attrs.frozen(kw_only=True, repr=False)`` subclass of :class:`Rule` that sets its ``name``
default to its type name, precomputes what it needs in ``_prepare`` and implements ``_check``. It then only
sees decoded records that its conditions select.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

import attrs

from lmnh_pipes import ConfigError, FieldPath, Record, kind_of, option_doc
from lmnh_pipes.records import MISSING

from .conditions import Condition

__all__ = ["NOT_DECODED", "FieldRule", "Rule", "canonical_name", "check_number", "config_error"]

NOT_DECODED: Final = "the value is not decoded (put a decoding validator such as 'json' first)"


def config_error(option: str, message: str) -> ConfigError:
    """A configuration error that names the option: ``end: expected HH:MM[:SS], found '25:00'``."""
    return ConfigError(f"{option}: {message}")


def canonical_name(option: str, what: str, name: Any, names: Sequence[str], aliases: Mapping[str, str]) -> str:
    """``name`` as one of ``names``, taking the other spelling in ``aliases`` too (``int`` for ``integer``); else
    a :class:`ConfigError` naming ``option``, with a "did you mean" when a known name is close."""
    if isinstance(name, str):
        if name in names:
            return name
        if name in aliases:
            return aliases[name]
        close = difflib.get_close_matches(name, [*names, *aliases], n=1, cutoff=0.6)
        if close:
            guess = aliases.get(close[0], close[0])
            raise config_error(option, f"unknown {what} {name!r} (did you mean {guess!r}?)")
    raise config_error(option, f"unknown {what} {name!r}; expected one of {', '.join(names)}")


def check_number(option: str, value: float | None) -> None:
    """Refuse NaN, infinities and booleans given for a numeric option."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise config_error(option, f"expected a number, found {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise config_error(option, f"expected a finite number, found {value!r}")


def _tidy(value: Any) -> Any:
    # YAML options typed float arrive as 0.0; show them as written (0) when integral.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


_LAST: Final = ("name", "when", "unless")


def _default(a: attrs.Attribute[Any]) -> Any:
    """An option's default value (a ``Factory`` called), or ``NOTHING`` for a required option."""
    factory = getattr(a.default, "factory", None)
    return factory() if callable(factory) else a.default


@attrs.frozen(kw_only=True, repr=False)
class Rule:
    """The base of the generic rules: ``name``, ``when`` and ``unless``, and the lifecycle no-ops.

    ``when`` and ``unless`` map dotted field paths to a value (equality, where ``true`` is not ``1`` and ``1.0``
    is not ``1``) or to a list of values (one of them). The rule applies to a record that matches every entry of
    ``when`` and not every entry of ``unless``; any other record passes unchanged. A missing field matches
    nothing.
    """

    name: str = attrs.field(
        default="rule", metadata=option_doc("what a rejection carries as reject.validator (default: the type name)")
    )
    when: dict[str, Any] | None = attrs.field(
        default=None,
        metadata=option_doc("field path -> value(s): the rule applies only to records matching every entry"),
    )
    unless: dict[str, Any] | None = attrs.field(
        default=None, metadata=option_doc("field path -> value(s): the rule skips records matching every entry")
    )
    # Precomputed from the options; never an option itself.
    _condition: Condition | None = attrs.field(init=False, default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise config_error("name", f"expected a non-empty string, found {self.name!r}")
        object.__setattr__(self, "_condition", Condition.build(self.when, self.unless))
        try:
            self._prepare()
        except ConfigError:
            raise
        except ValueError as exc:  # a parser of lmnh_pipes refused an option; its message names the option
            raise ConfigError(str(exc)) from None

    def _prepare(self) -> None:
        """Check the options and precompute what ``_check`` needs (raise ConfigError naming the option)."""

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def validate(self, record: Record) -> Record:
        """Accept (possibly with a new value) or reject ``record``; never raises for any data."""
        value = record.value
        if not isinstance(value, dict):
            if value is None:
                return record.rejected_by(self.name, NOT_DECODED, "decoded")
            if not isinstance(value, Mapping):
                return record.rejected_by(self.name, f"the value is {kind_of(value)}, not an object", "decoded")
        condition = self._condition
        if condition is not None and not condition.applies(record, value):
            return record
        return self._check(record, value)

    def _check(self, record: Record, value: Mapping[str, Any]) -> Record:
        """Apply the rule to a decoded record that the conditions select."""
        return record

    def __repr__(self) -> str:
        shown: list[str] = []
        later: dict[str, str] = {}
        for a in attrs.fields(type(self)):
            if not a.init or not a.repr:
                continue
            value = getattr(self, a.name)
            if value == _default(a):
                continue
            text = f"{a.alias}={_tidy(value)!r}"
            if a.name in _LAST:
                later[a.name] = text
            else:
                shown.append(text)
        shown += [later[n] for n in _LAST if n in later]
        return f"{type(self).__name__}({', '.join(shown)})"


@attrs.frozen(kw_only=True, repr=False)
class FieldRule(Rule):
    """A rule about one field. A missing field is rejected (rule ``missing``) unless ``optional`` is true."""

    field: str = attrs.field(metadata=option_doc("the field's dotted path"))
    optional: bool = attrs.field(default=False, metadata=option_doc("a missing field passes"))
    _path: FieldPath = attrs.field(init=False, eq=False)

    #: Whether the rule replaces the field's value (then the path must name a field of the value).
    _writes_field: ClassVar[bool] = False

    def _prepare(self) -> None:
        object.__setattr__(self, "_path", FieldPath.parse(self.field, "field", writable=self._writes_field))

    def _check(self, record: Record, value: Mapping[str, Any]) -> Record:
        path = self._path
        item = value.get(path.key, MISSING) if path.key is not None else path.resolve(record)
        if item is MISSING:
            return record if self.optional else record.rejected_by(self.name, f"{self.field} is missing", "missing")
        return self._check_value(record, value, item)

    def _check_value(self, record: Record, value: Mapping[str, Any], item: Any) -> Record:
        """Apply the rule to the field's value ``item``."""
        return record

    def _replaced(self, record: Record, value: Mapping[str, Any], item: Any) -> Record:
        """``record`` accepted, with the field set to ``item``."""
        copy = dict(value)
        path = self._path
        if path.key is not None:
            copy[path.key] = item
        else:
            path.set_in(copy, item)  # the path was read, so its parents are mappings
        return record.with_value(copy)
