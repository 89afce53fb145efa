"""Progress while running: a live line on a terminal, periodic status lines in the log otherwise."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

import attrs

from .report import RunReport

__all__ = ["Progress"]

log = logging.getLogger("lmnh_pipes.progress")

BAR_WIDTH = 20
#: Back to the start of the line, and erase it.
CLEAR = "\r\x1b[2K"


@attrs.define
class Progress:
    """Called after every batch, with the run's report.

    How far the run is, from 0 to 1, is the furthest of what is known: records read over ``total`` (the
    ``--limit``, the source's size, or the smaller of the two), and the source's own ``fraction`` (a file: bytes
    read over bytes in all). When it is known the line shows a percentage and the time left.

    On a terminal (``live``) it redraws one line at most 10 times a second, with a bar, and log messages are
    written above it (used as a context manager, it takes over the log handlers that write to ``stream``). When it
    finishes it draws the final counts and ends the line. Otherwise it logs a status line every ``interval``
    seconds, without a bar, carrying the same numbers as plain fields (``extra["fields"]``) for JSON logs.
    """

    stream: TextIO
    live: bool
    total: int | None = None
    fraction: Callable[[], float | None] | None = None
    interval: float = 10.0
    _started: float = attrs.field(factory=time.monotonic, init=False)
    _last: float = attrs.field(default=0.0, init=False)
    _frame: str = attrs.field(default="", init=False)
    _report: RunReport | None = attrs.field(default=None, init=False)
    _lock: threading.RLock = attrs.field(factory=threading.RLock, init=False)
    _handlers: list[tuple[logging.StreamHandler[Any], Any]] = attrs.field(factory=list, init=False)

    def __call__(self, report: RunReport) -> None:
        self._report = report
        now = time.monotonic()
        if now - self._last < (0.1 if self.live else self.interval):
            return
        self._last = now
        elapsed = now - self._started
        if self.live:
            self._draw(self.line(report, elapsed))
        else:
            fields = self.fields(report, elapsed)
            log.info("%s", _plain(fields).lstrip(), extra={"fields": fields})

    def done(self, report: RunReport) -> float | None:
        """How far the run is, from 0 to 1, or None when nothing says."""
        known: list[float] = []
        if self.total:
            known.append(report.read / self.total)
        if self.fraction is not None:
            fraction = self.fraction()
            if fraction is not None:
                known.append(fraction)
        return min(1.0, max(known)) if known else None

    def fields(self, report: RunReport, elapsed: float) -> dict[str, Any]:
        """The numbers of one status line: counts, rate, and (when known) the share done and the seconds left."""
        out: dict[str, Any] = {
            "read": report.read,
            "accepted": report.accepted,
            "rejected": report.rejected,
            "written": report.written,
            "rate": round(report.read / elapsed, 1) if elapsed > 0 else 0.0,
        }
        done = self.done(report)
        if done is not None:
            out["percent"] = round(done * 100, 1)
            if 0 < done < 1:
                out["seconds_left"] = round(elapsed * (1 - done) / done, 1)
        return out

    def line(self, report: RunReport, elapsed: float, *, ended: bool = False) -> str:
        """The live line: a bar and the share done when known, the counts, and the time left (until ``ended``)."""
        fields = self.fields(report, elapsed)
        if ended:
            fields.pop("seconds_left", None)
        if "percent" not in fields:
            return _plain(fields)
        bar = "#" * int(fields["percent"] / 100 * BAR_WIDTH)
        return f"[{bar:<{BAR_WIDTH}}] {_plain(fields)}"

    def finish(self) -> None:
        """On a terminal, draw the final counts (the summary's) and end the line, so that what follows starts on a
        line of its own."""
        with self._lock:
            if not self.live or self._report is None:
                return
            report = self._report
            elapsed = report.seconds or time.monotonic() - self._started
            self._draw(self.line(report, elapsed, ended=True))
            self.stream.write("\n")
            self.stream.flush()
            self._frame = ""

    def __enter__(self) -> Progress:
        """On a terminal, have the log handlers that write to ``stream`` write above the live line."""
        if self.live:
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                    self._handlers.append((handler, handler.setStream(_AboveTheLine(self))))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.finish()
        for handler, stream in self._handlers:
            handler.setStream(stream)
        self._handlers.clear()

    def _draw(self, frame: str) -> None:
        with self._lock:
            self.stream.write(CLEAR + frame)
            self.stream.flush()
            self._frame = frame

    def _write_above(self, text: str) -> None:
        """Clear the live line, write ``text`` (a log message), and draw the line again below it."""
        with self._lock:
            frame = self._frame
            if frame:
                self.stream.write(CLEAR)
            self.stream.write(text)
            if frame and text.endswith("\n"):
                self.stream.write(CLEAR + frame)
            else:
                self._frame = ""
            self.stream.flush()


class _AboveTheLine:
    """The stream a log handler writes to while a live line is shown: each message goes above the line."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def write(self, text: str) -> int:
        self._progress._write_above(text)
        return len(text)

    def flush(self) -> None:
        self._progress.stream.flush()


def _plain(fields: dict[str, Any]) -> str:
    """``fields`` as the words of a status line: the share done, the counts, the rate, the time left."""
    parts = [f"{fields['percent']:3.0f}%"] if "percent" in fields else []
    parts += [f"{key} {fields[key]:,}" for key in ("read", "accepted", "rejected", "written")]
    parts.append(f"{fields['rate']:,.0f}/s")
    if "seconds_left" in fields:
        parts.append(f"{_duration(fields['seconds_left'])} left")
    return "  ".join(parts)


def _duration(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
