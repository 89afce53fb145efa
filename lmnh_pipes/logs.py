"""Logging set-up for the CLI: readable text by default, or one JSON object per line; repeats held back."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "PipelineFilter", "RepeatFilter", "setup_logging"]

#: Attributes a log call may pass in ``extra`` to say which record it concerns.
COORDINATES = ("topic", "partition", "offset")

#: A number standing alone (``retry 3 in 0.52 s``, ``after 0ms``, ``consumer-2``), not part of an address
#: (``127.0.0.1:9092``): two messages that differ only in such numbers are the same problem.
_NUMBER = re.compile(r"(?<![\d.:])\d+(?:\.\d+)?(?![\d.:])")


class PipelineFilter(logging.Filter):
    """Stamps every log record with the pipeline's name."""

    def __init__(self) -> None:
        super().__init__()
        self.pipeline = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.pipeline = self.pipeline
        return True


class RepeatFilter(logging.Filter):
    """Lets a warning (or worse) through once per ``interval`` seconds: a client library that retries an
    unreachable server logs the same failure many times a second, which would bury everything else.

    Two messages are the same when they come from the same logger at the same level and differ only in
    standalone numbers (a retry count, a delay). The first is shown at once; repeats within ``interval`` are
    counted and held back; the first one after it is shown with that count (``(and 41 more like this in the
    last 30 s)``, and ``repeated`` in JSON). Records below ``level`` always pass. A handler filter: install it with
    ``handler.addFilter(RepeatFilter())``; :func:`setup_logging` does.
    """

    def __init__(
        self, interval: float = 30.0, level: int = logging.WARNING, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval = interval
        self.level = level
        self._clock = clock
        self._lock = threading.Lock()
        # (logger, level, message with its numbers blanked) -> [when last shown, repeats held back since]
        self._seen: dict[tuple[str, int, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        message = record.getMessage()
        key = (record.name, record.levelno, _NUMBER.sub("#", message))
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.interval:
                seen[1] += 1
                return False
            held = int(seen[1]) if seen is not None else 0
            if len(self._seen) >= 1024:  # forget problems not seen for a while, keeping the map small
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.interval}
            self._seen[key] = [now, 0]
        if held:
            assert seen is not None
            shown = now - seen[0]
            record.msg, record.args = f"{message} (and {held} more like this in the last {shown:.0f} s)", None
            record.repeated = held
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message, pipeline, component, and a record's coordinates."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
            "pipeline": getattr(record, "pipeline", "") or None,
            "component": record.name,
        }
        for key in (*COORDINATES, "repeated"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        for key, value in getattr(record, "fields", {}).items():  # extra={"fields": {...}}: plain numbers
            out.setdefault(key, value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> PipelineFilter:
    """Send lmnh-pipes' logs to stderr as ``text`` or ``json``, repeated warnings held back
    (:class:`RepeatFilter`); return the filter that names the pipeline."""
    handler = logging.StreamHandler(sys.stderr)
    stamp = PipelineFilter()
    handler.addFilter(stamp)
    handler.addFilter(RepeatFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return stamp
