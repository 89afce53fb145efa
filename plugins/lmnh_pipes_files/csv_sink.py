"""The ``csv`` sink: one CSV row per record, to a local file or any smart-open URL."""

from __future__ import annotations

import csv
import glob
import io
import logging
import os
import re
import stat
from collections.abc import Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import IO, Any, Final, Literal

import attrs

from lmnh_pipes import (
    MISSING,
    ConfigError,
    FieldPath,
    Record,
    RecordRejectedError,
    RunError,
    kind_of,
    option_doc,
    show_names,
)
from lmnh_pipes.replaying import KEPT_PATHS

from . import durable
from ._paths import (
    check_encoding,
    compression_mode,
    is_local,
    local_path,
    not_found_reason,
    open_binary,
    path_error,
    writable_problem,
)
from .cells import cell, csv_reader, csv_writer, row_maker
from .csv_replay import JOURNAL, CsvReplay, refuse_unfinished_replay
from .rejectsfile import TEMPORARY, RejectsFiles

__all__ = ["EXTRA_KEYS", "META_COLUMNS", "REJECT_COLUMNS", "CsvSink", "cell"]

log = logging.getLogger("lmnh_pipes.csv")

#: What the sink does with a key of a record's value that no column names.
EXTRA_KEYS: Final = ("warn", "ignore", "reject")
#: How many sets of left-out keys a run warns of, at most.
_MAX_WARNINGS: Final = 20

#: Compressions (by suffix) whose rows are not relied on to be durable before the file closes.
_DURABLE_ONLY_AT_CLOSE: Final = frozenset({".bz2", ".xz", ".lz4", ".zst"})

#: The default columns when the first record written has no mapping value.
META_COLUMNS: Final = ("meta.source", "meta.topic", "meta.partition", "meta.offset", "meta.key", "raw")
#: The default columns when the first record written is a rejected one (the usual ``rejects`` sink): what a replay
#: reads back, the raw bytes last.
REJECT_COLUMNS: Final = (*(path for path in KEPT_PATHS if path != "raw"), "raw")


def _check_columns(_: Any, __: attrs.Attribute[Any], value: list[str] | None) -> None:
    if value is not None and (not value or not all(isinstance(c, str) and c for c in value)):
        raise ConfigError(f"columns must be a non-empty list of dotted paths; found {value!r}")


def _check_delimiter(_: Any, __: attrs.Attribute[Any], value: str) -> None:
    if len(value) != 1:
        raise ConfigError(f"delimiter must be one character; found {value!r}")


def _check_extra_keys(_: Any, __: attrs.Attribute[Any], value: str) -> None:
    if value not in EXTRA_KEYS:
        raise ConfigError(f"extra_keys must be one of {', '.join(EXTRA_KEYS)}; found {value!r}")


@attrs.frozen
class _Coverage:
    """What a list of columns takes from a record's value."""

    columns: tuple[str, ...]
    reads_value: bool  # some column reads the value: a record without a decoded one would be an empty row
    whole: bool  # a ``raw`` or ``value`` column carries the whole record: no key is lost
    keys: frozenset[str]  # the value's top-level keys that some column names

    @classmethod
    def of(cls, columns: Sequence[str], split_by: str | None) -> _Coverage:
        fields = [FieldPath.of(c) for c in columns]
        reads = [f for f in fields if f.root == "value"]
        whole = any(f.root == "raw" or (f.root == "value" and not f.steps) for f in fields)
        keys = {f.steps[0] for f in reads if f.steps}
        if split_by is not None and (split := FieldPath.of(split_by)).parts:
            keys.add(split.parts[0])  # its value names the file
        return cls(tuple(columns), bool(reads), whole, frozenset(keys))


def _to_list(value: Sequence[str] | None) -> list[str] | None:
    return None if value is None else list(value)


