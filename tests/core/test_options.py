"""A component's options read from its factory: names, types, defaults, choices and descriptions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import attrs
import jsonschema
import pytest

from lmnh_pipes import BatchOptions, RetryPolicy, get_registry, option_doc, options_of
from lmnh_pipes.http import HttpOptions
from lmnh_pipes.options import NO_DEFAULT, Option, type_text, value_schema
from lmnh_pipes.registry import first_sentence

VARIABLE = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::[-?][^}]*)?\}"}


@attrs.frozen(kw_only=True)
class Base:
    name: str = attrs.field(default="base", metadata=option_doc("what a rejection carries"))
    when: dict[str, Any] | None = attrs.field(default=None, metadata=option_doc("when it applies"))


@attrs.frozen(kw_only=True)
class Widget(Base):
    """A widget. It has options."""

    name: str = "widget"  # redefined without a description: the base's is kept
    size: int = attrs.field(metadata=option_doc("how big"))
    mode: Literal["fast", "slow"] = "fast"
    colour: str = attrs.field(default="red", validator=attrs.validators.in_(["red", "green"]))
    shade: str | None = attrs.field(
        default=None, validator=attrs.validators.optional([attrs.validators.in_(("dark", "light"))])
    )
    level: str = attrs.field(default="LOW", metadata=option_doc("a level", choices=("LOW", "HIGH"), any_case=True))
    tags: list[str] = attrs.field(factory=list, metadata=option_doc("labels"))
    opening: str = attrs.field(default="09:00", alias="open")
    clock: Callable[[], float] = attrs.field(default=lambda: 0.0, metadata=option_doc("for tests"))
    _private: int = attrs.field(init=False, default=0)


def test_options_of_an_attrs_class():
    options = {o.name: o for o in options_of(Widget)}
    assert set(options) == {"name", "when", "size", "mode", "colour", "shade", "level", "tags", "open", "clock"}
    assert options["size"] == Option(name="size", hint=int, required=True, description="how big")
    assert options["name"].description == "what a rejection carries"
    assert options["name"].default == "widget"
    assert options["mode"].choices == ("fast", "slow")
    assert options["colour"].choices == ("red", "green")
    assert options["shade"].choices == ("dark", "light")
    assert (options["level"].choices, options["level"].any_case) == (("LOW", "HIGH"), True)
    assert options["tags"].default == []
    assert options["open"].default == "09:00"
    assert options["clock"].python_only
    assert not options["size"].python_only


def test_required_first_then_own_options_before_inherited():
    names = [o.name for o in options_of(Widget)]
    assert names[0] == "size"
    assert names.index("mode") < names.index("when")


def test_options_of_a_plain_function_have_no_descriptions():
    def make(path: str, count: int = 3, *, mode: Literal["a", "b"] = "a") -> object:
        return object()

    options = {o.name: o for o in options_of(make)}
    assert options["path"].required
    assert options["path"].default is NO_DEFAULT
    assert options["count"].default == 3
    assert options["mode"].choices == ("a", "b")
    assert all(o.description == "" for o in options.values())


@pytest.mark.parametrize(
    ("hint", "text"),
    [
        (str, "a string"),
        (int, "an integer"),
        (float | None, "a number"),
        (bool, "true or false"),
        (list[str], "a list of strings"),
        (list[Any], "a list"),
        (dict[str, Any], "a mapping"),
        (Literal["x", "y"], "one of 'x', 'y'"),
        (Any, "any value"),
    ],
)
def test_type_text(hint, text):
    assert type_text(hint) == text


def test_choices_are_shown_with_the_type():
    options = {o.name: o for o in options_of(Widget)}
    assert options["colour"].type_text == "a string: one of red, green"
    assert options["level"].type_text == "a string: one of LOW, HIGH (any case)"


def valid(schema: dict[str, Any], value: Any) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(value)


@pytest.mark.parametrize(
    ("hint", "good", "bad"),
    [
        (int, [3, "${N}", "${N:-5}"], [3.5, "three", True, None]),
        (float | None, [1, 1.5, None, "${RATE:-}"], ["fast", [1]]),
        (bool, [True, "${FLAG}"], ["yes", 1]),
        (str, ["text", 1234, "${X}"], [True, None, [1]]),
        (list[str], [["a", "b"], []], ["a", "${LIST}", [True]]),
        (list[str] | None, [["a"], None, "${LIST:-}"], ["a b", [None]]),
        (dict[str, int], [{"a": 1, "b": "${B}"}], [{"a": "x"}, [1], "${MAP}"]),
        (Literal["lines", "csv"], ["lines", "${FORMAT}"], ["line", 3]),
    ],
)
def test_value_schema_with_variables(hint, good, bad):
    schema = value_schema(hint, VARIABLE)
    assert schema is not None
    for value in good:
        assert valid(schema, value), (hint, value)
    for value in bad:
        assert not valid(schema, value), (hint, value)


def test_any_case_choices_take_lower_case_but_not_other_words():
    level = {o.name: o for o in options_of(Widget)}["level"]
    schema = level.json_schema(VARIABLE)
    assert schema["description"] == "a level"
    assert schema["default"] == "LOW"
    for value in ("LOW", "high", "High", "${LEVEL}"):
        assert valid(schema, value), value
    for value in ("medium", "LOWER", ""):
        assert not valid(schema, value), value


def test_a_python_only_option_has_no_schema():
    clock = {o.name: o for o in options_of(Widget)}["clock"]
    assert value_schema(clock.hint) is None
    with pytest.raises(ValueError, match="cannot be written in a pipeline file"):
        clock.json_schema()


def shipped_factories() -> list[tuple[str, Callable[..., Any]]]:
    found = [(f"{t.kind} {t.name}", t.factory) for t in get_registry() if t.distribution == "lmnh-pipes"]
    return [*found, ("batch", BatchOptions), ("retry", RetryPolicy), ("http", HttpOptions)]


@pytest.mark.parametrize(("what", "factory"), shipped_factories(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_shipped_option_has_one_line_of_description(what, factory):
    options = options_of(factory)
    assert options
    undescribed = [o.name for o in options if not o.description]
    assert undescribed == [], f"{what}: give these option_doc(...) in their attrs.field"
    assert [o.name for o in options if "\n" in o.description] == []


@pytest.mark.parametrize(
    ("doc", "sentence"),
    [
        ("One line.", "One line."),
        (
            "Reject a repeat: a record whose ``fields`` equal those\n    of a record (a stuck button). Then.",
            "Reject a repeat: a record whose ``fields`` equal those of a record (a stuck button).",
        ),
        ("Lies in ``start`` .. ``end``, both inclusive.\n\nMore.", "Lies in ``start`` .. ``end``, both inclusive."),
        ("Compressed, e.g. gzip; see 1.5 or ``a.b``. Next sentence.", "Compressed, e.g. gzip; see 1.5 or ``a.b``."),
        ("No full stop\nat the end", "No full stop at the end"),
        ("", ""),
    ],
)
def test_first_sentence_is_whole(doc, sentence):
    assert first_sentence(doc) == sentence
