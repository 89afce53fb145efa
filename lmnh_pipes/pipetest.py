"""``lmnh-pipes test``: run a pipeline's validators and its sink's routing over a test file's cases, in memory.

For each test file (see :mod:`lmnh_pipes.testfiles`) the pipeline file is built as ``lmnh-pipes run`` builds it,
and nothing of it is opened but the validators (a catalogue is read): no broker, database or output file is
touched, and their servers need not exist. Each case has a :class:`~lmnh_pipes.capabilities.Decoding` source
decode the inputs it gives as raw bytes, opens the validators afresh (so that none remembers an earlier case),
passes its input through them in order, asks a :class:`~lmnh_pipes.capabilities.Routing` sink where each accepted
record would go and a :class:`~lmnh_pipes.capabilities.Refusing` one which it would refuse, and compares what came
out with what the case expects.

The pipeline file sees the variables that ``lmnh-pipes run`` would (a ``.env`` file, then the environment), and
over them the test file's ``env``. A variable still unset that only the ``source``, ``sink``, ``rejects`` or an
``x-`` block needs reads as the placeholder ``<NAME unset>``: those are built, never connected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Final

import attrs

from .capabilities import Decoding, Refusing, Routing, closer, opener
from .config import build, load_environment
from .errors import ConfigError, Problem
from .pipeline import Pipeline
from .records import MISSING, Record, json_default
from .registry import Registry
from .testfiles import Case, Check, Expectation, Suite, find_test_files, read_suite
from .timestamps import parse_rfc3339
from .validation import validate_all
from .values import kind_of, show_value
from .yamlfile import Document, parse_document

__all__ = ["CaseResult", "Difference", "Outcome", "Prepared", "Results", "prepare", "run_case", "run_paths", "same"]

#: The pipeline file's sections that are built but never opened: an unset variable there reads as a placeholder.
_UNOPENED: Final = ("source", "sink", "rejects")
_PLACEHOLDER: Final = "<{} unset>"
_REFERENCE: Final = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-|:\?)?")
_SHOWN: Final = 200  # characters of a text shown in a difference


@attrs.frozen(kw_only=True)
class Prepared:
    """A test file read, with its pipeline built (not opened)."""

    suite: Suite
    pipeline: Pipeline
    sink_type: str  # names the sink in a rejection by its routing, as a run names a sink's refusals


@attrs.frozen(kw_only=True)
class Difference:
    """One way a case's outcome differs from what it expects: where in the test file, and how."""

    line: int | None
    key: str  # accepted[0].site
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.key}: {self.message}"


@attrs.frozen(kw_only=True)
class Outcome:
    """What became of one input record: accepted (and where it would be written), or rejected and why."""

    input: int
    line: int | None
    record: Record
    destination: str | None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line is not None else ""
        r = self.record
        if r.reject is not None:
            return f"input {self.input}{where}: rejected by {r.reject.validator} ({r.reject.rule}): {r.reject.reason}"
        to = f", goes to {self.destination}" if self.destination is not None else ""
        # A null value says nothing of what was read: show the bytes (nothing decoded them).
        raw = f" (raw: {_show(r.raw.decode('utf-8', 'backslashreplace'))})" if r.value is None else ""
        return f"input {self.input}{where}: accepted{to}: {_short_json(r.value)}{raw}"

    def to_dict(self) -> dict[str, Any]:
        r = self.record
        out: dict[str, Any] = {"input": self.input, "line": self.line, "accepted": r.reject is None}
        if r.reject is None:
            out["destination"] = self.destination
            out["value"] = json.loads(json.dumps(r.value, default=json_default))
            if r.value is None:
                out["raw"] = r.raw.decode("utf-8", "backslashreplace")
        else:
            out["reject"] = {"validator": r.reject.validator, "rule": r.reject.rule, "reason": r.reject.reason}
            out["raw"] = r.raw.decode("utf-8", "backslashreplace")
        return out


