"""From a pipeline file to a built (not yet opened) :class:`~lmnh_pipes.pipeline.Pipeline`.

YAML -> ``${VAR}`` interpolation -> each component's options checked against its constructor's keyword
arguments and converted to their annotated types -> components. Every problem carries the file, the line and
the key path, and all problems are reported together.
"""

from __future__ import annotations

import collections.abc
import inspect
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs

from .batching import BatchOptions
from .breaker import RejectLimit
from .capabilities import OfflineCheck
from .conformance import conformance_problems
from .environ import read_env_file_text
from .errors import ConfigError, Problem
from .http import HttpOptions
from .interfaces import Source, Validator
from .options import did_you_mean, option_parameters, type_hints, type_text
from .pipeline import Pipeline
from .plugins import ALLOW_VARIABLE, get_registry
from .registry import KINDS, Kind, Registry
from .retry import RetryPolicy
from .values import show_value
from .yamlfile import Document, Interpolated, KeyPath, parse_document, typed_scalar

__all__ = ["Stages", "build", "build_component", "load", "load_environment", "load_stages"]

T = TypeVar("T")
TOP_KEYS = ("name", "source", "validators", "sink", "rejects", "batch", "retry", "http", "reject_limit")


def load(
    path: str | os.PathLike[str],
    *,
    env_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    checks: list[Problem] | None = None,
) -> Pipeline:
    """Read a pipeline file and build its components (nothing is opened or connected).

    Variables come from ``environ`` (default: the process environment), over ``env_file`` or else a ``.env``
    beside the pipeline file or in the working directory. Raises :class:`ConfigError` with every problem found.
    Given ``checks``, see :func:`build`.
    """
    file = Path(path)
    text = _read_text(file, "the pipeline file")
    env = load_environment(file, env_file, environ)
    doc = parse_document(text, str(path), env)
    return build(doc, registry if registry is not None else get_registry(), default_name=file.stem, checks=checks)


def load_environment(
    pipeline_file: Path,
    env_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables a pipeline file sees: the ``.env`` file's, overridden by the environment's."""
    env: dict[str, str] = {}
    if env_file is not None:
        env.update(read_env_file_text(_read_text(Path(env_file), "the env file"), str(env_file)))
    else:
        for candidate in (pipeline_file.parent / ".env", Path.cwd() / ".env"):
            if candidate.is_file():
                env.update(read_env_file_text(_read_text(candidate, "the env file"), str(candidate)))
                break
    env.update(os.environ if environ is None else environ)
    return env


def _read_text(path: Path, what: str) -> str:
    """A UTF-8 text file, or a ConfigError naming it and saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(message=f"cannot read {what}: {exc.strerror or exc}", file=str(path))]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(message=f"{what} is not UTF-8 text (byte {exc.start})", file=str(path))]) from None


def build(
    doc: Document, registry: Registry, *, default_name: str = "pipeline", checks: list[Problem] | None = None
) -> Pipeline:
    """Build a pipeline from a parsed document.

    Given a ``checks`` list (``lmnh-pipes check``), each component that was built runs its offline check
    (:class:`~lmnh_pipes.capabilities.OfflineCheck`): what they find is appended to ``checks``, or, when the
    pipeline cannot be built, raised with the other problems, so that one ``check`` reports them all.
    """
    problems: list[Problem] = []
    name = _name(doc, default_name, problems)
    data = doc.data
    origins: dict[int, Problem] = {}
    source = _required_component(doc, registry, "source", "source", problems, origins)
    sink = _required_component(doc, registry, "sink", "sink", problems, origins)
    rejects = None
    if data.get("rejects") is not None:
        rejects = build_component(doc, registry, "sink", ("rejects",), problems, origins)
    validators = _validators(doc, registry, problems, origins)
    batch = _options(doc, "batch", BatchOptions, problems)
    retry = _options(doc, "retry", RetryPolicy, problems)
    http = _options(doc, "http", HttpOptions, problems) if data.get("http") is not None else None
    reject_limit = None
    if data.get("reject_limit") is not None:
        reject_limit = _options(doc, "reject_limit", RejectLimit, problems)
    if checks is not None:
        for component in (*validators, source, sink, rejects):
            if isinstance(component, OfflineCheck):
                checks += _offline_check(component, origins[id(component)])
    if problems:
        raise ConfigError(problems + (checks or []))
    return Pipeline(
        name=name,
        source=source,
        validators=validators,
        sink=sink,
        rejects=rejects,
        batch=batch,
        retry=retry,
        http=http,
        reject_limit=reject_limit,
        origins=origins,
    )


