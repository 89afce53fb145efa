"""Turning an open binary stream into records, one generator per format. Each reads lazily, except ``json``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import IO, Any, Final

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
    """``jsonl``: like ``lines``, with ``value`` decoded strictly; None for a line that is not one JSON object."""
    offset = 0
    for lines in iter_line_chunks(stream):
        for raw in lines:
            yield Record(value=_decode_or_none(raw), raw=raw, meta=Meta(source=SOURCE, topic=topic, offset=offset))
            offset += 1


def _decode_or_none(raw: bytes) -> dict[str, Any] | None:
    try:
        return decode_object(raw)
    except DecodeError:
        return None  # kept: the ``json`` validator rejects it with the reason


def read_csv(stream: IO[bytes], topic: str, encoding: str, delimiter: str) -> Iterator[Record]:
    """``csv``: the header row names the keys; each further row is a mapping of strings.

    ``raw`` is the row written back as CSV in UTF-8, without a line ending. Blank lines are skipped. A row whose
    number of fields differs from the header's gets ``value`` None, so that a ``json`` validator rejects it.
    A repeated column name in the header, a malformed row or text that is not in ``encoding`` raise ValueError:
    nothing after that point could be trusted.
    """
    if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # ignore a byte-order mark before the header, as spreadsheets write one
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
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
            raw = buffer.getvalue()[:-2].encode("utf-8")
            value = dict(zip(header, row, strict=True)) if len(row) == width else None
            yield Record(value=value, raw=raw, meta=Meta(source=SOURCE, topic=topic, offset=offset))
            offset += 1
    except csv.Error as exc:
        raise ValueError(f"{topic}, line {reader.line_num}: malformed CSV: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{topic}, line {reader.line_num + 1}: not {encoding} text: {exc.reason}") from exc
    finally:
        text.detach()  # the source closes the stream itself


def read_json(stream: IO[bytes], topic: str, encoding: str, delimiter: str) -> Iterator[Record]:
    """``json``: the whole file is read; one object is one record, an array of objects one record per element.

    An element's ``raw`` is its own text from the file. An element that is not a strict JSON object, or a file
    that is not JSON at all, makes a record with ``value`` None (the whole file's bytes as ``raw`` in the latter
    case), so that a ``json`` validator rejects it with the reason. An empty file holds no record.
    """
    data = stream.read()
    if not data.strip():
        return
    elements = _array_elements(data)
    if elements is None:
        raw = data.strip()
        yield Record(value=_decode_or_none(raw), raw=raw, meta=Meta(source=SOURCE, topic=topic, offset=0))
        return
    for offset, raw in enumerate(elements):
        yield Record(value=_decode_or_none(raw), raw=raw, meta=Meta(source=SOURCE, topic=topic, offset=offset))


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