@attrs.frozen(kw_only=True)
class CaseResult:
    """One case run: passed when nothing differs."""

    file: str
    case: str
    line: int | None
    differences: tuple[Difference, ...]
    outcomes: tuple[Outcome, ...]

    @property
    def passed(self) -> bool:
        return not self.differences

    @property
    def title(self) -> str:
        return f"{self.file}::{self.case}"

    def lines(self) -> list[str]:
        """``PASS file::case``; for a failure, also each difference and what came out of every input."""
        if self.passed:
            return [f"PASS {self.title}"]
        return [
            f"FAIL {self.title}",
            *(f"    {d}" for d in self.differences),
            "    what came out:",
            *(f"      {o}" for o in self.outcomes),
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "case": self.case,
            "line": self.line,
            "passed": self.passed,
            "differences": [attrs.asdict(d) for d in self.differences],
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


@attrs.define
class Results:
    """Every case of every test file run, and the test files that could not be run."""

    results: list[CaseResult] = attrs.field(factory=list)
    problems: list[Problem] = attrs.field(factory=list)
    files: int = 0

    @property
    def exit_code(self) -> int:
        """0 when every case passed, 1 when one failed, 2 when a test file could not be run (or there was none)."""
        if self.problems or not self.files:
            return 2
        return 0 if all(r.passed for r in self.results) else 1

    def summary(self) -> str:
        failed = sum(not r.passed for r in self.results)
        text = f"{len(self.results) - failed} passed, {failed} failed"
        if self.problems:
            bad = len({p.file for p in self.problems})
            text += f", {bad} test file{'s' if bad != 1 else ''} with errors"
        return f"{text} ({self.files} test file{'s' if self.files != 1 else ''})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": sum(r.passed for r in self.results),
            "failed": sum(not r.passed for r in self.results),
            "files": self.files,
            "cases": [r.to_dict() for r in self.results],
            "errors": [{**attrs.asdict(p), "text": str(p)} for p in self.problems],
        }


def run_paths(
    paths: Iterable[str | Path],
    registry: Registry,
    *,
    on_result: Callable[[CaseResult], None] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
) -> Results:
    """Run every case of every test file under ``paths`` (see :func:`~lmnh_pipes.testfiles.find_test_files`).

    A test file that cannot be read, or whose pipeline cannot be built or its validators opened, adds its problems
    and the others still run. ``on_result`` and ``on_problem`` see each as it comes."""
    run = Results()
    for path in find_test_files(paths):
        run.files += 1
        try:
            prepared = prepare(path, registry)
            for case in prepared.suite.cases:
                result = run_case(prepared, case)
                run.results.append(result)
                if on_result is not None:
                    on_result(result)
        except ConfigError as exc:
            run.problems += exc.problems
            for problem in exc.problems:
                if on_problem is not None:
                    on_problem(problem)
    if not run.files:
        problem = Problem(message=f"no test files (*.test.yaml) under {', '.join(str(p) for p in paths) or '.'}")
        run.problems.append(problem)
        if on_problem is not None:
            on_problem(problem)
    return run


def prepare(path: str | Path, registry: Registry, *, environ: Mapping[str, str] | None = None) -> Prepared:
    """Read the test file at ``path`` and build its pipeline (opening nothing). ``environ`` replaces the process
    environment. Raises :class:`ConfigError`: the test file, or its pipeline file, is wrong."""
    suite = read_suite(path)
    file = suite.pipeline
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(
            [suite.problem(("pipeline",), f"cannot read the pipeline file {str(file)!r}: {why}")]
        ) from None
    env = load_environment(file, None, environ)
    env.update(suite.env)
    doc, unset = _parse_pipeline(text, str(file), env)
    try:
        pipeline = build(doc, registry, default_name=file.stem)
    except ConfigError as exc:
        if not unset:
            raise
        hint = suite.problem(
            ("env",) if suite.env else ("pipeline",),
            f"variables unset in the source and sinks were read as placeholders: {', '.join(unset)}",
            "give them values under 'env:' in the test file",
        )
        raise ConfigError([*exc.problems, hint]) from None
    if not isinstance(pipeline.sink, Routing):
        # A case that expects a destination cannot be run against this sink: the test file is wrong for it.
        problems = [
            suite.problem(
                ("cases", i, "accepted", j, check.key),
                f"the sink ({type(pipeline.sink).__name__}) cannot say where a record goes: it has no destination()",
                "leave 'destination' out",
            )
            for i, case in enumerate(suite.cases)
            for j, expected in enumerate(case.accepted.records or () if case.accepted is not None else ())
            for check in expected.checks
            if check.how == "destination"
        ]
        if problems:
            raise ConfigError(problems)
    problems = [
        suite.problem(("cases", i, "input", j), f"the source cannot decode this input alone: {reason}")
        for i, case in enumerate(suite.cases)
        for j, reason in _decoded(pipeline.source, case)[1]
    ]
    if problems:
        raise ConfigError(problems)
    sink = doc.data.get("sink")
    return Prepared(suite=suite, pipeline=pipeline, sink_type=str(sink.get("type")) if isinstance(sink, dict) else "")


