"""The ``csv`` sink's part in ``lmnh-pipes replay`` (:mod:`lmnh_pipes.replaying`), mixed into :class:`CsvSink`.

As the rejects sink, its files are read back and settled (``RejectStore``), a batch at a time under a journal
(``JournalingStore``, :mod:`.journal`); as the sink replayed into, its files are added to (``OutputKeeper``) and,
after a crash, cut back (``RewindableSink``). Local, uncompressed files only: a URL or a compressed file can be
neither rewritten in place nor cut back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, Final, Protocol

from lmnh_pipes import RunError
from lmnh_pipes.replaying import Settlement, StoredReject

from . import durable
from ._paths import is_local, local_path, path_error
from .journal import ReplayJournal
from .rejectsfile import TEMPORARY, RejectsFiles

__all__ = ["JOURNAL", "CsvReplay", "refuse_unfinished_replay"]

#: Beside a rejects file, the journal of a replay out of it.
JOURNAL: Final = ".replay-journal"
_ADDS: Final = "replay adds rows to the sink's file and, after a crash, cuts them back"
_READS: Final = "replay reads the rejects back from the rejects sink's file and rewrites it"


class _CsvFiles(Protocol):
    """What the replay needs of the csv sink: its options, and where its files are."""

    path: str
    header: bool
    append: bool
    columns: list[str] | None
    split_by: str | None
    encoding: str
    delimiter: str
    _store: RejectsFiles | None

    def _appended_files(self) -> list[str]: ...

    def _header_of(self, path: str) -> list[str] | None: ...

    def _flushed(self) -> None: ...


class CsvReplay:
    """The members of the csv sink that a replay calls."""

    _store: RejectsFiles | None  # the rejects files as a replay read them, and their locks (a field of CsvSink)

    def stored_rejects(self: _CsvFiles) -> Iterator[StoredReject]:
        """Every reject in the rejects file (each file, with ``split_by``), in order, ``raw`` read back from the raw
        encoding; a handle is (file, row). ConfigError unless the files are local, uncompressed, with a header
        naming ``raw`` (RejectStore). A settlement that a replay committed but did not put in place is put in
        place first (the files locked)."""
        _replayable(self.path, _READS)
        if not self.header:
            raise path_error(
                self.path, "replay needs the rejects file's header, which names its columns: header: false"
            )
        store, journal = _replaying(self), _journal(self.path)
        if journal.state() == "committed":
            store.hold(self._appended_files())
            journal.finish()
        paths, headers = [], []
        for path in self._appended_files():
            header = self._header_of(path)
            if header is not None:
                paths.append(path)
                headers.append(header)
        return store.stored(paths, headers)

    def settle(self: _CsvFiles, settlement: Settlement) -> None:
        """Rewrite the rejects file as ``settlement`` says, in one step: the accepted and dropped rows left out,
        each still-rejected row written with its new reason, the others as they were (RejectStore). RunError, and
        nothing changed, when the file is no longer as this replay read it."""
        _replaying(self).settle(settlement, _journal(self.path))

    def unfinished_replay(self: _CsvFiles) -> Mapping[str, Any] | None:
        """The mark that a replayed batch cut short journalled, or None (JournalingStore). Locks the rejects files
        for the rest of the replay: RunError while a pipeline writes them."""
        _replayable(self.path, _READS)
        _replaying(self).hold(self._appended_files())
        return _journal(self.path).unfinished()

    def begin_replay(self: _CsvFiles, mark: Mapping[str, Any]) -> None:
        """Journal the sink's ``mark``, before the batch's rows are written (JournalingStore)."""
        _journal(self.path).begin(mark)

    def abandon_replay(self: _CsvFiles) -> None:
        """Forget the batch cut short, the sink being cut back: its journal and any settled file not put in place
        (JournalingStore)."""
        for path in self._appended_files():
            durable.remove(path + TEMPORARY)
        _journal(self.path).end()

    def output_mark(self: _CsvFiles) -> Mapping[str, Any]:
        """Each of this sink's files and its length, everything written being flushed and fsynced (RewindableSink).
        ConfigError for a URL or a compressed file."""
        _replayable(self.path, _ADDS)
        self._flushed()
        files = {os.path.abspath(path): os.path.getsize(path) for path in self._appended_files()}
        return {"cwd": os.getcwd(), "files": files}

    def rewind(self: _CsvFiles, mark: Mapping[str, Any]) -> None:
        """Cut each file back to its length in ``mark``, and remove a file made since (RewindableSink). RunError
        when a file is shorter than it was: something else changed it."""
        _replayable(self.path, _ADDS)
        if mark.get("cwd") != os.getcwd() and not os.path.isabs(local_path(self.path)):
            raise RunError(
                f"a replay into {self.path} was cut short while working in {mark.get('cwd')}: replay from there, "
                "where the relative path names the same files"
            )
        lengths: Mapping[str, int] = mark.get("files", {})
        for path in self._appended_files():
            size, length = os.path.getsize(path), lengths.get(os.path.abspath(path))
            if length is None:
                if _made_here(self, path):
                    durable.remove(path)
            elif size < length:
                raise RunError(
                    f"cannot undo a replay into {path}, cut short: it holds {size:,} bytes, fewer than the {length:,} "
                    "it held before the replay's batch (something else changed it)"
                )
            elif size > length:
                durable.truncate(path, length)

    def keep_output(self: _CsvFiles) -> None:
        """Open adding to the existing file(s), as ``append: true`` does (OutputKeeper: a replay adds its rows).
        ConfigError for a URL or a compressed file, which a replay could not cut back after a crash."""
        _replayable(self.path, _ADDS)
        self.append = True

    def _end_replay(self: _CsvFiles) -> None:
        """At close, as a rejects store: unlock its files."""
        store, self._store = self._store, None
        if store is not None:
            store.release()


def refuse_unfinished_replay(path: str) -> None:
    """ConfigError while a replay's journal is beside ``path``: a replay out of this file is running, or was cut
    short, and writing now would put rows after the ones that the next replay cuts back."""
    journal = _journal(path)
    if journal.state() is not None:
        raise path_error(
            path,
            f"a replay out of {path} is running, or was cut short (its journal: {journal.path}): let it end, or run "
            "lmnh-pipes replay on this pipeline, which first finishes or undoes what it left half done",
        )


def _replayable(path: str, what: str) -> None:
    """ConfigError unless ``path`` names uncompressed local files."""
    from smart_open import compression as so_compression

    extension = os.path.splitext(path)[1].lower()
    if not is_local(path):
        problem = "not a local file"
    elif extension in so_compression.get_supported_extensions():
        problem = f"compressed ({extension})"
    else:
        return
    raise path_error(path, f"{what}, so it needs an uncompressed local file: {path!r} is {problem}")


def _journal(path: str) -> ReplayJournal:
    return ReplayJournal(local_path(path) + JOURNAL)


def _replaying(sink: _CsvFiles) -> RejectsFiles:
    if sink._store is None:
        sink._store = RejectsFiles(encoding=sink.encoding, delimiter=sink.delimiter)
    return sink._store


def _made_here(sink: _CsvFiles, path: str) -> bool:
    """Whether a file that a mark does not know is the sink's: made by the batch cut short, not by another writer
    (with split_by, whose name pattern another's files may match, its header must be the sink's columns)."""
    if sink.split_by is None or not sink.header or sink.columns is None:
        return True
    return sink._header_of(path) in (None, sink.columns)
