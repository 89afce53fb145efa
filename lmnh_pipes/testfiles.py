"""Reading a pipeline test file (``*.test.yaml``): the pipeline file it tests, and its cases.

::

    pipeline: pipeline.yaml               # relative to this file
    env: {CATALOGUE: exhibitions}         # optional: variables for the pipeline file; they win
    cases:
      - name: a rating goes to its table
        input:                            # what the source would read, in order
          - '{"at": "2024-10-21T09:21:24+01:00", "site": "3", "val": 2}'   # text: the raw bytes
          - {base64: /w==}                                                  # bytes
          - {value: '{"site": "3"}', key: kiosk-3, meta: {partition: 2, offset: 41}}
        accepted:                         # in order, each compared on the fields it lists; or a count
          - {destination: rating_interaction, site: "3", val: 2}
        rejected:                         # in order, each compared on the fields it lists; or a count
          - {validator: kiosk, rule: hours, reason: outside opening hours}

A test file is data: ``${VAR}`` in it is text, not a variable. Every problem found is a
:class:`~lmnh_pipes.errors.Problem` with the file, the line and the key path, as for a pipeline file, and all of
them are reported together in one :class:`~lmnh_pipes.errors.ConfigError`.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

import attrs

from .errors import ConfigError, Problem
from .records import FieldPath, Meta, Record
from .timestamps import parse_rfc3339
from .values import show_value
from .yamlfile import Document, KeyPath, parse_document

__all__ = ["SUFFIX", "Case", "Check", "Expectation", "Expected", "Suite", "find_test_files", "read_suite"]

#: The name ending of the files that ``lmnh-pipes test`` and the pytest plug-in collect.
SUFFIX: Final = ".test.yaml"

#: Folders never searched for test files (as pytest's ``norecursedirs``), besides those whose name starts with a dot.
_SKIPPED: Final = frozenset({"node_modules", "venv", "build", "dist", "__pycache__", "CVS", "_darcs", "{arch}"})

_TOP_KEYS: Final = ("pipeline", "env", "cases")
_CASE_KEYS: Final = ("name", "input", "accepted", "rejected")
_INPUT_KEYS: Final = ("value", "base64", "key", "meta")
_META_KEYS: Final = ("source", "topic", "partition", "offset", "key", "timestamp")
#: The keys of an expected rejected record that are not field paths: shorthands for the rejection's fields.
_REJECT_KEYS: Final = {"validator": "reject.validator", "rule": "reject.rule", "reason": "reject.reason"}
#: The key of an expected accepted record that names where the sink would write it.
DESTINATION: Final = "destination"


@attrs.frozen(kw_only=True)
class Check:
    """One field an expected record is compared on: ``key`` as written in the test file, and how.

    ``equal``: the field (``path``) holds ``expected``; ``contains``: the field is text holding ``expected``;
    ``destination``: the sink would write the record to ``expected``."""

    key: str
    expected: Any
    how: Literal["equal", "contains", "destination"]
    path: FieldPath | None
    line: int | None


@attrs.frozen(kw_only=True)
class Expected:
    """One record a case expects, compared on its checks only."""

    checks: tuple[Check, ...]
    line: int | None


@attrs.frozen(kw_only=True)
class Expectation:
    """What a case expects of its accepted (or rejected) records: these records in this order, or only a count."""

    count: int
    records: tuple[Expected, ...] | None
    line: int | None


@attrs.frozen(kw_only=True)
class Case:
    """One case: records in, and what must come out. ``None`` for an outcome the case does not check."""

    name: str
    line: int | None
    inputs: tuple[Record, ...]
    input_lines: tuple[int | None, ...]
    accepted: Expectation | None
    rejected: Expectation | None


@attrs.frozen(kw_only=True)
class Suite:
    """A test file read: ``file`` as it was named, the pipeline file it tests, its variables and cases."""

    file: str
    pipeline: Path
    env: dict[str, str]
    cases: tuple[Case, ...]
    doc: Document

    def problem(self, path: KeyPath, message: str, hint: str = "") -> Problem:
        """A problem located at ``path`` of this test file."""
        return self.doc.problem(path, message, hint)


def find_test_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The test files under ``paths``: a file given is taken whatever its name; a folder is searched for
    ``*.test.yaml`` files, in name order, leaving out folders whose name starts with a dot and the usual build and
    environment folders. A file found twice is listed once."""
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            found.setdefault(path)
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED and not d.endswith(".egg"))
            for name in sorted(files):
                if name.endswith(SUFFIX):
                    found.setdefault(Path(folder) / name)
    return list(found)