def _parse_pipeline(text: str, file: str, env: dict[str, str]) -> tuple[Document, list[str]]:
    """The pipeline file parsed; a variable unset in ``env`` that only the unopened sections need is given a
    placeholder. Returns the document and the placeholders' names."""
    unset = _unset_references(text, env)
    if not unset:
        return parse_document(text, file, env), []
    doc = parse_document(text, file, {**env, **{n: _PLACEHOLDER.format(n) for n in unset}})
    data = doc.data if isinstance(doc.data, dict) else {}
    elsewhere = {k: v for k, v in data.items() if k not in _UNOPENED and not k.startswith("x-")}
    # A placeholder that reached a validator (through an anchor) would change what is tested: read strictly, so
    # that the missing variable is reported where it is used.
    if _holds_any(elsewhere, [_PLACEHOLDER.format(n) for n in unset]):
        return parse_document(text, file, env), []
    return doc, unset


def _unset_references(text: str, env: Mapping[str, str]) -> list[str]:
    """The variables that ``text`` uses without a default (``${NAME}``, ``${NAME:?message}``), and that ``env``
    leaves unset (or empty, for ``:?``), leaving out any that ``text`` also uses with a default."""
    needed: set[str] = set()
    defaulted: set[str] = set()
    for m in _REFERENCE.finditer(text):
        name, op = m.group(1), m.group(2)
        if name is None:
            continue
        if op == ":-":
            defaulted.add(name)
        elif name not in env or (op == ":?" and not env[name]):
            needed.add(name)
    return sorted(needed - defaulted)


def _holds_any(value: Any, texts: list[str]) -> bool:
    if isinstance(value, str):
        return any(t in value for t in texts)
    if isinstance(value, dict):
        return any(_holds_any(v, texts) for v in value.values())
    if isinstance(value, list):
        return any(_holds_any(v, texts) for v in value)
    return False


def run_case(prepared: Prepared, case: Case) -> CaseResult:
    """Run one case: its input through the validators (opened for it, closed after), then the sink's routing.

    Raises :class:`ConfigError` if a validator cannot be opened (a missing catalogue)."""
    pipeline, suite = prepared.pipeline, prepared.suite
    with ExitStack() as stack:
        for validator in pipeline.validators:
            try:
                opener(validator)()
            except ConfigError as exc:
                raise pipeline.locate(validator, exc) from None
            except Exception as exc:
                raise pipeline.locate(validator, ConfigError(f"cannot be opened: {exc}")) from None
            stack.callback(closer(validator))
        inputs, failed = _decoded(pipeline.source, case)
        if failed:  # prepare() reports these with their key paths
            raise ConfigError(
                [Problem(message=reason, file=suite.file, line=case.input_lines[j]) for j, reason in failed]
            )
        records = validate_all(pipeline.validators, inputs)
    sink = pipeline.sink
    destinations: list[str | None] = [None] * len(records)
    for i, record in enumerate(records):
        if record.reject is None and isinstance(sink, Routing):
            try:
                destinations[i] = sink.destination(record)
            except ValueError as exc:
                records[i] = record.rejected_by(prepared.sink_type, str(exc), "write")
    if isinstance(sink, Refusing):
        # As the writer turns a RecordRejectedError into rejects: the case's accepted records as one batch.
        reasons = {id(r): reason for r, reason in sink.refusals([r for r in records if r.reject is None])}
        for i, record in enumerate(records):
            if id(record) in reasons:
                records[i], destinations[i] = record.rejected_by(prepared.sink_type, reasons[id(record)], "write"), None
    outcomes = [
        Outcome(input=i, line=case.input_lines[i], record=record, destination=destinations[i])
        for i, record in enumerate(records)
    ]
    accepted = [o for o in outcomes if o.record.reject is None]
    rejected = [o for o in outcomes if o.record.reject is not None]
    differences = [
        *_compare(case.accepted, accepted, "accepted"),
        *_compare(case.rejected, rejected, "rejected"),
    ]
    return CaseResult(
        file=suite.file, case=case.name, line=case.line, differences=tuple(differences), outcomes=tuple(outcomes)
    )


