"""Helpers for testing pipelines and plug-ins: in-memory components and contract checks.

Plug-in authors can reuse these in their own test suites::

    from lmnh_pipes.testing import ListSource, ListSink, check_validator
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from .capabilities import name_of
from .errors import EndOfInput
from .interfaces import Validator
from .records import Meta, Record

__all__ = ["ListSink", "ListSource", "check_validator"]


@attrs.define
class ListSource:
    """A source over a list of items (dicts, bytes, str or records); ``acked`` records what was acknowledged."""

    items: Sequence[Any]
    name: str = "list"
    acked: list[Record] = attrs.field(factory=list, init=False)
    _pos: int = attrs.field(default=0, init=False)
    opened: bool = attrs.field(default=False, init=False)
    closed: bool = attrs.field(default=False, init=False)

    def open(self) -> None:
        self.opened = True

    def read(self, max_records: int, timeout: float) -> Sequence[Record]:
        if self._pos >= len(self.items):
            raise EndOfInput
        chunk = self.items[self._pos : self._pos + max_records]
        out = []
        for i, item in enumerate(chunk, start=self._pos):
            rec = Record.of(item)
            out.append(Record(value=rec.value, raw=rec.raw, meta=Meta(source=self.name, topic=self.name, offset=i)))
        self._pos += len(chunk)
        return out

    def ack(self, records: Sequence[Record]) -> None:
        self.acked.extend(records)

    def close(self) -> None:
        self.closed = True


@attrs.define
class ListSink:
    """A sink that keeps what it is given in ``records``; ``fail_on`` makes the n-th write (1-based) raise."""

    records: list[Record] = attrs.field(factory=list)
    writes: int = 0
    fail_on: int | None = None
    opened: bool = attrs.field(default=False, init=False)
    closed: bool = attrs.field(default=False, init=False)

    def open(self) -> None:
        self.opened = True

    def write(self, records: Sequence[Record]) -> None:
        self.writes += 1
        if self.fail_on is not None and self.writes == self.fail_on:
            raise OSError(f"ListSink: write {self.writes} fails as asked")
        self.records.extend(records)

    def close(self) -> None:
        self.closed = True


def check_validator(validator: Validator, samples: Iterable[Any]) -> list[Record]:
    """Check the validator contract on ``samples``: it never raises, returns a Record, keeps ``raw`` and
    ``meta``, and names itself and a reason in every rejection. Returns the results; raises AssertionError."""
    results = []
    for sample in samples:
        record = Record.of(sample)
        out = validator.validate(record)
        assert isinstance(out, Record), f"{validator!r} returned {type(out).__name__}, not a Record"
        assert out.raw == record.raw, f"{validator!r} changed raw bytes"
        assert out.meta == record.meta, f"{validator!r} changed meta"
        if out.reject is not None:
            assert out.reject.validator == name_of(validator), f"rejection names {out.reject.validator!r}"
            assert out.reject.reason, f"{validator!r} rejected {sample!r} without a reason"
        results.append(out)
    return results
