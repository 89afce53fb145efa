"""Values shown in messages: JSON's spelling, a bounded length, and never an exception."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmnh_pipes import describe_value, kind_of, show_names, show_value
from lmnh_pipes.values import LIMIT


@pytest.mark.parametrize(
    ("value", "json", "python", "described"),
    [
        ("INF", '"INF"', "'INF'", '"INF" (a string)'),
        ("é", '"\\u00e9"', "'é'", '"\\u00e9" (a string)'),
        (3.0, "3.0", "3.0", "3.0 (a float)"),
        (float("nan"), "NaN", "nan", "NaN (a float)"),
        (float("-inf"), "-Infinity", "-inf", "-Infinity (a float)"),
        (True, "true", "True", "true (a boolean)"),
        (None, "null", "None", "null"),
        (-7, "-7", "-7", "-7 (an integer)"),
        ([2], "[2]", "[2]", "[2] (an array)"),
        ((1, "a"), '[1, "a"]', "(1, 'a')", '[1, "a"] (an array)'),
        ({"n": None}, '{"n": null}', "{'n': None}", '{"n": null} (an object)'),
        (OrderedDict(a=1), "OrderedDict([('a', 1)])", "OrderedDict([('a', 1)])", "OrderedDict([('a', 1)]) (an object)"),
        (datetime(2024, 7, 1, 12, tzinfo=UTC), "2024-07-01T12:00:00+00:00", "2024-07-01T12:00:00+00:00", None),
        ({1}, "{1}", "{1}", "{1} (a Python set)"),
    ],
)
def test_spellings(value: Any, json: str, python: str, described: str | None) -> None:
    assert show_value(value) == json
    assert show_value(value, python=True) == python
    assert describe_value(value) == (described or f"{json} ({kind_of(value)})")


def test_long_values_are_cut_and_huge_ones_cost_little() -> None:
    assert show_value("x" * 100) == '"' + "x" * 56 + "..."
    assert show_value(list(range(10**6))) == "[0, 1, 2, 3, 4, 5, ...]"
    assert show_value(10**5000) == "<int>"
    assert len(show_value(10**70)) == LIMIT


def test_kinds() -> None:
    assert [kind_of(v) for v in ("", 1, 1.5, False, None, {}, [], ())] == [
        "a string",
        "an integer",
        "a float",
        "a boolean",
        "null",
        "an object",
        "an array",
        "an array",
    ]
    assert kind_of(b"x") == "a Python bytes"


def test_names() -> None:
    assert show_names(["at"]) == "'at'"
    assert show_names(["at", "site"]) == "'at' and 'site'"
    assert show_names(["a", "b", 3]) == "'a', 'b' and 3"


class Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("no")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=30,
)


@given(json_values | st.just(Hostile()) | st.lists(st.just(Hostile())))
def test_any_value_is_shown_briefly_without_raising(value: Any) -> None:
    for text in (show_value(value), show_value(value, python=True)):
        assert len(text) <= LIMIT
    assert describe_value(value)
