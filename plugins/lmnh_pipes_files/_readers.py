"""Turning an open binary stream into records, one generator per format. Each reads lazily, except ``json``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import IO, Final

from lmnh_pipes import DecodeError, Meta, Record, RunError, decode_object

__all__ = ["READERS", "MalformedCsvError", "Reader", "csv_header", "iter_line_chunks"]

SOURCE: Final = "file"
CHUNK_SIZE: Final = 1 << 20

#: A reader: (binary stream, the file's path or URL, encoding, delimiter) -> records.
Reader = Callable[[IO[bytes], str, str, str], Iterator[Record]]


def iter_line_chunks(stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> Iterator[list[bytes]]:
    """Yield lists of lines, each without its ending (``\\n`` or ``\\r\\n``), reading ``chunk_size`` bytes at a time.

    A final newline does not make an extra empty line; an empty line before it does. A lone ``\\r`` is data.
    """
    pending: list[bytes] = []  # pieces of a line whose end has not been read yet
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        if pending:
            pending.append(chunk)
            chunk = b"".join(pending)
            pending = []
        lines = chunk.split(b"\n")
        last = lines.pop()
        if last:
            pending.append(last)
        if b"\r" in chunk:
            lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        yield lines
    if pending:
        yield [b"".join(pending)]


def read_lines(stream: IO[bytes], topic: str, encoding: str, delimiter: str) -> Iterator[Record]:
    """``lines``: each line's bytes is ``raw``; ``value`` stays None for a ``json`` validator to decode."""
    offset = 0
    for lines in iter_line_chunks(stream):
        for raw in lines:
            yield Record(raw=raw, meta=Meta(source=SOURCE, topic=topic, offset=offset))
            offset += 1


def read_jsonl(stream: IO[bytes], topic: str, encoding: str, delimiter: str) -> Iterator[Record]:
    """``jsonl``: like ``lines``, with ``value`` decoded strictly; a line that is not one JSON object is rejected."""
    offset = 0
    for lines in iter_line_chunks(stream):
        for raw in lines:
            yield _decoded(raw, Meta(source=SOURCE, topic=topic, offset=offset))
            offset += 1


def _decoded(raw: bytes, meta: Meta) -> Record:
    """A record of ``raw`` decoded as one strict JSON object, or rejected by the source with the reason."""
    try:
        value = decode_object(raw)
    except DecodeError as exc:
        return Record(raw=raw, meta=meta).rejected_by(SOURCE, str(exc), "json")
    return Record(value=value, raw=raw, meta=meta)


class MalformedCsvError(RunError, ValueError):
    """A CSV file that cannot be read on: a bad header, or a quoting error (nothing after it could be trusted)."""


def read_csv(stream: IO[bytes], topic: str, encoding: str, delimiter: str) -> Iterator[Record]:
    """``csv``: the header row names the keys; each further row is a mapping of strings.

    ``raw`` is the row written back as CSV in UTF-8, without a line ending. Blank lines are skipped. A row whose
    number of fields differs from the header's, or that holds bytes that are not ``encoding`` text, is rejected
    by the source; such bytes are kept in its ``raw`` as they were. A repeated column name in the header, a header
    that is not ``encoding`` text, or a quoting error (a quote never closed, text after a closing quote) raise
    :class:`MalformedCsvError` naming the line where that row starts: the rows after it cannot be told apart.
    """
    rows = _CsvRows(stream, topic, encoding, delimiter)
    buffer = io.StringIO()
    # "\r\n", cut off below: with an empty terminator, csv would not quote a field holding a line break.
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    try:
        header = rows.header()
        if header is None:
            return
        width = len(header)
        offset = 0
        while (row := rows.next()) is not None:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(row)
            meta = Meta(source=SOURCE, topic=topic, offset=offset)
            offset += 1
            try:
                raw = buffer.getvalue()[:-2].encode("utf-8")
            except UnicodeEncodeError:
                raw = buffer.getvalue()[:-2].encode("utf-8", "surrogateescape")
                yield Record(raw=raw, meta=meta).rejected_by(SOURCE, _not_text(header, row, rows.named), "encoding")
                continue
            if len(row) != width:
                reason = f"row has {len(row)} field{'s' if len(row) != 1 else ''}; the header has {width}"
                yield Record(raw=raw, meta=meta).rejected_by(SOURCE, reason, "csv")
                continue
            yield Record(value=dict(zip(header, row, strict=True)), raw=raw, meta=meta)
    finally:
        rows.detach()  # the source closes the stream itself


def csv_header(stream: IO[bytes], topic: str, encoding: str, delimiter: str) -> list[str] | None:
    """The header of a CSV file (None if it holds no row); :class:`MalformedCsvError` as :func:`read_csv`."""
    rows = _CsvRows(stream, topic, encoding, delimiter)
    try:
        return rows.header()
    finally:
        rows.detach()


