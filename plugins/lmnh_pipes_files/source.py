"""The ``file`` source: records from local files, globs, S3 objects or HTTP(S) URLs, through smart-open."""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from itertools import islice
from typing import IO, Any, Final, Literal

import attrs

from lmnh_pipes import ConfigError, EndOfInput, Record

from ._paths import check_encoding, compression_mode, is_local, not_found_reason, open_binary, resolve
from ._readers import READERS

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

    Options:

    * ``path`` (required): a local path (``data/visits.jsonl``, ``~/in.csv``, ``file:///in.txt``), a local glob
      (``data/*.jsonl``, ``logs/**/*.gz``), an S3 object (``s3://bucket/key``) or S3 glob
      (``s3://bucket/prefix/*.csv``: ``*`` stays within one ``/`` segment, ``**`` spans any number), an
      ``http://`` or ``https://`` URL, or any other URL that smart-open opens (without globs). The files of a glob
      are read one after another in sorted order. For S3, boto3's usual configuration applies, including
      ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` for an S3-compatible server.
    * ``format``: ``lines`` (default), ``jsonl``, ``csv`` or ``json``:

      - ``lines``: each line's bytes, without its line ending (``\\n`` or ``\\r\\n``), is one record's ``raw``;
        ``value`` is None until a ``json`` validator decodes it. A final newline does not add an empty record,
        but an empty line elsewhere is a record with ``raw`` ``b""``: every line is accounted for.
      - ``jsonl``: as ``lines``, with ``value`` the line decoded as one strict JSON object. A line that does not
        decode (or is blank) is not dropped: its record has ``value`` None and its ``raw``, so that a ``json``
        validator rejects it with the reason.
      - ``csv``: the header row names the keys and each further row is a mapping of strings; ``raw`` is the row
        written back as CSV (UTF-8, no line ending). Blank lines are skipped. A row with more or fewer fields
        than the header has ``value`` None, so that a ``json`` validator rejects it. A header that repeats a
        name, or a malformed file, stops the run with an error.
      - ``json``: the whole file is one object (one record) or an array of objects (one record each, ``raw``
        being the element's text). An element that is not an object, or a file that is not JSON, gives a record
        with ``value`` None, rejected later by a ``json`` validator. This format reads whole files into memory.

    * ``encoding``: the text encoding of ``csv`` files (default ``utf-8``; a leading byte-order mark is ignored).
    * ``delimiter``: the field separator of ``csv`` files (default ``,``).
    * ``compression``: ``infer`` (default: by the suffix, such as ``.gz``, ``.bz2``, ``.xz``, ``.zst``), ``none``,
      or a suffix (``gz``) to force one, for instance for a URL that has no suffix.
    * ``transport_params``: passed to ``smart_open.open`` as they are (for S3: ``client_kwargs``, or from Python a
      boto3 ``client``; for HTTP: ``headers``, ``user``, ``password``).

    Every record has ``meta.source`` ``file``, ``meta.topic`` the file's path or URL, ``meta.offset`` the 0-based
    index of the record in that file (data rows for ``csv``), ``meta.partition`` 0 and no key.
    ``open`` raises ConfigError when the path does not exist, cannot be read, or a glob matches nothing.
    ``ack`` does nothing: files are read again from the start by the next run.
    """

    path: str
    format: Format = attrs.field(default="lines", validator=_check_format)
    encoding: str = attrs.field(default="utf-8", validator=check_encoding)
    delimiter: str = attrs.field(default=",", validator=_check_delimiter)
    compression: str = attrs.field(default="infer", validator=_check_compression)
    # May hold credentials (an S3 secret key, an HTTP password): never in a repr.
    transport_params: dict[str, Any] | None = attrs.field(default=None, repr=False)

    _files: list[str] = attrs.field(factory=list, init=False)
    _handle: IO[bytes] | None = attrs.field(default=None, init=False)
    _records: Generator[Record, None, None] | None = attrs.field(default=None, init=False)

    def check(self) -> None:
        """For a local path or glob, check that there is something to read (URLs need a connection: --online)."""
        if is_local(self.path):
            for path in resolve(self.path, self.transport_params):
                if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
                    continue  # a pipe or a device: opening it could wait for a writer
                self._open(path).close()  # refused as open refuses it: missing, a directory, no permission

    def open(self) -> None:
        """Resolve the glob and open the first file. Raises ConfigError when there is nothing to read."""
        self._files = resolve(self.path, self.transport_params)
        self._handle = self._open(self._files[0])
        self._records = self._iter_records()

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
            raise ConfigError(f"cannot read {path!r}: {reason}") from exc

    def _iter_records(self) -> Generator[Record, None, None]:
        reader = READERS[self.format]
        for path in self._files:
            # A later file of a glob that vanished since ``open`` is a failure of the run, not of its configuration.
            handle = self._handle
            if handle is None:
                handle = self._handle = open_binary(path, compression_mode(self.compression), self.transport_params)
            try:
                yield from reader(handle, path, self.encoding, self.delimiter)
            finally:
                self._handle = None
                handle.close()
