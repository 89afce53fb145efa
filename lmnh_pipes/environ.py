"""``${VAR}`` interpolation and ``.env`` files.

``${VAR}`` is the variable's value; unset is an error. ``${VAR:-default}`` is the default when the variable is
unset or empty. ``${VAR:?message}`` is an error carrying ``message`` when it is unset or empty. ``$${`` is a
literal ``${``. Any other ``$`` is itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigError, Problem

__all__ = ["InterpolationError", "interpolate", "read_env_file", "read_env_file_text"]

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)(.*))?", re.DOTALL)


class InterpolationError(ValueError):
    """A ``${...}`` reference that cannot be resolved; the message says which and why."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Replace every ``${...}`` reference in ``text`` with its value from ``env``."""
    if "$" not in text:
        return text
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        out.append(text[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token == "$${":
            out.append("${")
            continue
        if m.group(1) is None:
            raise InterpolationError(f"unclosed '${{' at character {m.start() + 1}")
        body = _BODY.fullmatch(m.group(1))
        if body is None:
            raise InterpolationError(
                f"{token!r} is not a valid reference: expected ${{NAME}}, ${{NAME:-default}} or ${{NAME:?message}}"
            )
        name, op, arg = body.group(1), body.group(2), body.group(3)
        value = env.get(name)
        if op == ":-":
            out.append(value if value else arg)
        elif op == ":?":
            if not value:
                raise InterpolationError(f"${{{name}}}: {arg or 'is not set'}")
            out.append(value)
        else:
            if value is None:
                raise InterpolationError(
                    f"environment variable {name} is not set (use ${{{name}:-default}} for a default)"
                )
            out.append(value)
    out.append(text[pos:])
    return "".join(out)


_QUOTED = re.compile(r"""(["'])(.*?)\1\s*(?:#.*)?""", re.DOTALL)
_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*")


def read_env_file(path: str | Path) -> dict[str, str]:
    """Read a ``.env`` file: ``KEY=value`` lines, optional ``export``, ``#`` comments, quoted values.

    A double-quoted value understands ``\\n``, ``\\t``, ``\\"`` and ``\\\\``; a single-quoted one is literal.
    Any other line is a :class:`~lmnh_pipes.errors.ConfigError` naming the file and each such line: a variable
    silently left out would be found missing, or worse defaulted, far from its cause.
    """
    return read_env_file_text(Path(path).read_text(encoding="utf-8"), str(path))


def read_env_file_text(text: str, file: str | None = None) -> dict[str, str]:
    """Parse the text of a ``.env`` file (``file`` names it in errors); see :func:`read_env_file`."""
    result: dict[str, str] = {}
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            problems.append(_not_an_assignment(line, file, number))
            continue
        key, value = m.group(1), m.group(2)
        quoted = _QUOTED.fullmatch(value)
        if quoted is not None:
            quote, value = quoted.group(1), quoted.group(2)
            if quote == '"':
                value = (
                    value.replace("\\\\", "\0")
                    .replace("\\n", "\n")
                    .replace("\\t", "\t")
                    .replace('\\"', '"')
                    .replace("\0", "\\")
                )
        elif value[:1] in ("'", '"'):
            # An opening quote with no closing one (or text after it) would keep the quotes in the value.
            problems.append(
                Problem(
                    message=f"the value of {key} opens a quote that does not close at the end of the line",
                    file=file,
                    line=number,
                    hint="KEY=\"value\" or KEY='value', a # comment after it at most",
                )
            )
            continue
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0]
        result[key] = value
    if problems:
        raise ConfigError(problems)
    return result


def _not_an_assignment(line: str, file: str | None, number: int) -> Problem:
    # The line's text is not shown: a line without '=' may be a value, a password pasted on its own.
    name, equals, _ = line.partition("=")
    if not equals:
        message, hint = "expected KEY=value, found a line without '='", "a line is KEY=value, a # comment or blank"
    else:
        shown = repr(name.strip()) if re.fullmatch(r"[\w .-]{1,64}", name.strip()) else "the text before '='"
        message, hint = f"{shown} is not a variable name", "letters, digits and _, not starting with a digit"
    return Problem(message=message, file=file, line=number, hint=hint)
