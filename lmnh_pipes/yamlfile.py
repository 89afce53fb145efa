"""Reading a pipeline file: YAML with every key's line kept, and ``${VAR}`` interpolation.

The loader follows YAML 1.2 for numbers (``08:45`` is a string, not the sexagesimal 525 of YAML 1.1), refuses
duplicate keys, and interpolates every string scalar. An interpolated value stays text, marked
:class:`Interpolated`; an option that asks for a number or a boolean reads it as YAML would, so
``max_records: ${N:-5000}`` is the integer 5000 while ``password: ${PASSWORD}`` keeps ``0123`` as it is.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import attrs
import yaml

from .environ import InterpolationError, interpolate
from .errors import ConfigError, Problem

__all__ = ["Document", "Interpolated", "KeyPath", "format_path", "parse_document", "typed_scalar"]

KeyPath = tuple[str | int, ...]


_PLAIN_KEY = re.compile(r"[^\W\d][\w-]*")


def format_path(path: KeyPath) -> str:
    """``("validators", 2, "catalogue")`` -> ``validators[2].catalogue``; an odd key is quoted: ``source['a b']``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 integers and floats (no base 60), and without YAML 1.1's ``=`` value type, which
    SafeLoader resolves but cannot construct (a plain ``=`` is text in YAML 1.2)."""


_DROPPED_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:value")
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in _DROPPED_TAGS]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if text.startswith(("0x", "0o")):
        return int(text[2:], 16 if text[1] == "x" else 8)
    return int(text, 10)  # YAML 1.2: 010 is ten, not the octal eight of YAML 1.1


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9]+)\.[0-9]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9]+)(?:[eE][-+]?[0-9]+)"
        r"|[-+]?\.[0-9]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


@attrs.frozen
class Document:
    """A parsed pipeline file: plain data plus the line of every key path."""

    data: Any
    file: str
    lines: Mapping[KeyPath, int]

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def problem(self, path: KeyPath, message: str, hint: str = "") -> Problem:
        """A :class:`Problem` located at ``path``."""
        return Problem(message=message, file=self.file, line=self.line(path), path=format_path(path), hint=hint)


def parse_document(text: str, file: str, env: Mapping[str, str], *, only: Collection[str] | None = None) -> Document:
    """Parse and interpolate ``text``. Raises :class:`ConfigError` listing every problem found.

    With ``only``, variables are filled in under those top-level keys alone: the rest is kept as written, so that
    a command that uses part of a pipeline (``tap``) does not need the variables of the other parts."""
    try:
        loader = _Loader(text)  # checks the characters: a control character is a YAML error here
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.reader.ReaderError):
            line = text.count("\n", 0, exc.position) + 1
            what = (
                f"unacceptable character #x{exc.character:04x} at character {exc.position + 1}"
                if isinstance(exc.character, int)
                else exc.reason
            )
        what = " ".join(str(what).split())
        raise ConfigError([Problem(message=f"not valid YAML: {what}", file=file, line=line)]) from None
    lines: dict[KeyPath, int] = {}
    problems: list[Problem] = []
    if node is None:
        return Document(data=None, file=file, lines=lines)
    try:
        data = _convert(node, (), loader, env, lines, problems, file, only)
    except RecursionError:
        raise ConfigError([Problem(message="nested too deeply (a recursive alias?)", file=file)]) from None
    if problems:
        raise ConfigError(problems)
    return Document(data=data, file=file, lines=lines)


def _convert(
    node: yaml.Node,
    path: KeyPath,
    loader: _Loader,
    env: Mapping[str, str] | None,
    lines: dict[KeyPath, int],
    problems: list[Problem],
    file: str,
    only: Collection[str] | None = None,
) -> Any:
    """``node`` as plain data; ``env`` None: without interpolation. ``only``: see :func:`parse_document`."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)
        # flatten_mapping puts the merged (<<: *anchor) pairs first: a later pair overrides an earlier one, as in
        # docker compose files, but a key written twice by hand is a mistake.
        merged = len(node.value) - explicit
        result: dict[str, Any] = {}
        first_explicit: dict[str, int] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                problems.append(
                    Problem(
                        message=f"keys must be strings, found {key!r}", file=file, line=line, path=format_path(path)
                    )
                )
                continue
            child = (*path, key)
            if key in result and (index < merged or first_explicit.get(key) is None):
                del result[key]
            if key in result:
                problems.append(
                    Problem(
                        message=f"duplicate key {key!r}",
                        file=file,
                        line=line,
                        path=format_path(child),
                        hint=f"first given on line {lines[child]}",
                    )
                )
                continue
            lines[child] = line
            if index >= merged:
                first_explicit[key] = line
            inner = env if only is None or key in only else None
            result[key] = _convert(value_node, child, loader, inner, lines, problems, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), loader, env, lines, problems, file) for i, item in enumerate(node.value)]
    try:
        value = loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        # A YAML error's text goes on with its own position and a snippet, on lines of their own: the problem
        # already names the file and line, and must stay on one.
        reason = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else str(exc)
        problems.append(
            Problem(
                message=f"invalid value: {' '.join(reason.split())}",
                file=file,
                line=node.start_mark.line + 1,
                path=format_path(path),
            )
        )
        return None
    if env is not None and isinstance(value, str) and "$" in value:
        try:
            new = interpolate(value, env)
        except InterpolationError as exc:
            # A scalar behind a YAML alias is converted once per use: report it at its first use only.
            problem = Problem(message=str(exc), file=file, line=node.start_mark.line + 1, path=format_path(path))
            if not any(p.line == problem.line and p.message == problem.message for p in problems):
                problems.append(problem)
            return value
        if new != value:
            return Interpolated(new)
        return new
    return value


class Interpolated(str):
    """A string that came (in part) from a variable. It stays text (a password ``0123`` is not the number 123);
    an option that asks for a number or a boolean reads it as YAML would: see :func:`typed_scalar`."""

    __slots__ = ()


def typed_scalar(text: str) -> Any:
    """What YAML (1.2 numbers) makes of ``text`` written as a plain scalar: an int, float, bool, None or str."""
    loader = _Loader("")
    try:
        tag = loader.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
        return loader.construct_object(yaml.ScalarNode(tag, text), deep=True)
    except (yaml.YAMLError, ValueError, TypeError):
        return text
    finally:
        loader.dispose()
