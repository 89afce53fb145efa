"""The validator chain: each record through the validators in order, stopping at its first rejection."""

from __future__ import annotations

from collections.abc import Iterable

from .capabilities import name_of
from .interfaces import Validator
from .records import Record

__all__ = ["apply_validators", "validate_all"]


def validate_all(validators: Iterable[Validator], records: Iterable[Record]) -> list[Record]:
    """Pass each record through ``validators`` in order, stopping at its first rejection; the records in order.

    A record that is already rejected passes unchanged: a source may reject what it cannot parse, with a reason more
    precise than a validator's. A validator that raises is a bug, but must not lose the record: it becomes a
    rejection naming the error.
    """
    steps = [(v.validate, name_of(v)) for v in validators]
    validated: list[Record] = []
    append = validated.append
    for record in records:
        if record.reject is None:
            for validate, name in steps:
                try:
                    record = validate(record)
                except Exception as exc:
                    record = record.rejected_by(name, f"validator raised {type(exc).__name__}: {exc}", "error")
                    break
                if record.reject is not None:
                    break
        append(record)
    return validated


def apply_validators(validators: Iterable[Validator], record: Record) -> Record:
    """:func:`validate_all` for one record."""
    return validate_all(validators, (record,))[0]
