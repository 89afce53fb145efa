"""A component's options, read from its factory: one description for ``lmnh-pipes plugins TYPE``, the pipeline
file's JSON Schema and the checks of :mod:`~lmnh_pipes.config`.

A factory's options are its keyword arguments; each has a type (its annotation), a default, perhaps choices, and
one line of description. The description is the ``description`` entry of an attrs field's ``metadata``, which
:func:`option_doc` writes::

    @attrs.frozen(kw_only=True)
    class NoTestSites:
        test_sites: list[str] = attrs.field(metadata=option_doc("the sites whose records are rejected"))
        mode: Literal["strict", "lax"] = attrs.field(default="strict", metadata=option_doc("how to compare"))

Choices come from a ``Literal`` annotation, an ``attrs.validators.in_`` validator, or ``option_doc(choices=...)``
when a validator of the component's own checks them. A field that a subclass redefines (a new default) keeps the
description of the base class's field. A factory that is not an attrs class has options without descriptions.
"""

from __future__ import annotations

import collections.abc
import difflib
import inspect
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs

__all__ = [
    "ANY_CASE",
    "CHOICES",
    "DESCRIPTION",
    "NO_DEFAULT",
    "Option",
    "did_you_mean",
    "option_doc",
    "option_parameters",
    "options_of",
    "type_hints",
    "type_text",
    "value_schema",
]

#: The attrs ``metadata`` key of an option's one-line description.
DESCRIPTION: Final = "description"
#: The attrs ``metadata`` key of an option's choices, when no annotation or ``in_`` validator says them.
CHOICES: Final = "choices"
#: The attrs ``metadata`` key that says the choices may be written in any case (the component upper-cases them).
ANY_CASE: Final = "choices_any_case"


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


#: The default of a required option.
NO_DEFAULT: Final = _NoDefault()


def option_doc(description: str, *, choices: Iterable[Any] | None = None, any_case: bool = False) -> dict[str, Any]:
    """The ``metadata`` of an attrs field that is a pipeline option: its one-line description, and its choices when
    only a validator of the component's own knows them (``any_case``: also in lower or mixed case).

    >>> option_doc("where a partition without a committed position starts", choices=("earliest", "latest"))
    {'description': 'where a partition without a committed position starts', 'choices': ('earliest', 'latest')}
    """
    metadata: dict[str, Any] = {DESCRIPTION: description}
    if choices is not None:
        metadata[CHOICES] = tuple(choices)
        if any_case:
            metadata[ANY_CASE] = True
    return metadata


