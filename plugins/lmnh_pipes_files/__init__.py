"""File components that ship with lmnh-pipes: the ``file`` source and the ``csv`` sink (smart-open)."""

from __future__ import annotations

from lmnh_pipes import Registry, hookimpl

from .csv_sink import CsvSink
from .source import FileSource

__all__ = ["CsvSink", "FileSource", "lmnh_pipes_register"]


@hookimpl
def lmnh_pipes_register(registry: Registry) -> None:
    """Register the ``file`` source and the ``csv`` sink."""
    registry.add_source("file", FileSource)
    registry.add_sink("csv", CsvSink)