@attrs.define(kw_only=True)
class CsvSink(CsvReplay):
    """Write records as CSV rows to a local file or any smart-open URL (s3://, ...); compressed by suffix.

    A local file is fsynced at every ``write``; a URL's object, and a ``.bz2``, ``.xz``, ``.lz4`` or ``.zst``
    file, is durable only at ``close``, so a ``kafka`` source holds its commits until then
    (:class:`~lmnh_pipes.delivery.BufferingSink`). Options, default columns and cell formats:
    ``docs/sinks.md``.
    """

    path: str = attrs.field(metadata=option_doc("a local path or a smart-open URL; a suffix such as .gz compresses"))
    columns: list[str] | None = attrs.field(
        default=None,
        converter=_to_list,
        validator=_check_columns,
        metadata=option_doc("each column's dotted path (default: the keys of the first record's value)"),
    )
    header: bool = attrs.field(default=True, metadata=option_doc("write a first row of the column names"))
    append: bool = attrs.field(
        default=False, metadata=option_doc("add to an existing local file rather than replace it")
    )
    delimiter: str = attrs.field(default=",", validator=_check_delimiter, metadata=option_doc("the field separator"))
    encoding: str = attrs.field(default="utf-8", validator=check_encoding, metadata=option_doc("the text encoding"))
    # May hold credentials (an S3 secret key, an HTTP password): never in a repr.
    transport_params: dict[str, Any] | None = attrs.field(
        default=None, repr=False, metadata=option_doc("handed to smart_open.open for a URL")
    )
    split_by: str | None = attrs.field(
        default=None, metadata=option_doc("one file per value of this field, put in place of {} in path")
    )
    extra_keys: Literal["warn", "ignore", "reject"] = attrs.field(
        default="warn",
        validator=_check_extra_keys,
        metadata=option_doc("what to do with a value key that no column names: warn once, ignore, or reject"),
    )

    _parts: dict[str, CsvSink] = attrs.field(factory=dict, init=False)
    _coverage: dict[tuple[str, ...], _Coverage] = attrs.field(factory=dict, init=False)
    _warned: set[frozenset[str]] = attrs.field(factory=set, init=False)  # key sets already warned of, this run
    _text: IO[str] | None = attrs.field(default=None, init=False)
    _file: IO[bytes] | None = attrs.field(default=None, init=False)  # the local file, for fsync
    _compressor: IO[bytes] | None = attrs.field(default=None, init=False)  # between the text and the file
    _writer: Any = attrs.field(default=None, init=False)
    _columns: list[str] | None = attrs.field(default=None, init=False)
    _needs_header: bool = attrs.field(default=True, init=False)
    _existing: list[str] | None = attrs.field(default=None, init=False)  # the header of the file appended to
    _store: RejectsFiles | None = attrs.field(default=None, init=False)  # the rejects files, as a replay read them

    def __attrs_post_init__(self) -> None:
        if self.append and not is_local(self.path):
            raise ConfigError(f"append works for local files only, not {self.path!r}")
        if self.split_by is not None and self.path.count("{}") != 1:
            raise ConfigError(f"with split_by, path must hold one {{}} for the value; found {self.path!r}")

    @property
    def durable_writes(self) -> bool:
        """Whether ``write`` makes its rows durable before it returns (a local, uncompressed or gzip file)."""
        # smart-open picks the compression by the suffix in any case (.BZ2 too).
        return is_local(self.path) and os.path.splitext(self.path)[1].lower() not in _DURABLE_ONLY_AT_CLOSE

    def existing_output(self, others: Sequence[object] = ()) -> str | None:
        """The first local file holding rows that opening would replace (without ``append``); a header alone is
        no row. Files that another of ``others`` writes are theirs. URLs are not looked at."""
        if self.append or not is_local(self.path):
            return None
        path = local_path(self.path)
        theirs = [o._files() for o in others if isinstance(o, CsvSink) and o is not self and is_local(o.path)]
        if self.split_by is None:
            candidates = [path]
        else:
            mine = self._files()
            found = glob.glob(glob.escape(path).replace("{}", "*"))
            candidates = sorted(p for p in found if mine.match(os.path.abspath(p)))
        for candidate in candidates:
            if any(t.match(os.path.abspath(candidate)) for t in theirs) or not os.path.isfile(candidate):
                continue
            if self._holds_rows(candidate):
                return f"{candidate} holds rows ({os.path.getsize(candidate):,} bytes)"
        return None

    def keeping_output(self) -> str:
        """How to keep an earlier run's rows."""
        return "set append: true"

    def _files(self) -> re.Pattern[str]:
        """The absolute paths this sink writes: its path, or with ``split_by`` each name a value can give."""
        path = re.escape(os.path.abspath(local_path(self.path)))
        return re.compile(path.replace(re.escape("{}"), r"[A-Za-z0-9_.\-]+") + r"\Z")

    def _holds_rows(self, path: str) -> bool:
        """Whether ``path`` holds more than a header row; a file that cannot be read counts as holding rows."""
        try:
            with open_binary(path, compression_mode("infer"), None) as handle:
                lines = sum(1 for _ in islice(handle, 2))
        except Exception:
            return True
        return lines > (1 if self.header else 0)

    def check(self) -> None:
        """For a local path, check (creating nothing) that the file could be written: not a directory, in a folder
        that exists or can be made, may be written to, and is on a file system that holds files (not /proc)."""
        if not is_local(self.path):
            return  # a URL needs a connection
        path = self.path if self.split_by is None else self.path.replace("{}", "x")
        problem = writable_problem(local_path(path))
        if problem is not None:
            raise path_error(self.path, f"cannot write {self.path!r}: {problem}")
        if self.append and self.header and self.columns is not None:
            for existing in self._appended_files():
                self._check_header(existing, self.columns)

    def _appended_files(self) -> list[str]:
        """The local files that exist already and that this sink would append to."""
        path = local_path(self.path)
        if self.split_by is None:
            return [path] if os.path.isfile(path) else []
        mine = self._files()
        found = glob.glob(glob.escape(path).replace("{}", "*"))
        ours = (p for p in found if mine.match(os.path.abspath(p)) and not p.endswith((TEMPORARY, JOURNAL)))
        return sorted(p for p in ours if os.path.isfile(p))

    def _check_header(self, path: str, columns: list[str]) -> list[str] | None:
        """The header of the existing file at ``path`` (None if it is empty); ConfigError unless it is ``columns``."""
        header = self._header_of(path)
        if header is not None and header != columns:
            raise path_error(self.path, _mismatch(path, header, columns))
        return header

    def _header_of(self, path: str) -> list[str] | None:
        """The first row of the existing file at ``path``, None if it holds none; ConfigError if it cannot be read."""
        try:
            with open_binary(path, compression_mode("infer"), None) as handle:
                text = io.TextIOWrapper(handle, encoding=self.encoding, newline="")
                try:
                    return next(csv_reader(text, self.delimiter), None)
                finally:
                    text.detach()
        except (OSError, ValueError, csv.Error) as exc:  # UnicodeDecodeError is a ValueError
            reason = f"cannot append to {path!r}: its header cannot be read ({type(exc).__name__}: {exc})"
            raise path_error(self.path, reason) from exc

    def open(self) -> None:
        """Create (or, with ``append``, open) the file, and write the header if the columns are known."""
        self._warned = set()
        if is_local(self.path):
            refuse_unfinished_replay(self.path)
        if self.split_by is not None:
            return  # one file per value, each created when its first record comes
        self._needs_header = True
        try:
            if is_local(self.path):
                self._text = self._open_local()
            else:
                import smart_open  # here: importing smart-open (and boto3) takes 0.13 s

                self._text = smart_open.open(
                    self.path,
                    "w",
                    encoding=self.encoding,
                    newline="",
                    transport_params=dict(self.transport_params or {}),
                )
        except Exception as exc:
            # Locally, any OSError when creating the file means the path is wrong (a directory, no permission).
            reason: str | None
            if isinstance(exc, OSError) and is_local(self.path):
                reason = writable_problem(local_path(self.path)) or exc.strerror or str(exc)
            else:
                reason = not_found_reason(exc)
            if reason is None:
                raise
            raise path_error(self.path, f"cannot write {self.path!r}: {reason}") from exc
        self._writer = csv_writer(self._text, self.delimiter)
        self._columns = self.columns
        if self._columns is not None:
            try:
                self._write_header(self._columns)
                self._sync()
            except BaseException:
                self.close()
                raise

    def _open_local(self) -> IO[str]:
        path = Path(local_path(self.path))
        self._existing = None
        if self.append and self.header and path.is_file() and path.stat().st_size:
            # Rows under another file's header would be read as the wrong columns: refuse before writing.
            if self.columns is not None:
                self._existing = self._check_header(str(path), self.columns)
            else:
                self._existing = self._header_of(str(path))  # compared with the first record's columns
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "ab" if self.append else "wb"
        file = path.open("ab")  # cut only once locked: a replay that rewrites the file holds it
        try:
            if not durable.lock(file, shared=True):
                raise path_error(
                    self.path, f"cannot write {self.path!r}: lmnh-pipes replay is rewriting it; run when it has ended"
                )
            if not self.append and stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                file.truncate(0)
                file.seek(0)
            was_empty = file.tell() == 0  # before a compressor writes its own header
            from smart_open import compression as so_compression

            binary = so_compression.compression_wrapper(file, mode, filename=str(path))
            text = io.TextIOWrapper(binary, encoding=self.encoding, newline="")
        except BaseException:
            file.close()
            raise
        self._needs_header = was_empty
        self._file = file
        self._compressor = binary if binary is not file else None
        return text

    def write(self, records: Sequence[Record]) -> None:
        """Write one row per record; for a local file, flushed and fsynced before returning.

        Raises :class:`~lmnh_pipes.RecordRejectedError`, having written nothing, for accepted records without a
        decoded value when a column reads the value, and (``extra_keys: reject``) for records with keys that no
        column names: they become rejects.
        """
        if not records:
            return
        if self.split_by is not None:
            self._write_split(self.split_by, records)
            return
        if self._writer is None:
            raise RuntimeError("CsvSink.write() called before open()")
        columns = self._columns
        if columns is None:
            columns = self._appending(_default_columns(records[0]))
        self._screen([(self._covering(columns), records)])
        if self._columns is None:
            self._columns = columns
            self._write_header(columns)
        self._writer.writerows(map(row_maker(columns), records))
        self._sync()

    def _appending(self, columns: list[str]) -> list[str]:
        """The columns to write under the header of the file appended to: its own order when it names the same
        columns; RunError (nothing written) when it names others."""
        existing = self._existing
        if existing is None:
            return columns
        if sorted(existing) != sorted(columns):
            raise RunError(_mismatch(local_path(self.path), existing, columns))
        return existing

    def _covering(self, columns: list[str]) -> _Coverage:
        key = tuple(columns)
        coverage = self._coverage.get(key)
        if coverage is None:
            coverage = self._coverage[key] = _Coverage.of(columns, self.split_by)
        return coverage

    def _screen(self, groups: Sequence[tuple[_Coverage, Sequence[Record]]]) -> None:
        """Refuse (all at once, before anything is written) what :meth:`_refusals` names; warn once per key set of
        lost keys under ``extra_keys: warn``."""
        refused = self._refusals(groups, warn=True)
        if refused:
            raise RecordRejectedError("csv", refused)

    def _refusals(
        self, groups: Sequence[tuple[_Coverage, Sequence[Record]]], *, warn: bool
    ) -> list[tuple[Record, str]]:
        """What would be written as an empty row, or lose keys under ``extra_keys: reject``, with the reason."""
        refused: list[tuple[Record, str]] = []
        mode = self.extra_keys
        for coverage, records in groups:
            keys, whole = coverage.keys, coverage.whole or mode == "ignore"
            for record in records:
                if record.reject is not None:
                    continue  # a reject's row keeps its raw bytes and its reason; its keys are not the columns'
                value = record.value
                if type(value) is not dict and not isinstance(value, Mapping):
                    if coverage.reads_value:
                        refused.append((record, self._undecoded(value, coverage)))
                    continue
                if whole or keys.issuperset(value):
                    continue
                extra = [k for k in value if k not in keys]
                if mode == "reject":
                    refused.append((record, f"no column in the csv sink for {_keys(extra)} ({_shown(coverage)})"))
                elif warn:
                    self._warn(extra, coverage, record)
        return refused

    def refusals(self, records: Sequence[Record]) -> list[tuple[Record, str]]:
        """The records that ``write`` would refuse if ``records`` were the run's first batch, with the reasons
        (:class:`~lmnh_pipes.capabilities.Refusing`). Opens, writes and warns of nothing."""
        if not records:
            return []
        split_by = self.split_by
        groups: list[Sequence[Record]] = [records] if split_by is None else [*_split(split_by, records).values()]
        screens = [(self._covering(self.columns or _default_columns(g[0])), g) for g in groups]
        return self._refusals(screens, warn=False)

    def _warn(self, extra: list[str], coverage: _Coverage, record: Record) -> None:
        """Say once per run which keys are left out; after ``_MAX_WARNINGS`` key sets (keys that are data, such
        as ids), say that no more will be said."""
        warned = self._warned
        if frozenset(extra) in warned or len(warned) > _MAX_WARNINGS:
            return
        warned.add(frozenset(extra))
        where = {"topic": record.meta.topic, "partition": record.meta.partition, "offset": record.meta.offset}
        if len(warned) > _MAX_WARNINGS:
            log.warning(
                "csv sink %s: more keys without a column are left out, and not reported", self.path, extra=where
            )
            return
        log.warning(
            "csv sink %s leaves out %s: no column names %s (%s). extra_keys: ignore leaves such keys out without a "
            "word; extra_keys: reject makes such records rejects",
            self.path,
            _keys(extra),
            "it" if len(extra) == 1 else "them",
            _shown(coverage),
            extra=where,
        )

    @staticmethod
    def _undecoded(value: Any, coverage: _Coverage) -> str:
        what = "the value is not decoded" if value is None else f"the value is {kind_of(value)}, not an object"
        hint = "put a decoding validator such as 'json' first"
        return f"{what}, and the csv sink's columns read it ({_shown(coverage)}); {hint}"

    def destination(self, record: Record) -> str:
        """The file ``record`` would be written to: ``path``, with ``split_by``'s value in place of ``{}``."""
        if self.split_by is None:
            return self.path
        return self.path.replace("{}", _file_part(record.get(self.split_by, None)))

    def close(self) -> None:
        """Flush and close the file (for a URL, this completes the upload); as a rejects store, unlock its files."""
        self._end_replay()
        parts, self._parts = self._parts, {}
        for part in parts.values():
            part.close()
        text, self._text = self._text, None
        file, self._file = self._file, None
        self._compressor = None
        self._writer = None
        try:
            if text is not None:
                text.close()  # also writes a compressed stream's trailer; a compressor leaves the file open
            if file is not None and not file.closed:
                file.flush()
                os.fsync(file.fileno())
        finally:
            if file is not None:
                file.close()

    def _write_split(self, split_by: str, records: Sequence[Record]) -> None:
        groups = _split(split_by, records)
        screens = []
        for value, group in groups.items():
            part = self._parts.get(value)
            columns = self.columns or (part._columns if part is not None else None) or _default_columns(group[0])
            screens.append((self._covering(columns), group))
        self._screen(screens)  # before any part writes: a refusal leaves the whole batch unwritten
        for value, group in groups.items():
            part = self._parts.get(value)
            if part is None:
                part = attrs.evolve(self, path=self.path.replace("{}", value), split_by=None, extra_keys="ignore")
                try:
                    part.open()
                except ConfigError as exc:
                    # Mid-run, not a configuration error (exit 2 says nothing was started): the run fails.
                    raise RunError(str(exc)) from exc
                self._parts[value] = part
            part.write(group)

    def _write_header(self, columns: list[str]) -> None:
        if self.header and self._needs_header:
            self._writer.writerow(columns)
        self._needs_header = False

    def _flushed(self) -> None:
        """Flush and fsync every file open (each part, with ``split_by``)."""
        for sink in (self, *self._parts.values()):
            if sink._text is not None:
                sink._sync()

    def _sync(self) -> None:
        assert self._text is not None
        self._text.flush()
        # A buffered writer's flush does not flush what it wraps, so flush each layer down to the file. gzip then
        # emits everything so far (Z_SYNC_FLUSH); bz2 and xz cannot, so their rows are durable only at close.
        layer: Any = self._compressor
        while layer is not None:
            layer.flush()
            layer = getattr(layer, "raw", None)
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())


def _mismatch(path: str, header: list[str], columns: list[str]) -> str:
    return (
        f"cannot append to {path!r}: its header is {', '.join(header) or '(empty)'}, but the sink's columns are "
        f"{', '.join(columns)}; write to another file, or give columns that match"
    )


def _keys(keys: list[str]) -> str:
    return f"key{'s' if len(keys) > 1 else ''} {show_names(keys)}"


def _shown(coverage: _Coverage) -> str:
    columns = coverage.columns
    shown = ", ".join(columns[:8]) + (f" and {len(columns) - 8} more" if len(columns) > 8 else "")
    return f"columns: {shown}"


def _file_part(value: Any) -> str:
    text = "none" if value is None or value is MISSING else cell(value)
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in text).strip(".") or "_"


def _split(split_by: str, records: Sequence[Record]) -> dict[str, list[Record]]:
    """``records`` by the part of a file name that their ``split_by`` value gives, in order."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(_file_part(record.get(split_by, None)), []).append(record)
    return groups


def _default_columns(record: Record) -> list[str]:
    if record.reject is not None:
        return list(REJECT_COLUMNS)
    if isinstance(record.value, Mapping) and record.value:
        return [str(key) for key in record.value]
    return list(META_COLUMNS)