def _offline_check(component: OfflineCheck, origin: Problem) -> list[Problem]:
    """What ``component.check()`` finds, placed at the component's line and key path (as ``Pipeline.locate``)."""
    try:
        component.check()
    except ConfigError as exc:
        found = exc.problems
    except Exception as exc:
        found = [Problem(message=f"cannot check: {type(exc).__name__}: {exc}")]
    else:
        return []
    return [p.placed_at(origin) for p in found]


@attrs.frozen(kw_only=True)
class Stages:
    """A pipeline file's source and validators, built without its sinks: what ``lmnh-pipes tap`` reads."""

    name: str
    source: Source
    validators: list[Validator]


def load_stages(
    path: str | os.PathLike[str],
    *,
    env_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> Stages:
    """Like :func:`load`, but build only the source and the validators. The other sections' variables are not
    filled in (they may be unset), and their options are not checked."""
    file = Path(path)
    text = _read_text(file, "the pipeline file")
    env = load_environment(file, env_file, environ)
    doc = parse_document(text, str(path), env, only=("name", "source", "validators"))
    registry = registry if registry is not None else get_registry()
    problems: list[Problem] = []
    name = _name(doc, file.stem, problems)
    source = _required_component(doc, registry, "source", "source", problems)
    validators = _validators(doc, registry, problems)
    if problems:
        raise ConfigError(problems)
    return Stages(name=name, source=source, validators=validators)


def _name(doc: Document, default_name: str, problems: list[Problem]) -> str:
    """The pipeline's name; problems with the top-level mapping and its keys are appended to ``problems``."""
    data = doc.data
    if not isinstance(data, dict):
        raise ConfigError([doc.problem((), f"expected a mapping with 'source' and 'sink', found {_kind(data)}")])
    for key in data:
        # x-... keys hold YAML anchors shared by several components, as in docker compose files.
        if key not in TOP_KEYS and not key.startswith("x-"):
            problems.append(doc.problem((key,), f"unknown key {key!r}", did_you_mean(key, TOP_KEYS)))
    name = _plain(data.get("name", default_name))
    if not isinstance(name, str) or not name:
        problems.append(doc.problem(("name",), f"expected a non-empty string, found {name!r}"))
        name = default_name
    return name


def _validators(
    doc: Document, registry: Registry, problems: list[Problem], origins: dict[int, Problem] | None = None
) -> list[Any]:
    validators: list[Any] = []
    raw_validators = doc.data.get("validators", [])
    if raw_validators is None:
        raw_validators = []
    if not isinstance(raw_validators, list):
        problems.append(doc.problem(("validators",), f"expected a list of validators, found {_kind(raw_validators)}"))
    else:
        for i in range(len(raw_validators)):
            v = build_component(doc, registry, "validator", ("validators", i), problems, origins)
            if v is not None:
                validators.append(v)
    return validators


def _required_component(
    doc: Document,
    registry: Registry,
    key: str,
    kind: Kind,
    problems: list[Problem],
    origins: dict[int, Problem] | None = None,
) -> Any:
    if doc.data.get(key) is None:
        problems.append(doc.problem((), f"missing required key {key!r}", f"a {kind} mapping with a 'type'"))
        return None
    return build_component(doc, registry, kind, (key,), problems, origins)


def build_component(
    doc: Document,
    registry: Registry,
    kind: Kind,
    path: KeyPath,
    problems: list[Problem],
    origins: dict[int, Problem] | None = None,
) -> Any:
    """Build the component whose mapping is at ``path``; append problems and return None when it cannot."""
    spec: Any = doc.data
    for part in path:
        spec = spec[part]
    if not isinstance(spec, dict):
        problems.append(doc.problem(path, f"expected a mapping with a 'type', found {_kind(spec)}"))
        return None
    type_name = spec.get("type")
    if type_name is None:
        problems.append(
            doc.problem(
                path, "missing required key 'type'", f"one of the {kind} types: {', '.join(registry.names(kind))}"
            )
        )
        return None
    ctype = registry.get(kind, type_name) if isinstance(type_name, str) else None
    if ctype is None:
        hint = _unknown_type_hint(registry, kind, str(type_name))
        problems.append(doc.problem((*path, "type"), f"unknown {kind} type {type_name!r}", hint))
        return None
    options = {k: v for k, v in spec.items() if k != "type"}
    kwargs, found = _convert_options(ctype.factory, options, doc, path)
    problems.extend(found)
    if found:
        return None
    try:
        component = ctype.factory(**kwargs)
    except ConfigError as exc:
        for p in exc.problems:
            where = (*path, p.path) if p.path in options else _blame(path, options, p.message)
            problems.append(doc.problem(where, _unprefixed(p.message, where), p.hint))
        return None
    except Exception as exc:
        # attrs validators raise TypeError/ValueError; a factory may raise anything (an unknown time zone is a
        # KeyError): all of it is a problem with these options, reported like the others.
        where = _blame(path, options, exc)
        message = _unprefixed(str(exc), where)
        problems.append(doc.problem(where, message if where != path else f"invalid {type_name} options: {message}"))
        return None
    refused = conformance_problems(component, kind)
    for problem in refused:
        who = f"plug-in {ctype.plugin!r}" + (f" ({ctype.distribution} {ctype.version})" if ctype.distribution else "")
        problems.append(doc.problem((*path, "type"), f"{kind} type {type_name!r} of {who} is unusable: {problem}"))
    if refused:
        return None
    if origins is not None:
        origins[id(component)] = doc.problem(path, "")
    return component


def _unknown_type_hint(registry: Registry, kind: Kind, name: str) -> str:
    """A close name; else the kind that name has, or that no installed plug-in provides it; and the allow-list
    variable when it is set, since it may be what leaves the plug-in out."""
    known = registry.names(kind)
    hint = did_you_mean(name, known)
    if not hint:
        other = [k for k in KINDS if k != kind and registry.get(k, name) is not None]
        types = f"the {kind} types are: {', '.join(known) or 'none'}"
        if other:
            hint = f"{name!r} is a {other[0]} type; {types}"
        else:
            hint = f"no {kind} type is close to it, so the plug-in that provides it may be missing; {types}"
    allowed = os.environ.get(ALLOW_VARIABLE)
    if allowed is not None:
        hint += f"{' ' if hint.endswith('?') else '; '}{ALLOW_VARIABLE}={allowed} loads only those plug-ins"
    return hint


def _unprefixed(message: str, where: KeyPath) -> str:
    """``timezone: unknown time zone`` at key path ``...timezone`` reads better without its prefix, as does
    ``tables.request: unknown key 'tabel'`` at ``...tables.request.tabel``."""
    prefix, sep, rest = message.partition(": ")
    names = {str(k) for k in where}
    if sep and prefix and " " not in prefix and all(part in names for part in prefix.split(".")):
        return rest
    return message


def _blame(path: KeyPath, options: Mapping[str, Any], exc: BaseException | str) -> KeyPath:
    """The option an error message starts with (attrs validators name their attribute first), followed down the
    dotted path the message names (``tables.request.table: ...``) as far as the options hold it; else the
    mapping."""
    text = str(exc)
    for key in options:
        if text.startswith((f"{key} ", f"'{key}'", f"{key}:", f"{key}.", f"{key}[")):
            return _deeper((*path, key), options[key], text[len(key) :])
    return path


def _deeper(path: KeyPath, value: Any, rest: str) -> KeyPath:
    """Follow the ``.name`` steps at the start of ``rest`` into ``value``; then an unknown key it names."""
    while isinstance(value, Mapping) and (step := re.match(r"\.([^.:\s\[]+)", rest)):
        found = [k for k in value if str(k) == step.group(1)]
        if not found:
            break
        path, value, rest = (*path, found[0]), value[found[0]], rest[step.end() :]
    unknown = re.match(r": unknown key '([^']+)'", rest)
    if unknown and isinstance(value, Mapping) and unknown.group(1) in value:
        path = (*path, unknown.group(1))
    return path


def _convert_options(
    factory: Callable[..., Any], options: dict[str, Any], doc: Document, path: KeyPath
) -> tuple[dict[str, Any], list[Problem]]:
    params, takes_any = option_parameters(factory)
    hints = type_hints(factory)
    problems: list[Problem] = []
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key not in params and not takes_any:
            problems.append(
                doc.problem(
                    (*path, key),
                    f"unknown option {key!r}",
                    did_you_mean(key, params) or f"options: {', '.join(params) or 'none'}",
                )
            )
            continue
        hint = hints.get(key, Any)
        if isinstance(value, Interpolated) and value == "" and type(None) in typing.get_args(hint):
            kwargs[key] = None  # ${RATE:-} is "not set" for an optional option
            continue
        try:
            kwargs[key] = _plain(_converter.structure(value, hint) if hint is not Any else value)
        except Exception as exc:
            choices = [str(a) for a in typing.get_args(hint)] if typing.get_origin(hint) is typing.Literal else []
            hint_text = (did_you_mean(value, choices) if isinstance(value, str) else "") or _first_message(exc)
            problems.append(doc.problem((*path, key), f"expected {type_text(hint)}, found {value!r}", hint_text))
    for key, param in params.items():
        if param.default is inspect.Parameter.empty and key not in options:
            problems.append(doc.problem(path, f"missing required option {key!r}"))
    return kwargs, problems


def _strict_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # a numeric password or group id written without quotes
    raise TypeError(f"expected a string, found {_kind(value)}")


def _plain(value: Any) -> Any:
    """``value`` with every :class:`Interpolated` string made a plain ``str`` (components see no marker)."""
    if isinstance(value, Interpolated):
        return str(value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return value


def _typed(value: Any) -> Any:
    # A value that came from a variable is text; where an option asks for a number or a boolean, read it as YAML.
    return typed_scalar(value) if isinstance(value, Interpolated) else value


def _strict_int(value: Any, _: type) -> int:
    value = _typed(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an integer, found {_kind(value)}")


def _strict_float(value: Any, _: type) -> float:
    value = _typed(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, found {_kind(value)}")


def _int_or_float(value: Any, _: Any) -> int | float:
    value = _typed(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected a number, found {_kind(value)}")


def _strict_bool(value: Any, _: type) -> bool:
    value = _typed(value)
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, found {_kind(value)}")


def _is_list(hint: Any) -> bool:
    return typing.get_origin(hint) in (list, tuple, set, frozenset, collections.abc.Sequence)


def _not_a_string(value: Any, hint: Any) -> Any:
    # cattrs would split "site" into ["s", "i", "t", "e"]; a list option given one string is a mistake.
    if isinstance(value, str | bytes | dict):
        raise TypeError(f"expected a list, found {_kind(value)}")
    return _list_converter.structure(value, hint)


def _scalar_converter() -> cattrs.Converter:
    """A converter with the strict scalar hooks; list items are structured by one without the list hook."""
    converter = cattrs.Converter()
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(float, _strict_float)
    converter.register_structure_hook(bool, _strict_bool)
    return converter


_list_converter = _scalar_converter()
_converter = _scalar_converter()
_converter.register_structure_hook_func(_is_list, _not_a_string)
_converter.register_structure_hook(int | float, _int_or_float)


def _is_mixed_union(hint: Any) -> bool:
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else ()
    return any(typing.get_origin(a) in (dict, list) for a in args)


def _first_arm(value: Any, hint: Any) -> Any:
    # cattrs cannot choose between dict and list arms (a column mapping or a column list): try each in turn.
    args = typing.get_args(hint)
    if value is None and type(None) in args:
        return None
    errors = []
    for arm in args:
        if arm is type(None):
            continue
        try:
            return _converter.structure(value, arm)
        except Exception as exc:
            errors.append(exc)
    raise TypeError(f"expected {type_text(hint)}, found {_kind(value)}") from errors[0] if errors else None


_converter.register_structure_hook_func(_is_mixed_union, _first_arm)
_converter.register_structure_hook(int | float | None, lambda v, t: None if v is None else _int_or_float(v, t))


def _options(doc: Document, key: str, cls: Callable[..., T], problems: list[Problem]) -> T:
    """The pipeline-wide options under ``key`` (``batch``, ``retry``, ...), or their defaults."""
    raw = doc.data.get(key)
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        problems.append(doc.problem((key,), f"expected a mapping, found {_kind(raw)}"))
        return cls()
    kwargs, found = _convert_options(cls, raw, doc, (key,))
    problems.extend(found)
    if found:
        return cls()
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        problems.append(doc.problem(_blame((key,), raw, exc), str(exc)))
        return cls()


def _kind(value: Any) -> str:
    """A value found in a pipeline file, in YAML's words: a container by its kind, a scalar shown."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({show_value(value)})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return show_value(value, python=True)


def _first_message(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        messages = cattrs.transform_error(exc)
        return messages[0] if messages else ""
    return ""