@attrs.frozen(kw_only=True)
class Option:
    """One option of a component: its name (as a pipeline file and a keyword argument spell it), its annotation,
    whether it must be given, its default, its choices (``any_case``: in any case too) and a line of description."""

    name: str
    hint: Any = Any
    required: bool = False
    default: Any = NO_DEFAULT
    choices: tuple[Any, ...] = ()
    any_case: bool = False
    description: str = ""

    @property
    def python_only(self) -> bool:
        """Whether only Python can give it (a callable, an object): a pipeline file has no way to write it."""
        return value_schema(self.hint) is None

    @property
    def type_text(self) -> str:
        """The type in a few words: ``an integer``, ``one of 'lines', 'jsonl'``, ``a list of strings``."""
        text = type_text(self.hint)
        if not self.choices or typing.get_origin(self.hint) is typing.Literal:
            return text
        shown = ", ".join(json.dumps(c) if not isinstance(c, str) else c for c in self.choices)
        shown += " (any case)" if self.any_case else ""
        args = typing.get_args(self.hint) if typing.get_origin(self.hint) in (typing.Union, types.UnionType) else ()
        if any(_is_sequence(a) for a in (self.hint, *args)):
            return f"{text}, each one of {shown}"
        if any(_is_mapping(a) for a in (self.hint, *args)):
            return f"{text} of values among {shown}"
        return f"{text}: one of {shown}"

    @property
    def json_default(self) -> Any:
        """The default as a JSON value; :data:`NO_DEFAULT` for a required option, or a default JSON cannot hold
        (a function, an object made by a factory)."""
        if self.required:
            return NO_DEFAULT
        try:
            return json.loads(json.dumps(self.default))
        except (TypeError, ValueError):
            return NO_DEFAULT

    def json_schema(self, variable: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The option's JSON Schema: its type and choices, description and default. With ``variable`` (the schema
        of a ``${VAR}`` reference), such a reference is valid wherever a variable can give the value (see
        :func:`value_schema`).

        Raises ValueError for a :attr:`python_only` option.
        """
        schema = value_schema(self.hint, variable, self.choices, self.any_case)
        if schema is None:
            raise ValueError(f"option {self.name!r} ({type_text(self.hint)}) cannot be written in a pipeline file")
        if self.description:
            schema = {"description": self.description, **schema}
        if self.json_default is not NO_DEFAULT:
            schema["default"] = self.json_default
        return schema


def options_of(factory: Callable[..., Any]) -> tuple[Option, ...]:
    """The options of ``factory`` (an attrs class, or any callable whose keyword arguments are its options): the
    required ones first, then the others, each class's own before those it inherits."""
    params, _ = option_parameters(factory)
    hints = type_hints(factory)
    fields = _attrs_fields(factory)
    found: list[Option] = []
    for name, param in params.items():
        field = fields.get(name)
        hint = hints.get(name, Any)
        if field is not None:
            required = field.default is attrs.NOTHING
            default = NO_DEFAULT if required else _field_default(field)
            metadata: Mapping[str, Any] = field.metadata
            description = str(metadata.get(DESCRIPTION) or _inherited_description(factory, field.name))
        else:
            required = param.default is inspect.Parameter.empty
            default = NO_DEFAULT if required else param.default
            metadata, description = {}, ""
        choices = _choices(hint, metadata, field)
        found.append(
            Option(
                name=name,
                hint=hint,
                required=required,
                default=default,
                choices=choices,
                any_case=bool(metadata.get(ANY_CASE)),
                description=description,
            )
        )
    depth = _declaration_depth(factory)
    order = {o.name: i for i, o in enumerate(found)}
    return tuple(sorted(found, key=lambda o: (not o.required, depth.get(o.name, 0), order[o.name])))


