"""The museum's two PostgreSQL files read the same .env names, and the README lists exactly those names."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import lmnh_pipes
from lmnh_pipes.cli import main
from tests.examples.test_lmnh_examples import MUSEUM_ENV

ROOT = Path(__file__).resolve().parents[2]
FILES = ("examples/lmnh/pipeline.yaml", "examples/lmnh/catalogue.yaml")
_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(:-[^}]*)?\}")
#: The museum's .env, with made-up values: what the other example tests use, and the names with defaults.
VALUES = {**MUSEUM_ENV, "DB_PORT": "5433", "CATALOGUE": "examples/lmnh/exhibitions"}


def defaults(path: str) -> dict[str, str | None]:
    """Each variable a file reads, and its default (None: it must be set)."""
    names: dict[str, str | None] = {}
    for name, default in _VAR.findall((ROOT / path).read_text(encoding="utf-8")):
        names[name] = default[2:] if default else None
    return names


def used(path: str) -> dict[str, bool]:
    """Each variable a file reads, and whether it has a default."""
    return {name: default is not None for name, default in defaults(path).items()}


def readme_listing() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("The production file and the catalogue file read the museum's existing `.env` names")
    return " ".join(readme[start : readme.index("```bash", start)].split())


def readme_names() -> list[str]:
    """The names the README lists (a name's default, in brackets after it, is not a name)."""
    return re.findall(r"`([A-Z][A-Z0-9_]+)`", re.sub(r"\([^)]*\)", "", readme_listing()))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A copy of examples/ as the working directory, with no .env of its own."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("out", "build"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_both_files_name_the_database_alike():
    database = {name for name in used(FILES[0]) if name.startswith("DB_")}
    assert database == {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USERNAME", "DB_PASSWORD"}
    assert {name for name in used(FILES[1]) if name.startswith("DB_")} == database
    assert "DSN" not in used(FILES[1])


def test_the_readme_lists_exactly_the_names_the_files_read():
    listed = readme_names()
    assert len(listed) == len(set(listed))
    assert set(listed) == set(used(FILES[0])) | set(used(FILES[1])) == set(VALUES)
    listing = readme_listing()
    for path in FILES:
        for name, default in defaults(path).items():
            if default is not None:
                assert re.search(rf"`{name}`[^`]*\(default `?{re.escape(default)}`?\)", listing), (name, default)


def test_the_deploy_env_file_holds_the_same_names():
    example = (ROOT / "deploy/systemd/lmnh-pipes.env.example").read_text(encoding="utf-8")
    assert set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE)) == set(VALUES)


@pytest.mark.parametrize("path", FILES)
def test_each_file_loads_with_only_the_required_names(workdir, path):
    required = {name: VALUES[name] for name, has_default in used(path).items() if not has_default}
    pipeline = lmnh_pipes.load(path, environ=required)
    sink = pipeline.sink
    assert (sink.host, sink.port, sink.dbname, sink.user, sink.password) == (  # type: ignore[attr-defined]
        VALUES["DB_HOST"],
        5432,
        VALUES["DB_NAME"],
        VALUES["DB_USERNAME"],
        VALUES["DB_PASSWORD"],
    )


def test_both_files_check_with_the_museums_env_file(workdir):
    (workdir / ".env").write_text("".join(f"{k}='{v}'\n" for k, v in VALUES.items()))
    runner = CliRunner()
    conninfo = set()
    for path in FILES:
        # Nothing from the test's own environment: only the .env file in the working directory.
        result = runner.invoke(main, ["check", path], env=dict.fromkeys(VALUES))
        assert result.exit_code == 0, result.output
        assert VALUES["DB_PASSWORD"] not in result.output
        conninfo.add(lmnh_pipes.load(path, environ={}).sink.conninfo)  # type: ignore[attr-defined]
    assert len(conninfo) == 1  # one database, reached the same way
    assert "port=5433" in conninfo.pop()


def test_a_missing_name_is_named(workdir):
    result = CliRunner().invoke(main, ["check", FILES[1]], env=dict.fromkeys([*VALUES, "DSN"]))
    assert result.exit_code == 2
    for name in ("DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD"):
        assert f"environment variable {name} is not set" in result.output
