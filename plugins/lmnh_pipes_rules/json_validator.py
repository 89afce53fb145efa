"""The ``json`` validator: decode the raw bytes into a JSON object, strictly."""

from __future__ import annotations

import attrs

from lmnh_pipes import DecodeError, Record, decode_object, option_doc

__all__ = ["JsonValidator"]


@attrs.frozen(kw_only=True)
class JsonValidator:
    """Decode the raw value as one UTF-8 JSON object; reject anything else, and duplicate keys.

    A record that already has a mapping value (from a ``jsonl`` or ``csv`` file source) passes unchanged.
    """

    name: str = attrs.field(default="json", metadata=option_doc("what a rejection carries as reject.validator"))

    def open(self) -> None:
        return None

    def validate(self, record: Record) -> Record:
        if record.value is not None:
            return record
        try:
            return record.with_value(decode_object(record.raw))
        except DecodeError as exc:
            return record.rejected_by(self.name, str(exc), "json")

    def close(self) -> None:
        return None