def _decoded(source: object, case: Case) -> tuple[list[Record], list[tuple[int, str]]]:
    """``case``'s inputs as the source would deliver them: those given as raw bytes through a
    :class:`Decoding` source's ``decode`` (a decoded value is left as given). Also each input it cannot decode
    alone, by its index, with the reason."""
    if not isinstance(source, Decoding):
        return list(case.inputs), []
    records, failed = [], []
    for j, record in enumerate(case.inputs):
        if record.value is not None:
            records.append(record)
            continue
        try:
            records.append(source.decode(record))
        except ValueError as exc:
            failed.append((j, str(exc)))
    return records, failed


def _compare(expectation: Expectation | None, got: list[Outcome], which: str) -> list[Difference]:
    if expectation is None:
        return []
    if expectation.count != len(got):
        n = expectation.count
        wrong = f"expected {n} {which} record{'s' if n != 1 else ''}, got {len(got)}"
        return [Difference(line=expectation.line, key=which, message=wrong)]
    differences = []
    for i, (expected, outcome) in enumerate(zip(expectation.records or (), got, strict=False)):
        for check in expected.checks:
            message = _check(check, outcome)
            if message is not None:
                differences.append(Difference(line=check.line, key=f"{which}[{i}].{check.key}", message=message))
    return differences


def _check(check: Check, outcome: Outcome) -> str | None:
    """Why ``outcome`` fails ``check``, or None."""
    if check.how == "destination":
        if outcome.destination == check.expected:
            return None
        return f"expected to go to {_show(check.expected)}, goes to {_show(outcome.destination)}"
    assert check.path is not None
    got = check.path.resolve(outcome.record)
    if check.how == "contains":
        if isinstance(got, str) and check.expected in got:
            return None
        return f"expected text containing {_show(check.expected)}, got {_show(got)}"
    if same(check.expected, got):
        return None
    kinds = got is not MISSING and kind_of(check.expected) != kind_of(got)
    return f"expected {_show(check.expected, kinds)}, got {_show(got, kinds)}"


def same(expected: Any, got: Any) -> bool:
    """Whether a field's value ``got`` is what a test file gives as ``expected``: equal, and of the same JSON kind
    (``3`` is not ``3.0`` nor ``true``). A time given as RFC 3339 text matches a datetime of the same instant and
    offset; text matches bytes that are its UTF-8; ``null`` is not a missing field."""
    if got is MISSING:
        return False
    if isinstance(got, datetime | date | time) or isinstance(expected, datetime | date | time):
        return _same_time(expected, got)
    if isinstance(got, bytes) and isinstance(expected, str):
        return got == expected.encode("utf-8")
    if isinstance(expected, dict) and isinstance(got, Mapping):
        return expected.keys() == got.keys() and all(same(v, got[k]) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(got, list | tuple):
        return len(expected) == len(got) and all(same(e, g) for e, g in zip(expected, got, strict=True))
    return bool(kind_of(expected) == kind_of(got) and expected == got)


def _same_time(expected: Any, got: Any) -> bool:
    a, b = _as_time(expected), _as_time(got)
    if a is None or b is None or type(a) is not type(b):
        return False
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b)


def _as_time(value: Any) -> datetime | date | time | None:
    if isinstance(value, datetime | date | time):
        return value
    if not isinstance(value, str):
        return None
    for parse in (parse_rfc3339, datetime.fromisoformat, date.fromisoformat, time.fromisoformat):
        try:
            return parse(value)
        except ValueError:
            continue
    return None


def _show(value: Any, kind: bool = False) -> str:
    if value is MISSING:
        return "nothing (no such field)"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        shown = text if len(text) <= _SHOWN else text[: _SHOWN - 4] + '..."'
    else:
        shown = show_value(value)
    return f"{shown} ({kind_of(value)})" if kind and value is not None else shown


def _short_json(value: Any) -> str:
    text = json.dumps(value, default=json_default, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
