"""Validators that ship with lmnh-pipes: ``json`` and the generic rules.

Registered through the ``lmnh_pipes`` entry point ``rules``, like any third-party plug-in. Every rule is a
small frozen class whose keyword arguments are its pipeline options, usable on its own in a notebook::

    from lmnh_pipes import Record
    from lmnh_pipes_rules import Range
    Range(field="val", min=0, max=4).validate(Record.of({"val": 5})).reject
"""

from __future__ import annotations

from lmnh_pipes import Registry, hookimpl

from .base import FieldRule, Rule
from .cast import Cast
from .conditions import Condition, Membership
from .json_validator import JsonValidator
from .membership import InCatalogue
from .rules import Keys, OneOf, Pattern, Range, SetFields, Types
from .timerules import Debounce, NotFuture, Timestamp, TimeWindow

__all__ = [
    "RULES",
    "Cast",
    "Condition",
    "Debounce",
    "FieldRule",
    "InCatalogue",
    "JsonValidator",
    "Keys",
    "Membership",
    "NotFuture",
    "OneOf",
    "Pattern",
    "Range",
    "Rule",
    "SetFields",
    "TimeWindow",
    "Timestamp",
    "Types",
    "lmnh_pipes_register",
]

#: The generic rule validators by their type name in a pipeline file.
RULES: dict[str, type[Rule]] = {
    "keys": Keys,
    "types": Types,
    "range": Range,
    "one_of": OneOf,
    "pattern": Pattern,
    "in_catalogue": InCatalogue,
    "timestamp": Timestamp,
    "time_window": TimeWindow,
    "not_future": NotFuture,
    "cast": Cast,
    "set": SetFields,
    "debounce": Debounce,
}


@hookimpl
def lmnh_pipes_register(registry: Registry) -> None:
    """Register the ``json`` validator and the generic rule validators."""
    registry.add_validator("json", JsonValidator)
    for type_name, rule in RULES.items():
        registry.add_validator(type_name, rule)
