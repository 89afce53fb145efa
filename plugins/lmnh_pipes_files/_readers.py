"""Turning an open binary stream into records, one generator per format. Each reads lazily, except ``json``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import IO, Final

from lmnh_pipes import DecodeError, Meta, Record, decode_object

__all__ = ["READERS", "Reader", "iter_line_chunks"]

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


def read_csv(stream: IO[bytes], topic: str, encoding: str, delimiter: str) -> Iterator[Record]:
    """``csv``: the header row names the keys; each further row is a mapping of strings.

    ``raw`` is the row written back as CSV in UTF-8, without a line ending. Blank lines are skipped. A row whose
    number of fields differs from the header's, or that holds bytes that are not ``encoding`` text, is rejected
    by the source; such bytes are kept in its ``raw`` as they were. A repeated column name in the header, a header
    that is not ``encoding`` text, or a malformed file raise ValueError: nothing after that point could be trusted.
    """
    named = encoding
    if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # ignore a byte-order mark before the header, as spreadsheets write one
    # Undecodable bytes become lone surrogates (U+DC80..U+DCFF), which encoding ``raw`` below finds: one row is
    # rejected, not the file.
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    buffer = io.StringIO()
    # "\r\n", cut off below: with an empty terminator, csv would not quote a field holding a line break.
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    try:
        header = next(reader, None)
        while header == []:
            header = next(reader, None)
        if header is None:
            return
        for name in header:
            if _undecodable(name) is not None:
                raise ValueError(f"{topic}, line {reader.line_num}: the CSV header is not {named} text: {name!r}")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise ValueError(f"{topic}: the CSV header repeats the column {repeated[0]!r}")
        width = len(header)
        offset = 0
        for row in reader:
            if not row:
                continue
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(row)
            meta = Meta(source=SOURCE, topic=topic, offset=offset)
            offset += 1
            try:
                raw = buffer.getvalue()[:-2].encode("utf-8")
            except UnicodeEncodeError:
                raw = buffer.getvalue()[:-2].encode("utf-8", "surrogateescape")
                yield Record(raw=raw, meta=meta).rejected_by(SOURCE, _not_text(header, row, named), "encoding")
                continue
            if len(row) != width:
                reason = f"row has {len(row)} field{'s' if len(row) != 1 else ''}; the header has {width}"
                yield Record(raw=raw, meta=meta).rejected_by(SOURCE, reason, "csv")
                continue
            yield Record(value=dict(zip(header, row, strict=True)), raw=raw, meta=meta)
    except csv.Error as exc:
        raise ValueError(f"{topic}, line {reader.line_num}: malformed CSV: {exc}") from exc
    except UnicodeDecodeError as exc:  # bytes below 0x80 that ``encoding`` refuses cannot be escaped (UTF-16)
        raise ValueError(f"{topic}, line {reader.line_num + 1}: not {named} text: {exc.reason}") from exc
    finally:
        text.detach()  # the source closes the stream itself


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
