"""``${VAR}`` interpolation and ``.env`` files.

``${VAR}`` is the variable's value; unset is an error. ``${VAR:-default}`` is the default when the variable is
unset or empty. ``${VAR:?message}`` is an error carrying ``message`` when it is unset or empty. ``$${`` is a
literal ``${``. Any other ``$`` is itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

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
    Lines that are not assignments are ignored, as docker compose and python-dotenv do.
    """
    return read_env_file_text(Path(path).read_text(encoding="utf-8"))


def read_env_file_text(text: str) -> dict[str, str]:
    """Parse the text of a ``.env`` file; see :func:`read_env_file`."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if m is None:
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
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0]
        result[key] = value
    return result
