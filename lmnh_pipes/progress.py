"""Progress while running: a live line on a terminal, periodic status lines in the log otherwise."""

from __future__ import annotations

import logging
import time
from typing import TextIO

import attrs

from .report import RunReport

__all__ = ["Progress"]

log = logging.getLogger("lmnh_pipes.progress")


@attrs.define
class Progress:
    """Called after every batch. ``total`` is the source's size when it knows it (a file, a simulator's count).

    On a terminal (``live``) it redraws one line at most 10 times a second: a bar and percentage when the
    total is known, else counts and rates. Otherwise it logs a status line every ``interval`` seconds.
    """

    stream: TextIO
    live: bool
    total: int | None = None
    interval: float = 10.0
    _started: float = attrs.field(factory=time.monotonic, init=False)
    _last: float = attrs.field(default=0.0, init=False)
    _drawn: bool = attrs.field(default=False, init=False)

    def __call__(self, report: RunReport) -> None:
        now = time.monotonic()
        if now - self._last < (0.1 if self.live else self.interval):
            return
        self._last = now
        line = self.line(report, now - self._started)
        if self.live:
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
            self._drawn = True
        else:
            log.info("%s", line)

    def line(self, report: RunReport, elapsed: float) -> str:
        rate = report.read / elapsed if elapsed > 0 else 0.0
        counts = (
            f"read {report.read:,}  accepted {report.accepted:,}  rejected {report.rejected:,}  "
            f"written {report.written:,}  {rate:,.0f}/s"
        )
        if self.total:
            done = min(1.0, report.read / self.total)
            bar = "#" * int(done * 20)
            return f"[{bar:<20}] {done:4.0%}  {counts}"
        return counts

    def finish(self) -> None:
        """End the live line, so that the summary starts on its own line."""
        if self.live and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
