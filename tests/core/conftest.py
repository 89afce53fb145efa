from __future__ import annotations

from pathlib import Path

import pytest

from lmnh_pipes import Registry, hookimpl
from lmnh_pipes.plugins import get_registry
from lmnh_pipes.testing import ListSink, ListSource


class ListPlugin:
    """A test plug-in: in-memory source and sink types."""

    @hookimpl
    def lmnh_pipes_register(self, registry: Registry) -> None:
        registry.add_source("list", ListSource)
        registry.add_sink("memory", ListSink)


@pytest.fixture
def registry() -> Registry:
    return get_registry(extra=[ListPlugin()])


@pytest.fixture
def write(tmp_path: Path):
    def _write(text: str, name: str = "pipeline.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
