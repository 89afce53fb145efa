"""The ``csv`` sink: one CSV row per record, to a local file or any smart-open URL."""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from typing import IO, Any, Final

import attrs

from lmnh_pipes import MISSING, ConfigError, Record, RunError, json_default, option_doc
from lmnh_pipes.records import compile_path

from ._paths import check_encoding, compression_mode, is_local, local_path, not_found_reason, open_binary

__all__ = ["META_COLUMNS", "REJECT_COLUMNS", "CsvSink", "cell"]

#: Compressions (by suffix) whose rows are not relied on to be durable before the file closes.
_DURABLE_ONLY_AT_CLOSE: Final = frozenset({".bz2", ".xz", ".lz4", ".zst"})

#: The default columns when the first record written has no mapping value.
META_COLUMNS: Final = ("meta.source", "meta.topic", "meta.partition", "meta.offset", "meta.key", "raw")
#: The default columns when the first record written is a rejected one (the usual ``rejects`` sink).
REJECT_COLUMNS: Final = (
    "meta.source",
    "meta.topic",
    "meta.partition",
    "meta.offset",
    "meta.key",
    "reject.validator",
    "reject.rule",
    "reject.reason",
    "raw",
)


def cell(value: Any) -> str:
    """The CSV text of one value: empty for None or MISSING, ``true``/``false``, ISO 8601 for datetimes, compact
    JSON for mappings and lists, bytes as UTF-8 text (invalid bytes as ``\\xNN`` escapes), else ``str``."""
    if value is None or value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=json_default)
    return str(value)


def _check_columns(_: Any, __: attrs.Attribute[Any], value: list[str] | None) -> None:
    if value is not None and (not value or not all(isinstance(c, str) and c for c in value)):
        raise ConfigError(f"columns must be a non-empty list of dotted paths; found {value!r}")


def _check_delimiter(_: Any, __: attrs.Attribute[Any], value: str) -> None:
    if len(value) != 1:
        raise ConfigError(f"delimiter must be one character; found {value!r}")


def _to_list(value: Sequence[str] | None) -> list[str] | None:
    return None if value is None else list(value)


@attrs.define(kw_only=True)
class CsvSink:
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

    _parts: dict[str, CsvSink] = attrs.field(factory=dict, init=False)
    _text: IO[str] | None = attrs.field(default=None, init=False)
    _file: IO[bytes] | None = attrs.field(default=None, init=False)  # the local file, for fsync
    _compressor: IO[bytes] | None = attrs.field(default=None, init=False)  # between the text and the file
    _writer: Any = attrs.field(default=None, init=False)
    _columns: list[str] | None = attrs.field(default=None, init=False)
    _needs_header: bool = attrs.field(default=True, init=False)

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

    def open(self) -> None:
        """Create (or, with ``append``, open) the file, and write the header if the columns are known."""
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
            reason = not_found_reason(exc) or (
                exc.strerror if isinstance(exc, OSError) and is_local(self.path) else None
            )
            if reason is None:
                raise
            raise ConfigError(f"cannot write {self.path!r}: {reason}") from exc
        self._writer = csv.writer(self._text, delimiter=self.delimiter, lineterminator="\r\n")
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
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = "ab" if self.append else "wb"
        file = path.open(mode)
        was_empty = file.tell() == 0  # before a compressor writes its own header
        try:
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
        """Write one row per record; for a local file, flushed and fsynced before returning."""
        if not records:
            return
        if self.split_by is not None:
            self._write_split(self.split_by, records)
            return
        if self._writer is None:
            raise RuntimeError("CsvSink.write() called before open()")
        columns = self._columns
        if columns is None:
            columns = self._columns = _default_columns(records[0])
            self._write_header(columns)
        getters = [compile_path(c) for c in columns]
        self._writer.writerows([cell(get(record)) for get in getters] for record in records)
        self._sync()

    def close(self) -> None:
        """Flush and close the file (for a URL, this completes the upload)."""
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
        groups: dict[str, list[Record]] = {}
        for record in records:
            groups.setdefault(_file_part(record.get(split_by, None)), []).append(record)
        for value, group in groups.items():
            part = self._parts.get(value)
            if part is None:
                part = attrs.evolve(self, path=self.path.replace("{}", value), split_by=None)
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


def _file_part(value: Any) -> str:
    text = "none" if value is None or value is MISSING else cell(value)
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in text).strip(".") or "_"


def _default_columns(record: Record) -> list[str]:
    if record.reject is not None:
        return list(REJECT_COLUMNS)
    if isinstance(record.value, Mapping) and record.value:
        return [str(key) for key in record.value]
    return list(META_COLUMNS)
