"""A rejects file read back for ``lmnh-pipes replay``, and rewritten as the replay settles each batch.

A reject's handle is ``(file, row)``: the row's index, from 0 after the header, in the file as first read. A
settlement rewrites the file beside itself: the accepted and dropped rows left out, each still-rejected row
written anew from its new record (the sink's own row format), every other row copied as it was. The file must
still be as this replay read or last wrote it (its size and SHA-256): otherwise something else wrote to it, and
nothing of the settlement is applied.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from array import array
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any, Final

import attrs

from lmnh_pipes import ConfigError, Meta, Record, Rejection, RunError
from lmnh_pipes.replaying import Settlement, StoredReject

from . import durable, rawtext
from .cells import csv_reader, csv_writer, row_maker
from .durable import Fingerprint
from .journal import ReplayJournal, Swap

__all__ = ["READ_BACK", "TEMPORARY", "RejectsFiles"]

#: Beside each rejects file, its settled content before it is renamed over the file.
TEMPORARY: Final = ".replay-tmp"
# A raw value of a megabyte or more is one field: far above csv's default limit of 128 KiB.
_FIELD_LIMIT: Final = 2**31 - 1


def _integer(text: str) -> int:
    return int(text) if text else 0


def _key(text: str) -> str | bytes | None:
    if not text:
        return None
    key = rawtext.decode(text)
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return key


def _time(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


#: How each column that a reject is made of reads back; other columns are left to the validators.
_READ: Final[dict[str, Callable[[str], Any]]] = {
    "raw": rawtext.decode,
    "meta.source": str,
    "meta.topic": str,
    "meta.partition": _integer,
    "meta.offset": _integer,
    "meta.key": _key,
    "meta.timestamp": _time,
    "reject.validator": str,
    "reject.rule": str,
    "reject.reason": str,
    "reject.replays": _integer,
}
#: The columns of a rejects file that a replay reads back.
READ_BACK: Final = frozenset(_READ)


class _Hashing(io.RawIOBase):
    """The first ``limit`` bytes of a binary file (all of it without one), hashed as they are read."""

    def __init__(self, file: io.BufferedIOBase, limit: int | None = None) -> None:
        self._file, self._left = file, limit
        self.digest, self.size = hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self._left is not None:
            view = view[: self._left]
        n = self._file.readinto(view)
        self.digest.update(view[:n])
        self.size += n
        if self._left is not None:
            self._left -= n
        return n

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.size, self.digest.hexdigest())


def _rows(text: IO[str], delimiter: str, path: str) -> Iterator[tuple[int, list[str], str]]:
    """Each row of a CSV stream: the line it starts on, its cells, and its text exactly as it stands."""
    lines: list[str] = []

    def taken() -> Iterator[str]:
        for line in text:
            lines.append(line)
            yield line

    reader = csv_reader(taken(), delimiter)
    start = 1
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise RunError(f"{path}, line {start}: not CSV as the csv sink writes it: {exc}") from exc
        if row is None:
            return
        yield start, row, "".join(lines)
        lines.clear()
        start = reader.line_num + 1


@attrs.define
class _Read:
    """A rejects file as this replay knows it: ``starts[k]`` is where row ``base + k`` began in the file as first
    read (and, last, where the last row read ended); settled rows are before ``base``, and the rows after them
    now stand ``shift`` bytes from where they were read."""

    header: list[str]
    fingerprint: Fingerprint  # as read, or as the last settlement wrote it
    starts: array[int]
    base: int = 0
    shift: int = 0


@attrs.define(kw_only=True)
class _Change:
    gone: set[int] = attrs.field(factory=set)
    new: dict[int, Record] = attrs.field(factory=dict)


@attrs.frozen
class _Rewritten:
    swap: Swap
    held: IO[bytes]  # the new file, open and locked
    after: Fingerprint
    last: int  # the last row the settlement changed
    grown: int  # how many bytes longer the changed rows are now


@attrs.define(kw_only=True)
class RejectsFiles:
    """The rejects files of one ``csv`` sink, during one replay."""

    encoding: str
    delimiter: str
    _read: dict[str, _Read] = attrs.field(factory=dict, init=False)
    _held: dict[str, IO[bytes]] = attrs.field(factory=dict, init=False)  # each file, locked for this replay

    def hold(self, paths: Sequence[str]) -> None:
        """Lock each file (exclusively, until :meth:`release`), so that no pipeline opens it to write meanwhile;
        RunError while one has it open."""
        for path in paths:
            if path in self._held:
                continue
            file = open(path, "rb")  # noqa: SIM115 -- held until release()
            if not durable.lock(file, shared=False):
                file.close()
                raise RunError(
                    f"{path} is open in a running pipeline, or in another replay: replay rewrites it, so stop the "
                    "pipeline that writes it first"
                )
            self._held[path] = file

    def release(self) -> None:
        """Unlock every file."""
        held, self._held = self._held, {}
        for file in held.values():
            file.close()

    def stored(self, paths: Sequence[str], headers: Sequence[list[str]]) -> Iterator[StoredReject]:
        """The rejects of each file in turn; ``headers`` are their header rows, each checked for ``raw``."""
        if '\r\n,"'.encode(self.encoding) != b'\r\n,"':
            raise ConfigError(
                f"replay reads and rewrites a rejects file as bytes, so it needs an encoding that writes ASCII as "
                f"ASCII (utf-8, latin-1, cp1252 ...), not {self.encoding}"
            )
        for path, header in zip(paths, headers, strict=True):
            if "raw" not in header:
                raise ConfigError(
                    f"replay needs the raw column, which holds each reject's bytes: {path}'s header is "
                    f"{', '.join(header)}. Add raw to the rejects sink's columns (rejects written from then on can "
                    "be replayed)"
                )
        csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
        return self._stored(paths)

    def _stored(self, paths: Sequence[str]) -> Iterator[StoredReject]:
        for path in paths:
            yield from self._rejects_in(path)

    def _rejects_in(self, path: str) -> Iterator[StoredReject]:
        before = durable.fingerprint(path)
        encoding = self.encoding
        with open(path, "rb") as file:
            hashing = _Hashing(file, before.size)  # what was appended since is not this replay's
            text = io.TextIOWrapper(io.BufferedReader(hashing), encoding=encoding, newline="")
            rows = _rows(text, self.delimiter, path)
            first = next(rows, None)
            if first is None:
                return
            _, header, header_text = first
            read = self._read[path] = _Read(
                header=header, fingerprint=before, starts=array("q", [len(header_text.encode(encoding))])
            )
            starts = read.starts
            fields = [(_READ.get(name), i) for i, name in enumerate(header)]
            for index, (line, row, row_text) in enumerate(rows):
                starts.append(starts[-1] + len(row_text.encode(encoding)))
                if not row:
                    continue  # a blank line
                if len(row) != len(header):
                    raise RunError(f"{path}, line {line}: {len(row)} fields, where the header has {len(header)}")
                yield StoredReject(record=_record(fields, row, header, f"{path}, line {line}"), handle=(path, index))
            if hashing.fingerprint() != before:
                raise RunError(f"{path} changed while it was read: stop whatever writes it, and replay again")

    def settle(self, settlement: Settlement, journal: ReplayJournal) -> None:
        """Rewrite each file that ``settlement`` changes, and put the new files in place in one journaled step."""
        changes: dict[str, _Change] = {}
        for stored in (*settlement.accepted, *settlement.dropped):
            path, index = self._handle(stored)
            changes.setdefault(path, _Change()).gone.add(index)
        for stored, record in settlement.rejected:
            path, index = self._handle(stored)
            changes.setdefault(path, _Change()).new[index] = record
        self.hold(list(changes))
        done: list[_Rewritten] = []
        try:
            for path, change in changes.items():
                done.append(self._rewrite(path, change))
        except BaseException:
            for rewritten in done:
                rewritten.held.close()
                os.remove(rewritten.swap.temporary)
            raise
        if done:
            journal.commit([rewritten.swap for rewritten in done])
        for rewritten in done:
            durable.replace(rewritten.swap.temporary, rewritten.swap.path)
            self._held.pop(rewritten.swap.path).close()
            self._held[rewritten.swap.path] = rewritten.held  # locked before it took the name
        for rewritten in done:
            read = self._read[rewritten.swap.path]
            del read.starts[: rewritten.last + 1 - read.base]
            read.base = rewritten.last + 1
            read.shift += rewritten.grown
            read.fingerprint = rewritten.after
        journal.end()

    def _handle(self, stored: StoredReject) -> tuple[str, int]:
        handle = stored.handle
        if not (isinstance(handle, tuple) and len(handle) == 2 and handle[0] in self._read):
            raise RunError(f"{handle!r} is not a reject that this csv sink gave back in this replay")
        path, index = handle
        return str(path), int(index)

    def _rewrite(self, path: str, change: _Change) -> _Rewritten:
        """Write ``path`` as ``change`` leaves it, beside it; RunError (and nothing written) unless ``path`` is
        still as this replay read or last wrote it.

        Only the rows from the first changed to the last are parsed: a replay settles in the order it reads, so
        the bytes before and after them are copied as they are."""
        read = self._read[path]
        first, last = min((*change.gone, *change.new)), max((*change.gone, *change.new))
        if first < read.base:
            raise RunError(f"row {first} of {path} was settled already: a replay settles each row once, in order")
        start = read.starts[first - read.base] + read.shift
        end = read.starts[last + 1 - read.base] + read.shift
        temporary = path + TEMPORARY
        before, after = hashlib.sha256(), hashlib.sha256()
        target = open(temporary, "wb")  # noqa: SIM115 -- kept open and locked once it is in place
        try:
            durable.lock(target, shared=False)
            with open(path, "rb") as source:
                _copy(source, target, start, before, after)
                region = source.read(end - start)
                before.update(region)
                # "replace": a file that changed may hold anything here; the fingerprint check below refuses it.
                rows = _rows(io.StringIO(region.decode(self.encoding, "replace"), newline=""), self.delimiter, path)
                make_row, out = row_maker(read.header), io.StringIO(newline="")
                writer = csv_writer(out, self.delimiter)
                count = 0
                for index, (_, _, row_text) in enumerate(rows, start=first):
                    count += 1
                    if index in change.new:
                        writer.writerow(make_row(change.new[index]))
                    elif index not in change.gone:
                        out.write(row_text)
                rewritten = out.getvalue().encode(self.encoding)
                target.write(rewritten)
                after.update(rewritten)
                rest = _copy(source, target, None, before, after)
                target.flush()
                os.fsync(target.fileno())
            if count != last - first + 1 or Fingerprint(end + rest, before.hexdigest()) != read.fingerprint:
                raise RunError(
                    f"{path} changed since this replay read it (another replay, or a running pipeline that "
                    "writes its rejects there): stop the pipeline that writes it, then replay again"
                )
        except BaseException:
            target.close()
            os.remove(temporary)
            raise
        grown = len(rewritten) - (end - start)
        swap = Swap(path=path, temporary=temporary, before=read.fingerprint)
        after_fingerprint = Fingerprint(read.fingerprint.size + grown, after.hexdigest())
        return _Rewritten(swap=swap, held=target, after=after_fingerprint, last=last, grown=grown)


def _copy(source: IO[bytes], target: IO[bytes], count: int | None, *digests: Any) -> int:
    """Copy ``count`` bytes (all that is left, without one) from ``source`` to ``target``, hashing them; how many."""
    copied = 0
    while count is None or copied < count:
        chunk = source.read(1 << 20 if count is None else min(1 << 20, count - copied))
        if not chunk:
            break
        target.write(chunk)
        for digest in digests:
            digest.update(chunk)
        copied += len(chunk)
    return copied


def _record(
    fields: list[tuple[Callable[[str], Any] | None, int]], row: list[str], header: list[str], where: str
) -> Record:
    """The reject that a row of a rejects file holds."""
    values: dict[str, Any] = {}
    for read, i in fields:
        if read is not None:
            try:
                values[header[i]] = read(row[i])
            except ValueError as exc:
                raise RunError(f"{where}, column {header[i]}: {exc}") from exc
    meta = Meta(**{name[5:]: value for name, value in values.items() if name.startswith("meta.")})
    validator = values.get("reject.validator", "")
    rejection = Rejection(
        validator=validator,
        reason=values.get("reject.reason", ""),
        rule=values.get("reject.rule") or validator,
        replays=values.get("reject.replays", 0),
    )
    return Record(raw=values["raw"], meta=meta, reject=rejection)
