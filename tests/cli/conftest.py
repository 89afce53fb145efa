from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.plugin_example import plugin_example_site  # noqa: F401 -- a fixture used by the tests here

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/ as the working directory (pipelines name paths relative to it)."""
    shutil.copytree(
        ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("build", "*.egg-info", "out")
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path
