"""The ``json`` validator: strict decoding, with the decoder's reason."""

from __future__ import annotations

from lmnh_pipes import Record
from lmnh_pipes_rules import JsonValidator


def test_the_json_validator_rejects_a_repeated_key_with_its_name() -> None:
    out = JsonValidator().validate(Record(raw=b'{"at": "x", "site": "3", "val": 1, "val": 2}'))
    assert out.reject is not None
    assert (out.reject.rule, out.reject.reason) == ("json", "duplicate key 'val'")