def _csv_reason(exc: csv.Error) -> str:
    """What Python's csv module says, in words a user can act on."""
    message = str(exc)
    if message == "unexpected end of data":
        return "unterminated quoted field: a quote opened in this row is never closed"
    if message.endswith("expected after '\"'"):
        return 'text after the closing quote of a quoted field (a quote inside a quoted field is written "")'
    return f"malformed CSV: {message}"


class _CsvRows:
    """The rows of a CSV stream, strictly quoted, each error naming the file and the line where its row starts."""

    def __init__(self, stream: IO[bytes], topic: str, encoding: str, delimiter: str) -> None:
        self.topic, self.named = topic, encoding
        if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
            encoding = "utf-8-sig"  # ignore a byte-order mark before the header, as spreadsheets write one
        # Undecodable bytes become lone surrogates (U+DC80..U+DCFF), which encoding ``raw`` finds: one row is
        # rejected, not the file.
        self._text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
        # strict: a quote never closed would otherwise swallow every later row into one field.
        self._reader = csv.reader(self._text, delimiter=delimiter, strict=True)
        self.line = 0  # where the last row read starts

    def next(self) -> list[str] | None:
        """The next row that is not blank, or None at the end."""
        reader = self._reader
        while True:
            self.line = reader.line_num + 1
            try:
                row = next(reader, None)
            except csv.Error as exc:
                raise self.error(_csv_reason(exc)) from exc
            except UnicodeDecodeError as exc:  # bytes below 0x80 that ``encoding`` refuses cannot be escaped
                raise self.error(f"not {self.named} text: {exc.reason}") from exc
            if row != []:
                return row

    def header(self) -> list[str] | None:
        """The first row that is not blank, checked as a header: text, each name once."""
        header = self.next()
        if header is None:
            return None
        for i, name in enumerate(header):
            if _undecodable(name) is not None:
                raise self.error(f"the CSV header is not {self.named} text: column {i + 1} is {_escaped(name)}")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise self.error(f"the CSV header repeats the column {repeated[0]!r}")
        return header

    def error(self, message: str) -> MalformedCsvError:
        return MalformedCsvError(f"{self.topic}: line {self.line}: {message}")

    def detach(self) -> None:
        self._text.detach()


def _escaped(field: str) -> str:
    """``field`` quoted, each byte that could not be decoded (a lone surrogate) shown as ``\\xNN``."""
    return "'" + "".join(f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff" else c for c in field) + "'"


def _undecodable(field: str) -> int | None:
    """The first byte of ``field`` that could not be decoded (kept as a lone surrogate), else None."""
    for ch in field:
        if "\udc80" <= ch <= "\udcff":
            return ord(ch) - 0xDC00
    return None


def _not_text(header: list[str], row: list[str], encoding: str) -> str:
    """Why a row that holds undecodable bytes is rejected: the first such byte, and its column."""
    for i, field in enumerate(row):
        byte = _undecodable(field)
        if byte is not None:
            where = f"column {header[i]!r}" if i < len(header) else f"field {i + 1}"
            return f"not {encoding} text: byte 0x{byte:02x} in {where}"
    return f"not {encoding} text"


def read_json(stream: IO[bytes], topic: str, encoding: str, delimiter: str) -> Iterator[Record]:
    """``json``: the whole file is read; one object is one record, an array of objects one record per element.

    An element's ``raw`` is its own text from the file. An element that is not a strict JSON object, or a file
    that is not JSON at all, is rejected by the source with the reason (the whole file's bytes as ``raw`` in the
    latter case). An empty file holds no record.
    """
    data = stream.read()
    if not data.strip():
        return
    elements = _array_elements(data)
    if elements is None:
        yield _decoded(data.strip(), Meta(source=SOURCE, topic=topic, offset=0))
        return
    for offset, raw in enumerate(elements):
        yield _decoded(raw, Meta(source=SOURCE, topic=topic, offset=offset))


_scanner = json.JSONDecoder()
_WHITESPACE: Final = " \t\n\r"


def _array_elements(data: bytes) -> list[bytes] | None:
    """The text of each element when ``data`` is a JSON array, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    pos = _skip(text, 0)
    if not text.startswith("[", pos):
        return None
    elements: list[bytes] = []
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return elements if not text[_skip(text, pos + 1) :] else None
    while True:
        try:
            _, end = _scanner.raw_decode(text, pos)
        except (ValueError, RecursionError):
            return None
        elements.append(text[pos:end].encode("utf-8"))
        pos = _skip(text, end)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
        elif text.startswith("]", pos):
            return elements if not text[_skip(text, pos + 1) :] else None
        else:
            return None


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


READERS: Final[dict[str, Reader]] = {"lines": read_lines, "jsonl": read_jsonl, "csv": read_csv, "json": read_json}
