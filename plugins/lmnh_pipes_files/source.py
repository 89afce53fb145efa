"""The ``file`` source: records from local files, globs, S3 objects or HTTP(S) URLs, through smart-open."""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from itertools import islice
from typing import IO, Any, Final, Literal

import attrs

from lmnh_pipes import ConfigError, EndOfInput, Problem, Record, option_doc

from ._paths import check_encoding, compression_mode, is_local, not_found_reason, open_binary, path_error, resolve
from ._readers import READERS, MalformedCsvError, _decoded, csv_header

__all__ = ["FORMATS", "FileSource", "Format"]

Format = Literal["lines", "jsonl", "csv", "json"]
FORMATS: Final = ("lines", "jsonl", "csv", "json")


def _check_format(_: Any, __: attrs.Attribute[Any], value: str) -> None:
    if value not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}; found {value!r}")


def _check_delimiter(_: Any, __: attrs.Attribute[Any], value: str) -> None:
    if len(value) != 1:
        raise ConfigError(f"delimiter must be one character; found {value!r}")


def _check_compression(_: Any, __: attrs.Attribute[Any], value: str) -> None:
    compression_mode(value)


@attrs.define(kw_only=True)
class FileSource:
    """Read records from files: a local path or glob, s3:// or http(s):// URLs; compressed by suffix.

    ``format`` cuts a file into records: ``lines``, ``jsonl``, ``csv`` or ``json``. A line, row or element that
    does not decode still makes a record, rejected by the source (``reject.validator`` ``file``) with the reason
    and its bytes. Every option, and each format's rules: ``docs/sources.md``.
    """

    path: str = attrs.field(metadata=option_doc("what to read: a local path or glob, an s3:// object or glob, a URL"))
    format: Format = attrs.field(
        default="lines", validator=_check_format, metadata=option_doc("how a file is cut into records")
    )
    encoding: str = attrs.field(
        default="utf-8", validator=check_encoding, metadata=option_doc("the text encoding of a csv file")
    )
    delimiter: str = attrs.field(
        default=",", validator=_check_delimiter, metadata=option_doc("the field separator of a csv file")
    )
    compression: str = attrs.field(
        default="infer",
        validator=_check_compression,
        metadata=option_doc("infer (from the suffix), none, or a suffix such as gz that forces one"),
    )
    # May hold credentials (an S3 secret key, an HTTP password): never in a repr.
    transport_params: dict[str, Any] | None = attrs.field(
        default=None, repr=False, metadata=option_doc("handed to smart_open.open unchanged (S3 client_kwargs, ...)")
    )

    _files: list[str] = attrs.field(factory=list, init=False)
    _handle: IO[bytes] | None = attrs.field(default=None, init=False)
    _records: Generator[Record, None, None] | None = attrs.field(default=None, init=False)
    # For fraction_done: each local file's size, the index of the file being read, and the last answer.
    _sizes: list[int] | None = attrs.field(default=None, init=False)
    _index: int = attrs.field(default=0, init=False)
    _fraction: float | None = attrs.field(default=None, init=False)

    def check(self) -> None:
        """For a local path or glob, check that there is something to read (URLs need a connection: --online),
        and for ``csv`` that each file's header is one: text, each name once, quoted properly."""
        if is_local(self.path):
            problems: list[Problem] = []
            for path in resolve(self.path, self.transport_params):
                if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
                    continue  # a pipe or a device: opening it could wait for a writer
                with self._open(path) as handle:  # refused as open refuses it: missing, a directory, no permission
                    if self.format == "csv":
                        try:
                            csv_header(handle, path, self.encoding, self.delimiter)
                        except MalformedCsvError as exc:
                            problems.append(Problem(message=str(exc), path="path"))
            if problems:
                raise ConfigError(problems)

    def open(self) -> None:
        """Resolve the glob and open the first file. Raises ConfigError when there is nothing to read."""
        self._files = resolve(self.path, self.transport_params)
        self._handle = self._open(self._files[0])
        self._records = self._iter_records()
        self._sizes, self._fraction = _local_sizes(self._files) if is_local(self.path) else None, None

    def read(self, max_records: int, timeout: float) -> Sequence[Record]:
        """The next ``max_records`` records (fewer at the end); EndOfInput once the last file is done."""
        if self._records is None:
            raise EndOfInput
        batch = list(islice(self._records, max_records))
        if not batch:
            self._finish()
            raise EndOfInput
        return batch

    def ack(self, records: Sequence[Record]) -> None:
        """Nothing to do: a file source keeps no position."""
        return

    def close(self) -> None:
        """Close the file being read."""
        self._finish()

    def fraction_done(self) -> float | None:
        """Bytes read over the bytes of every file (compressed bytes for a compressed file); local files only."""
        handle, sizes = self._handle, self._sizes
        if handle is None or not sizes or not sum(sizes):
            return self._fraction  # between files, or closed: the last answer
        try:
            # The file's own offset, under any decompression; a closed handle raises one of these.
            position = os.lseek(handle.fileno(), 0, os.SEEK_CUR)
        except (OSError, ValueError, AttributeError):
            return self._fraction
        self._fraction = min(1.0, (sum(sizes[: self._index]) + position) / sum(sizes))
        return self._fraction

    def decode(self, record: Record) -> Record:
        """``record``'s raw bytes as this source would deliver them (:class:`~lmnh_pipes.capabilities.Decoding`):
        decoded as one strict JSON object for ``jsonl`` and ``json``, or rejected by ``file`` with the reason;
        unchanged for ``lines``. Raises ValueError for ``csv``: a row is decoded by its file's header."""
        if self.format == "csv":
            raise ValueError("a csv row is decoded by its file's header: give it as a value, {value: {column: text}}")
        if self.format == "lines":
            return record
        return _decoded(record.raw, record.meta)

    def check_online(self) -> None:
        """Check that the path exists and can be opened (``lmnh-pipes check --online``)."""
        try:
            self.open()
        finally:
            self.close()

    def _finish(self) -> None:
        records, self._records = self._records, None
        if records is not None:
            records.close()  # runs the generator's ``finally``, which closes its file
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    def _open(self, path: str) -> IO[bytes]:
        try:
            return open_binary(path, compression_mode(self.compression), self.transport_params)
        except Exception as exc:
            reason = not_found_reason(exc)
            if reason is None:
                raise
            raise path_error(path, f"cannot read {path!r}: {reason}") from exc

    def _iter_records(self) -> Generator[Record, None, None]:
        reader = READERS[self.format]
        for index, path in enumerate(self._files):
            self._index = index
            # A later file of a glob that vanished since ``open`` is a failure of the run, not of its configuration.
            handle = self._handle
            if handle is None:
                handle = self._handle = open_binary(path, compression_mode(self.compression), self.transport_params)
            try:
                yield from reader(handle, path, self.encoding, self.delimiter)
            finally:
                self._handle = None
                handle.close()
        self._fraction = 1.0 if self._sizes else None


def _local_sizes(files: list[str]) -> list[int] | None:
    try:
        return [os.path.getsize(path) for path in files]
    except OSError:
        return None  # a file of the glob vanished since: reading it will say so
