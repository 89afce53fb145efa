"""Every shipped source, sink and the kiosk validator has a section in docs/ that names each of its options."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmnh_pipes import get_registry
from lmnh_pipes.config import option_parameters

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = {"source": DOCS / "sources.md", "sink": DOCS / "sinks.md", "validator": DOCS / "validators.md"}
COMPONENTS = [
    ("source", "file"),
    ("source", "kafka"),
    ("source", "kiosk_simulator"),
    ("sink", "csv"),
    ("sink", "postgres"),
    ("sink", "kafka"),
    ("validator", "json"),
    ("validator", "kiosk"),
]


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
def test_the_docs_name_every_option(kind: str, name: str) -> None:
    text = PAGES[kind].read_text(encoding="utf-8")
    section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
    factory = get_registry().get(kind, name).factory  # type: ignore[arg-type, union-attr]
    options, _ = option_parameters(factory)
    missing = [o for o in options if o != "clock" and f"`{o}`" not in section]
    assert not missing, f"{PAGES[kind].name} ## {name} does not name {missing}"
