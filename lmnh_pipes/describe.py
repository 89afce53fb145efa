"""``lmnh-pipes plugins [TYPE]``: the component types, listed or described one at a time with their options."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from .errors import ConfigError, Problem
from .options import NO_DEFAULT, Option, did_you_mean, options_of
from .registry import ComponentType, Registry

__all__ = ["describe", "describe_types", "list_types"]


def describe_types(registry: Registry, type_name: str) -> list[dict[str, Any]]:
    """Every registered type called ``type_name`` (a source and a sink may share a name), described as JSON:
    kind, plug-in, distribution, summary and options. Raises :class:`ConfigError` for an unknown name."""
    found = [t for t in registry if t.name == type_name]
    if not found:
        names = sorted({t.name for t in registry})
        hint = did_you_mean(type_name, names) or f"known types: {', '.join(names) or 'none'}"
        raise ConfigError([Problem(message=f"unknown component type {type_name!r}", hint=hint)])
    return [_type_json(t) for t in found]


def describe(described: dict[str, Any], width: int) -> str:
    """One type described by :func:`describe_types`, as text ``width`` columns wide."""
    provider = f"plug-in {described['plugin']!r}"
    if described["distribution"]:
        provider += f" ({described['distribution']} {described['version']})"
    lines = [f"{described['kind']} {described['type']}, from {provider}"]
    lines += textwrap.wrap(described["summary"], width, break_on_hyphens=False) or ["(no description)"]
    options = described["options"]
    lines += ["", "Options:" if options else "Options: none"]
    column = min(max((len(o["name"]) for o in options), default=0) + 4, 26)
    for o in options:
        facts = [o["type"]]
        if o["python_only"]:
            facts.append("Python only")
        else:
            facts.append("required" if o["required"] else f"default {json.dumps(o['default'], ensure_ascii=False)}")
        lines.append(f"  {o['name']:<{column - 2}}  {'; '.join(facts)}".rstrip())
        for line in textwrap.wrap(o["description"], max(width - column - 2, 30), break_on_hyphens=False):
            lines.append(" " * (column + 2) + line)
    return "\n".join(lines)


def list_types(registry: Registry, width: int) -> str:
    """Every type, a row each: kind, name, distribution and version, and its summary wrapped beside them."""
    rows = [(t.kind, t.name, f"{t.distribution} {t.version}".strip(), t.summary) for t in registry]
    name_width = max((len(r[1]) for r in rows), default=4)
    provider_width = max((len(r[2]) for r in rows), default=0)
    indent = 9 + 1 + name_width + 2 + provider_width + 2
    lines = []
    for kind, name, provider, summary in rows:
        wrapped = textwrap.wrap(summary, max(width - indent, 40), break_on_hyphens=False) or [""]
        lines.append(f"{kind:<9} {name:<{name_width}}  {provider:<{provider_width}}  {wrapped[0]}".rstrip())
        lines += [" " * indent + line for line in wrapped[1:]]
    return "\n".join(lines)


def _type_json(ctype: ComponentType) -> dict[str, Any]:
    return {
        "type": ctype.name,
        "kind": ctype.kind,
        "plugin": ctype.plugin,
        "distribution": ctype.distribution,
        "version": ctype.version,
        "summary": ctype.summary,
        "options": [_option_json(o) for o in options_of(ctype.factory)],
    }


def _option_json(option: Option) -> dict[str, Any]:
    return {
        "name": option.name,
        "type": option.type_text,
        "schema": None if option.python_only else option.json_schema(),
        "required": option.required,
        "default": None if option.json_default is NO_DEFAULT else option.json_default,
        "choices": [c if isinstance(c, str | int | float | bool) or c is None else repr(c) for c in option.choices],
        "description": option.description,
        "python_only": option.python_only,
    }