def read_suite(path: str | os.PathLike[str]) -> Suite:
    """Read and check a test file. Raises :class:`ConfigError` with every problem found."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(message=f"cannot read the test file: {exc.strerror or exc}", file=file)]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(message=f"the test file is not UTF-8 text (byte {exc.start})", file=file)]) from None
    # A test file is data: no ${VAR}. parse_document interpolates every string, and gives $${ back as ${, so
    # escaping each ${ first leaves the text as written (and the lines where they were).
    doc = parse_document(text.replace("${", "$${"), file, {})
    return _Reader(doc, Path(path)).suite()


@attrs.define
class _Reader:
    doc: Document
    path: Path
    problems: list[Problem] = attrs.field(factory=list)

    def problem(self, path: KeyPath, message: str, hint: str = "") -> None:
        self.problems.append(self.doc.problem(path, message, hint))

    def suite(self) -> Suite:
        data = _plain(self.doc.data)
        if not isinstance(data, dict):
            raise ConfigError(
                [self.doc.problem((), f"expected a mapping with 'pipeline' and 'cases', found {_kind(data)}")]
            )
        self.unknown_keys(data, (), _TOP_KEYS, allow_x=True)
        pipeline = data.get("pipeline")
        if not isinstance(pipeline, str) or not pipeline:
            where = ("pipeline",) if "pipeline" in data else ()
            found = f", found {_kind(pipeline)}" if "pipeline" in data else ""
            self.problem(where, f"expected 'pipeline': the pipeline file, relative to this file{found}")
            pipeline = ""
        env = self.env(data.get("env"))
        cases = self.cases(data.get("cases"), "cases" in data)
        if self.problems:
            raise ConfigError(self.problems)
        return Suite(file=self.doc.file, pipeline=self.path.parent / pipeline, env=env, cases=cases, doc=self.doc)

    def unknown_keys(self, mapping: dict[str, Any], path: KeyPath, known: Iterable[str], allow_x: bool = False) -> None:
        known = tuple(known)
        for key in mapping:
            if key not in known and not (allow_x and key.startswith("x-")):
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"expected {', '.join(known)}"
                self.problem((*path, key), f"unknown key {key!r}", hint)

    def env(self, env: Any) -> dict[str, str]:
        if env is None:
            return {}
        if not isinstance(env, dict):
            self.problem(("env",), f"expected a mapping of variable names to values, found {_kind(env)}")
            return {}
        out: dict[str, str] = {}
        for name, value in env.items():
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                self.problem(("env", name), f"expected text or a number, found {_kind(value)}", _quote(value))
            else:
                out[name] = str(value)
        return out

    def cases(self, cases: Any, given: bool) -> tuple[Case, ...]:
        if not isinstance(cases, list) or not cases:
            found = f", found {_kind(cases)}" if given else ""
            self.problem(("cases",) if given else (), f"expected 'cases': a list of at least one case{found}")
            return ()
        out: list[Case] = []
        names: dict[str, int | None] = {}
        for i, spec in enumerate(cases):
            path: KeyPath = ("cases", i)
            if not isinstance(spec, dict):
                self.problem(
                    path, f"expected a case: a mapping with name, input, accepted or rejected; found {_kind(spec)}"
                )
                continue
            self.unknown_keys(spec, path, _CASE_KEYS)
            name = spec.get("name")
            if "name" not in spec:
                self.problem(path, "expected 'name': a case needs a name")
                name = f"cases[{i}]"
            elif not isinstance(name, str) or not name.strip():
                self.problem((*path, "name"), f"expected the case's name as text, found {_kind(name)}", _quote(name))
                name = f"cases[{i}]"
            elif name in names:
                self.problem((*path, "name"), f"two cases are named {name!r}", f"the other is on line {names[name]}")
            names.setdefault(name, self.doc.line((*path, "name")))
            inputs, lines = self.inputs(spec.get("input"), path, "input" in spec)
            if "accepted" not in spec and "rejected" not in spec:
                self.problem(path, "a case needs 'accepted' or 'rejected' (or both): what must come out")
            accepted = self.expectation(spec, path, "accepted")
            rejected = self.expectation(spec, path, "rejected")
            out.append(
                Case(
                    name=name,
                    line=self.doc.line(path),
                    inputs=inputs,
                    input_lines=lines,
                    accepted=accepted,
                    rejected=rejected,
                )
            )
        return tuple(out)

    def inputs(self, items: Any, path: KeyPath, given: bool) -> tuple[tuple[Record, ...], tuple[int | None, ...]]:
        where = (*path, "input")
        if not isinstance(items, list) or not items:
            found = f", found {_kind(items)}" if given else ""
            self.problem(where if given else path, f"expected 'input': a list of at least one record{found}")
            return (), ()
        records = []
        for i, item in enumerate(items):
            record = self.record(item, (*where, i), offset=i)
            if record is not None:
                records.append(record)
        return tuple(records), tuple(self.doc.line((*where, i)) for i in range(len(items)))

    def record(self, item: Any, path: KeyPath, offset: int) -> Record | None:
        if isinstance(item, str):
            return Record(raw=item.encode("utf-8"), meta=Meta(offset=offset))
        if not isinstance(item, dict):
            self.problem(
                path, f"expected text, {{base64: ...}} or {{value: ..., key: ..., meta: ...}}; found {_kind(item)}"
            )
            return None
        self.unknown_keys(item, path, _INPUT_KEYS)
        if ("value" in item) == ("base64" in item):
            self.problem(path, "give exactly one of 'value' (text or a mapping) and 'base64' (bytes)")
            return None
        meta = self.meta(item, path, offset)
        if "base64" in item:
            raw = self.base64(item["base64"], (*path, "base64"))
            return None if raw is None or meta is None else Record(raw=raw, meta=meta)
        value = item["value"]
        if isinstance(value, str):
            return None if meta is None else Record(raw=value.encode("utf-8"), meta=meta)
        if isinstance(value, dict):
            # A decoded value, as a source that decodes (jsonl, a table's rows) gives it; its raw is its JSON.
            return None if meta is None else Record.of(value, **attrs.asdict(meta, recurse=False))
        self.problem(
            (*path, "value"), f"expected text (the raw bytes) or a mapping (a decoded value), found {_kind(value)}"
        )
        return None

    def base64(self, text: Any, path: KeyPath) -> bytes | None:
        if isinstance(text, str):
            try:
                return base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as exc:
                self.problem(path, f"not valid base64: {exc}")
                return None
        self.problem(path, f"expected base64 text, found {_kind(text)}")
        return None

    def meta(self, item: dict[str, Any], path: KeyPath, offset: int) -> Meta | None:
        given = item.get("meta", {})
        if not isinstance(given, dict):
            self.problem((*path, "meta"), f"expected a mapping of {', '.join(_META_KEYS)}; found {_kind(given)}")
            return None
        self.unknown_keys(given, (*path, "meta"), _META_KEYS)
        fields: dict[str, Any] = {"offset": offset, **given}
        if "key" in item:
            if "key" in given:
                self.problem((*path, "key"), "the key is given twice: here and in meta")
            fields["key"] = item["key"]
        ok = True
        for name, want in (("source", str), ("topic", str), ("partition", int), ("offset", int)):
            value = fields.get(name)
            if value is not None and (not isinstance(value, want) or isinstance(value, bool)):
                where = (*path, "meta", name) if name in given else path
                self.problem(where, f"expected {'text' if want is str else 'an integer'}, found {_kind(value)}")
                ok = False
        key = fields.get("key")
        if isinstance(key, dict) and set(key) == {"base64"}:
            fields["key"] = self.base64(key["base64"], (*path, "key", "base64"))
            ok = ok and fields["key"] is not None
        elif key is not None and not isinstance(key, str):
            where = (*path, "key") if "key" in item else (*path, "meta", "key")
            self.problem(where, f"expected text or {{base64: ...}}, found {_kind(key)}")
            ok = False
        stamp = fields.get("timestamp")
        if isinstance(stamp, str):
            try:
                fields["timestamp"] = parse_rfc3339(stamp)
            except ValueError as exc:
                self.problem((*path, "meta", "timestamp"), str(exc))
                ok = False
        elif stamp is not None and not (isinstance(stamp, datetime) and stamp.tzinfo is not None):
            self.problem(
                (*path, "meta", "timestamp"), f"expected an RFC 3339 time with an offset, found {_kind(stamp)}"
            )
            ok = False
        return Meta(**fields) if ok else None

    def expectation(self, spec: dict[str, Any], path: KeyPath, which: str) -> Expectation | None:
        if which not in spec:
            return None
        given, where = spec[which], (*path, which)
        line = self.doc.line(where)
        if isinstance(given, int) and not isinstance(given, bool) and given >= 0:
            return Expectation(count=given, records=None, line=line)
        if not isinstance(given, list):
            self.problem(where, f"expected a list of records, or how many; found {_kind(given)}")
            return None
        records = []
        for i, entry in enumerate(given):
            expected = self.expected(entry, (*where, i), rejected=which == "rejected")
            if expected is not None:
                records.append(expected)
        return Expectation(count=len(given), records=tuple(records), line=line)

    def expected(self, entry: Any, path: KeyPath, *, rejected: bool) -> Expected | None:
        if not isinstance(entry, dict):
            self.problem(path, f"expected a mapping of fields to their values, found {_kind(entry)}")
            return None
        checks = []
        for key, value in entry.items():
            where = (*path, key)
            line = self.doc.line(where)
            if not rejected and key == DESTINATION:
                if not isinstance(value, str):
                    self.problem(where, f"expected the table or file's name, found {_kind(value)}")
                    continue
                checks.append(Check(key=key, expected=value, how="destination", path=None, line=line))
                continue
            if rejected and key == "reason" and not isinstance(value, str):
                self.problem(where, f"expected text that the reason contains, found {_kind(value)}")
                continue
            try:
                field = FieldPath.parse(_REJECT_KEYS.get(key, key) if rejected else key, key)
            except ConfigError as exc:
                self.problem(where, exc.problems[0].message.removeprefix(f"{key}: "))
                continue
            how: Literal["equal", "contains"] = "contains" if rejected and key == "reason" else "equal"
            checks.append(Check(key=key, expected=value, how=how, path=field, line=line))
        return Expected(checks=tuple(checks), line=self.doc.line(path))


def _plain(value: Any) -> Any:
    """``value`` with its strings as plain ``str`` (parse_document marks a string it changed)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k).replace("$${", "${"): _plain(v) for k, v in value.items()}  # keys are not interpolated
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _quote(value: Any) -> str:
    """A hint for a boolean where text was meant: YAML reads a bare yes, no, on or off as one."""
    return "yes, no, on and off are booleans in YAML: quote the text" if isinstance(value, bool) else ""


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return show_value(value, python=True)
