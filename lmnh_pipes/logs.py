"""Logging set-up for the CLI: readable text by default, or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "PipelineFilter", "setup_logging"]

#: Attributes a log call may pass in ``extra`` to say which record it concerns.
COORDINATES = ("topic", "partition", "offset")


class PipelineFilter(logging.Filter):
    """Stamps every log record with the pipeline's name."""

    def __init__(self) -> None:
        super().__init__()
        self.pipeline = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.pipeline = self.pipeline
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
        for key in COORDINATES:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        for key, value in getattr(record, "fields", {}).items():  # extra={"fields": {...}}: plain numbers
            out.setdefault(key, value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> PipelineFilter:
    """Send lmnh-pipes' logs to stderr as ``text`` or ``json``; return the filter that names the pipeline."""
    handler = logging.StreamHandler(sys.stderr)
    stamp = PipelineFilter()
    handler.addFilter(stamp)
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
