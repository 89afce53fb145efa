"""The JSON Schema (draft 2020-12) of a pipeline file, built from the installed components' options.

An editor that speaks yaml-language-server completes and checks a pipeline file with it. Each component mapping
is checked against the options of the type its ``type`` names (an ``if``/``then`` per type), with
``additionalProperties: false``; a ``${VAR}`` reference is valid wherever a value is, and so is a top-level
``x-`` key (it holds YAML anchors). The schema is built from the registry, so a plug-in's types are in it as
soon as the plug-in is installed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from .batching import BatchOptions
from .breaker import RejectLimit
from .config import TOP_KEYS
from .http import HttpOptions
from .options import option_parameters, options_of
from .registry import KINDS, ComponentType, Kind, Registry
from .retry import RetryPolicy

__all__ = ["DRAFT", "REFERENCE_PATTERN", "SECTIONS", "pipeline_schema", "render"]

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"

#: A string holding a ``${NAME}``, ``${NAME:-default}`` or ``${NAME:?message}`` reference, as
#: :mod:`lmnh_pipes.environ` reads them (a pattern matches anywhere in the string).
REFERENCE_PATTERN: Final = r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::[-?][^}]*)?\}"

#: The pipeline-wide option mappings: top-level key -> the class whose keyword arguments are its options.
SECTIONS: Final[dict[str, tuple[Callable[..., Any], str]]] = {
    "batch": (BatchOptions, "how records are grouped for writing"),
    "retry": (RetryPolicy, "how an outage is retried: exponential back-off with full jitter"),
    "http": (HttpOptions, "serve /metrics, /healthz and /ready on this address while running"),
    "reject_limit": (RejectLimit, "stop before writing a batch that takes the share of rejects past max_share"),
}

_VARIABLE: Final = {"$ref": "#/$defs/variable"}


def pipeline_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema of a pipeline file whose components are the types of ``registry``."""
    defs: dict[str, Any] = {
        "variable": {
            "description": "a ${VAR} reference, filled in from the environment (its text is read as the option's type)",
            "type": "string",
            "pattern": REFERENCE_PATTERN,
        }
    }
    for kind in KINDS:
        types = [t for t in registry if t.kind == kind]
        defs[kind] = _kind_schema(kind, types)
        for ctype in types:
            defs[_def_name(ctype)] = _component_schema(ctype)
    for key, (cls, description) in SECTIONS.items():
        defs[key] = {"description": description, **_options_schema(cls)}

    properties: dict[str, Any] = {
        "name": {
            "description": "names this pipeline's saved positions and its logs (default: the file's stem)",
            "type": "string",
            "minLength": 1,
        },
        "source": {"description": "where records come from", "$ref": "#/$defs/source"},
        "validators": {
            "description": "applied in order; a record that one rejects goes no further",
            "type": ["array", "null"],
            "items": {"$ref": "#/$defs/validator"},
        },
        "sink": {"description": "where accepted records go", "$ref": "#/$defs/sink"},
        "rejects": {
            "description": "where rejected records go, with their reasons and original bytes",
            "anyOf": [{"$ref": "#/$defs/sink"}, {"type": "null"}],
        },
    }
    for key in TOP_KEYS:
        if key in SECTIONS:
            properties[key] = {"anyOf": [{"$ref": f"#/$defs/{key}"}, {"type": "null"}]}
        else:
            properties.setdefault(key, {})  # a key this schema does not know yet: anything
    return {
        "$schema": DRAFT,
        "title": "lmnh-pipes pipeline file",
        "description": "A source, a chain of validators, a sink, and a sink for rejects (lmnh-pipes schema).",
        "type": "object",
        "properties": properties,
        "patternProperties": {"^x-": {"description": "anything, such as YAML anchors that components share"}},
        "additionalProperties": False,
        "required": ["source", "sink"],
        "$defs": defs,
    }


def render(schema: dict[str, Any]) -> str:
    """The schema as the file ``lmnh-pipes schema`` prints: indented JSON, ending with a newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _kind_schema(kind: Kind, types: list[ComponentType]) -> dict[str, Any]:
    names = [t.name for t in types]
    return {
        "description": f"a {kind}: a mapping whose type names a registered {kind} type",
        "type": "object",
        "properties": {
            "type": {
                "description": f"the {kind} type: one of {', '.join(names) or 'none'}",
                "anyOf": [
                    {"enum": names},
                    _VARIABLE,
                ],
            }
        },
        "required": ["type"],
        "allOf": [
            {
                "if": {"properties": {"type": {"const": t.name}}, "required": ["type"]},
                "then": {"$ref": f"#/$defs/{_pointer(_def_name(t))}"},
            }
            for t in types
        ],
    }


def _component_schema(ctype: ComponentType) -> dict[str, Any]:
    schema = _options_schema(ctype.factory)
    schema["properties"] = {"type": {"const": ctype.name}, **schema["properties"]}
    schema["required"] = ["type", *schema.get("required", [])]
    who = ctype.distribution or ctype.plugin  # no version: a shipped schema file stays the same across releases
    description = f"{who}: {ctype.summary}" if who else ctype.summary
    return {"description": description, **schema}


def _options_schema(factory: Callable[..., Any]) -> dict[str, Any]:
    """An object of ``factory``'s options: each typed and described, the required ones required, no other key
    (unless the factory takes any keyword)."""
    options = [o for o in options_of(factory) if not o.python_only]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {o.name: o.json_schema(_VARIABLE) for o in options},
    }
    required = [o.name for o in options if o.required]
    if required:
        schema["required"] = required
    _, takes_any = option_parameters(factory)
    if not takes_any:
        schema["additionalProperties"] = False
    return schema


def _def_name(ctype: ComponentType) -> str:
    return f"{ctype.kind}.{ctype.name}"


def _pointer(name: str) -> str:
    """``name`` as one step of a JSON Pointer (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")
