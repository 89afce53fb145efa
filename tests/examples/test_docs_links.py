"""The repository's documents point only inside the repository, and every link in them resolves.

A user has the repository and nothing beside it: no ``../shared`` folder, no file that was never committed.
Markdown links ``[text](path#anchor)`` must name a file (or folder) that exists, and an anchor that the target
page defines (a heading, as GitHub spells it, or an explicit ``id``). Any ``*.md`` file named in prose, a
docstring or a comment must exist too.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    {
        ROOT / "README.md",
        ROOT / "ARCHITECTURE.md",
        ROOT / "BENCHMARKS.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "deploy").rglob("*.md"),
        *(ROOT / "examples").rglob("*.md"),
    }
)
SOURCES = sorted(
    p
    for top in ("lmnh_pipes", "plugins", "examples", "benchmarks")
    for p in (ROOT / top).rglob("*")
    if p.suffix in {".py", ".yaml", ".ipynb", ".toml"}
    # build output, and the benchmark peers' environment (benchmarks/.peers-venv, made by benchmarks/run.py)
    and not {"build", ".peers-venv"} & set(p.relative_to(ROOT).parts)
)
ALL = DOCUMENTS + SOURCES

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_ID = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")
_MD_NAME = re.compile(r"[\w./-]*[\w-]\.md\b")


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code, where ``[x](y)`` is not a link."""
    return _CODE.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`|\*\*|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    found: set[str] = set(_ID.findall(text))
    seen: Counter[str] = Counter()
    for heading in _HEADING.findall(text):
        base = slug(heading)
        found.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_nothing_points_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "../shared" not in text, f"{rel(path)} points to ../shared, which users do not have"


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_every_markdown_file_named_exists(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    missing = sorted(
        {
            name
            for name in _MD_NAME.findall(text)
            if "://" not in name
            and not (path.parent / name).exists()
            and not (ROOT / name).exists()
            and not name.startswith(("http", "www."))
        }
    )
    assert not missing, f"{rel(path)} names files that are not in the repository: {missing}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=rel)
def test_every_link_resolves(path: Path) -> None:
    broken = []
    for target in _LINK.findall(prose(path.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        page = (path.parent / file).resolve() if file else path
        if not page.exists():
            broken.append(f"{target}: no file {file}")
        elif ROOT not in page.parents and page != ROOT:
            broken.append(f"{target}: outside the repository")
        elif anchor and page.suffix == ".md" and anchor not in anchors(page):
            broken.append(f"{target}: no heading or id #{anchor} in {rel(page)}")
    assert not broken, f"{rel(path)}: " + "; ".join(broken)


def test_the_checks_see_what_they_should() -> None:
    # The checks above would pass vacuously on a wrong pattern: make sure they find what they look for.
    readme = prose((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "docs/validators.md#kiosk" in _LINK.findall(readme)
    assert "the-rules-of-the-kiosk-validator" in anchors(ROOT / "docs" / "museum.md")
    assert "rule-7" in anchors(ROOT / "docs" / "museum.md")
    assert slug("The `kiosk_simulator` source") == "the-kiosk_simulator-source"
    assert _MD_NAME.findall("see ../shared/lmnh-data.md and docs/museum.md.") == [
        "../shared/lmnh-data.md",
        "docs/museum.md",
    ]
    assert ROOT / "plugins" / "lmnh_pipes_kiosk" / "validator.py" in SOURCES