def option_parameters(factory: Callable[..., Any]) -> tuple[dict[str, inspect.Parameter], bool]:
    """The keyword options a factory takes, and whether it also takes any keyword (``**kwargs``)."""
    sig = inspect.signature(factory)
    params = {
        n: p
        for n, p in sig.parameters.items()
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return params, takes_any


def type_hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """Each option's annotation, by option name; empty when they cannot be resolved."""
    if isinstance(factory, type) and attrs.has(factory):
        try:
            attrs.resolve_types(factory)
        except Exception:
            return {}
        return {f.alias: f.type for f in attrs.fields(factory) if f.init and f.type is not None}
    target = factory.__init__ if isinstance(factory, type) else factory  # type: ignore[misc]
    try:
        return typing.get_type_hints(target)
    except Exception:
        return {}


def type_text(hint: Any) -> str:
    """A type in a few words, as messages say it: ``a string``, ``an integer``, ``one of 'a', 'b'``."""
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if hint in names:
        return names[hint]
    if hint is Any:
        return "any value"
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if _is_sequence(hint):
        item = typing.get_args(hint)[0] if typing.get_args(hint) else Any
        return f"a list of {_PLURALS[item]}" if item in _PLURALS else "a list"
    if _is_mapping(hint):
        return "a mapping"
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(type_text(a) for a in typing.get_args(hint) if a is not type(None))
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


_PLURALS: Final[dict[Any, str]] = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``did you mean 'range'?`` when one of ``choices`` is close to ``word`` (the same but for case, or a few
    letters off); else empty."""
    choices = list(choices)
    close = [c for c in choices if c.lower() == word.lower()] or difflib.get_close_matches(word, choices, 1, 0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def value_schema(
    hint: Any,
    variable: Mapping[str, Any] | None = None,
    choices: tuple[Any, ...] = (),
    any_case: bool = False,
) -> dict[str, Any] | None:
    """The JSON Schema of a value of type ``hint``, or None when a pipeline file cannot write one (a callable).

    With ``variable``, a scalar may also be a string that ``variable`` accepts (a ``${VAR}`` reference, whose
    text the option reads as YAML would), and so may an optional value (``${VAR:-}`` gives none); a list or a
    mapping cannot come from a variable, its items can. ``choices`` narrow a scalar, or the items of a list, or
    the values of a mapping.
    """
    schema = _choices_schema(hint, choices, any_case, variable) if choices else _type_schema(hint, variable)
    if schema is None or variable is None or not _variable_fits(hint) or _takes_any_string(schema):
        return schema
    return _or_variable(schema, variable)


def _variable_fits(hint: Any) -> bool:
    """Whether a ``${VAR}`` can give a value of type ``hint`` (config reads a scalar's text as YAML would)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_variable_fits(a) for a in typing.get_args(hint))
    return not (_is_sequence(hint) or _is_mapping(hint))


# A string option also takes a number, as its text (a numeric password or group id written without quotes).
_SCALARS: Final[dict[Any, str | list[str]]] = {
    str: ["string", "number"],
    int: "integer",
    float: "number",
    bool: "boolean",
}


def _type_schema(hint: Any, variable: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if hint is Any or hint is object:
        return {}
    if hint is None or hint is type(None):
        return {"type": "null"}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        arms = [_type_schema(a, variable) for a in args]
        if any(a is None for a in arms):
            return None
        return _union([a for a in arms if a is not None])
    if _is_sequence(hint):
        item = args[0] if args else Any
        items = value_schema(item, variable)
        if items is None:
            return None
        return {"type": "array", "items": items} if items else {"type": "array"}
    if _is_mapping(hint):
        value = args[1] if len(args) == 2 else Any
        values = value_schema(value, variable)
        if values is None:
            return None
        return {"type": "object", "additionalProperties": values} if values else {"type": "object"}
    return None


def _union(arms: list[dict[str, Any]]) -> dict[str, Any]:
    if any(not arm for arm in arms):
        return {}
    if all(set(arm) == {"type"} for arm in arms):
        names: list[str] = []
        for arm in arms:
            for name in arm["type"] if isinstance(arm["type"], list) else [arm["type"]]:
                if name not in names:
                    names.append(name)
        return {"type": names[0] if len(names) == 1 else names}
    return {"anyOf": [each for arm in arms for each in (arm["anyOf"] if set(arm) == {"anyOf"} else [arm])]}


def _choices_schema(
    hint: Any, choices: tuple[Any, ...], any_case: bool, variable: Mapping[str, Any] | None
) -> dict[str, Any]:
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    nullable = type(None) in args
    one: dict[str, Any] = {"enum": list(choices)}
    if any_case:
        spelled = "|".join(_any_case(str(c)) for c in choices)
        one = {"anyOf": [one, {"type": "string", "pattern": f"^(?:{spelled})$"}]}
    each = one if variable is None else _or_variable(one, variable)
    if any(_is_sequence(a) for a in args):  # the choices are those of each item
        one = {"type": "array", "items": each}
    elif any(_is_mapping(a) for a in args):  # ... or of each value
        one = {"type": "object", "additionalProperties": each}
    return _union([one, {"type": "null"}]) if nullable else one


def _any_case(text: str) -> str:
    # JSON Schema patterns have no case-insensitive flag: spell each letter as a class of both cases. Only
    # ECMA-262's syntax characters are escaped: in its unicode mode, which editors use, "\-" is an error.
    return "".join(
        f"[{c.upper()}{c.lower()}]" if c.lower() != c.upper() else ("\\" + c if c in _SYNTAX else c) for c in text
    )


_SYNTAX: Final = frozenset("^$\\.*+?()[]{}|/")


def _or_variable(schema: dict[str, Any], variable: Mapping[str, Any]) -> dict[str, Any]:
    """``schema``, or a ``${VAR}`` reference."""
    if set(schema) == {"anyOf"}:
        return {"anyOf": [*schema["anyOf"], dict(variable)]}
    return {"anyOf": [schema, dict(variable)]}


def _takes_any_string(schema: Mapping[str, Any]) -> bool:
    if not schema:
        return True
    kind = schema.get("type")
    if set(schema) == {"type"}:
        return kind == "string" or (isinstance(kind, list) and "string" in kind)
    return set(schema) == {"anyOf"} and any(_takes_any_string(arm) for arm in schema["anyOf"])


def _is_sequence(hint: Any) -> bool:
    origin = typing.get_origin(hint) or hint
    return origin in (list, tuple, set, frozenset, collections.abc.Sequence)


def _is_mapping(hint: Any) -> bool:
    origin = typing.get_origin(hint) or hint
    return origin in (dict, collections.abc.Mapping)


def _attrs_fields(factory: Callable[..., Any]) -> dict[str, attrs.Attribute[Any]]:
    if isinstance(factory, type) and attrs.has(factory):
        return {f.alias: f for f in attrs.fields(factory) if f.init}
    return {}


def _field_default(field: attrs.Attribute[Any]) -> Any:
    default: Any = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]  # attrs.Factory is a class at run time
        return NO_DEFAULT if default.takes_self else default.factory()
    return default


def _inherited_description(factory: Callable[..., Any], name: str) -> str:
    """The description of the field ``name`` in the nearest base class that describes it."""
    for base in getattr(factory, "__mro__", ())[1:]:
        if attrs.has(base):
            for field in attrs.fields(base):
                if field.name == name and field.metadata.get(DESCRIPTION):
                    return str(field.metadata[DESCRIPTION])
    return ""


def _declaration_depth(factory: Callable[..., Any]) -> dict[str, int]:
    """Option name -> how far up the class hierarchy it was first declared (0: by the class itself)."""
    depth: dict[str, int] = {}
    for i, cls in enumerate(getattr(factory, "__mro__", ())):
        if attrs.has(cls):
            for field in attrs.fields(cls):
                if field.name in inspect.get_annotations(cls):
                    depth.setdefault(field.alias, i)
    return depth


# attrs has no public classes for its validators: take them from instances.
_IN: Final[type[Any]] = type(attrs.validators.in_(()))
_AND: Final[type[Any]] = type(attrs.validators.and_())
_OPTIONAL: Final[type[Any]] = type(attrs.validators.optional(attrs.validators.in_(())))


def _choices(hint: Any, metadata: Mapping[str, Any], field: attrs.Attribute[Any] | None) -> tuple[Any, ...]:
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)
    if metadata.get(CHOICES):
        return tuple(metadata[CHOICES])
    return _validator_choices(field.validator) if field is not None else ()


def _validator_choices(validator: object) -> tuple[Any, ...]:
    """The choices of an ``attrs.validators.in_`` validator, alone or inside ``and_``/``optional``."""
    validator = typing.cast(Any, validator)
    if isinstance(validator, _IN):
        options = getattr(validator, "_original_options", validator.options)  # attrs >= 24 keeps the given order
        if isinstance(options, set | frozenset):
            return tuple(sorted(options, key=repr))
        return tuple(options) if not isinstance(options, str) else ()
    if isinstance(validator, _OPTIONAL):
        return _validator_choices(validator.validator)
    if isinstance(validator, _AND):
        for inner in validator._validators:  # no public accessor
            if found := _validator_choices(inner):
                return found
    return ()
