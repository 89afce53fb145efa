"""The layers: plug-in packages depend on ``lmnh_pipes`` and never on each other; the core knows no plug-in.

A helper that two plug-ins need belongs in the core's public API, not in one of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "lmnh_pipes"
PLUGINS = ROOT / "plugins"
PLUGIN_PACKAGES = sorted(p.name for p in PLUGINS.iterdir() if (p / "__init__.py").is_file())


def imported_packages(path: Path) -> set[str]:
    """The top-level packages that a module imports by absolute name (``import a.b``, ``from a.b import c``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found


def test_there_are_plugin_packages_to_check() -> None:
    assert len(PLUGIN_PACKAGES) >= 5, PLUGIN_PACKAGES


@pytest.mark.parametrize("package", PLUGIN_PACKAGES)
def test_a_plugin_package_imports_no_other_plugin_package(package: str) -> None:
    others = set(PLUGIN_PACKAGES) - {package}
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & others)
        for path in sorted((PLUGINS / package).rglob("*.py"))
        if imported_packages(path) & others
    }
    assert not offending, f"share it through lmnh_pipes' public API instead: {offending}"


def test_the_core_imports_no_plugin_package() -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & set(PLUGIN_PACKAGES))
        for path in sorted(CORE.rglob("*.py"))
        if imported_packages(path) & set(PLUGIN_PACKAGES)
    }
    assert not offending, offending


def test_the_core_names_no_plugin_package() -> None:
    """Not even in a docstring or a string that a dynamic import could use."""
    offending = [
        f"{path.relative_to(ROOT)}: {package}"
        for path in sorted(CORE.rglob("*.py"))
        for package in PLUGIN_PACKAGES
        if package in path.read_text(encoding="utf-8")
    ]
    assert not offending, offending


def test_the_check_sees_an_import_of_another_plugin(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import json\nfrom lmnh_pipes import Record\nfrom lmnh_pipes_rules.x import y\nfrom . import z\n")
    assert imported_packages(module) == {"json", "lmnh_pipes", "lmnh_pipes_rules"}
