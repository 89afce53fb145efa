"""The README says what the quickstart prints and what ``run`` offers, truly."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

from lmnh_pipes.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")


def paragraph(start: str) -> str:
    """The README's paragraph (or bullet) that begins with ``start``."""
    at = README.index(start)
    end = re.compile(r"\n\s*\n|\n- ").search(README, at)
    return README[at : end.start() if end else None]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, object]]:
    """The quickstart's summary, as text and as ``--json``, run as the README says, in a copy of examples/."""
    work = tmp_path_factory.mktemp("quickstart")
    shutil.copytree(ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("out", "build"))
    out = []
    for extra in ([], ["--json"]):
        proc = subprocess.run(
            [LMNH_PIPES, "run", "examples/quickstart.yaml", "--no-progress", *extra],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        out.append(proc.stdout)
    return out[0], json.loads(out[1])


def test_the_quickstart_block_is_what_it_prints(quickstart):
    text, _ = quickstart
    block = README.split("It prints what it did:\n\n```text\n", 1)[1].split("```", 1)[0]
    shown = [line for line in block.splitlines() if line.strip() != "..."]
    printed = text.splitlines()
    assert len(shown) >= 10
    # Every line shown is printed, in the same order (the "..." lines stand for the time and the rate).
    positions = [printed.index(line) for line in shown]
    assert positions == sorted(positions), (shown, printed)


def test_the_quickstart_sentence_counts_what_it_rejects(quickstart):
    _, summary = quickstart
    by_rule = {(r["validator"], r["rule"]): r["count"] for r in summary["rejected_by"]}
    night = by_rule[("kiosk", "hours")]  # valid-looking presses made while the museum is closed
    read, rejected = summary["read"], summary["rejected"]
    invalid = rejected - night  # malformed in the ways of the live stream, refused by an earlier rule
    sentence = " ".join(paragraph("The quickstart simulates").split())
    assert f"{read:,} presses" in sentence
    assert f"{invalid:,} (a sixth, as in the live stream) are invalid" in sentence
    assert round(6 * invalid / read) == 1
    assert f"{night:,} more look valid but were made at night" in sentence
    assert f"{rejected:,} rejected in all, {round(100 * rejected / read)}%" in sentence


def test_every_option_of_run_is_in_the_readme():
    run = main.commands["run"]
    names = [opt for p in run.params if isinstance(p, click.Option) for opt in (*p.opts, *p.secondary_opts)]
    assert {"--json", "--progress", "--no-progress"} <= set(names)
    missing = [name for name in names if f"`{name}" not in README]
    assert not missing, f"README.md does not mention {missing}"


def test_every_option_of_replay_is_in_its_section():
    section = README.split("## Rejects: see them, fix the cause, replay them", 1)[1].split("\n## ", 1)[0]
    replay = main.commands["replay"]
    names = [opt for p in replay.params if isinstance(p, click.Option) for opt in p.opts]
    assert {"--rule", "--validator", "--dry-run", "--max-replays", "--limit"} <= set(names)
    missing = [name for name in names if f"`{name}" not in section and name not in ("--env-file", "--traceback")]
    assert not missing, f"the README's replay section does not mention {missing}"


def test_the_readme_names_every_key_of_run_json(quickstart):
    _, summary = quickstart
    bullet = paragraph("- **Summary**")
    assert "`--json`" in bullet
    missing = [key for key in summary if f"`{key}`" not in bullet]
    assert not missing, f"the Summary bullet does not name {missing}"
    assert f"`{summary['guarantee']}`" in bullet
    assert f"`{summary['stopped_by']}`" in bullet


def test_the_replay_example_prints_what_the_readme_shows(tmp_path):
    section = README.split("## Rejects: see them, fix the cause, replay them", 1)[1]
    path, content = re.search(r"its file, `(examples/[^`]+\.json)`:\n\n\s*```json\n(.*?)```", section, re.S).groups()
    shown = textwrap.dedent(section.split("and prints:\n\n", 1)[1].split("```text\n", 1)[1].split("```", 1)[0])
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("out", "build"))

    def lmnh_pipes(*args: str) -> str:
        proc = subprocess.run([LMNH_PIPES, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    lmnh_pipes("run", "examples/quickstart.yaml", "--no-progress")
    json.loads(content)  # the file shown is a JSON object the catalogue reads
    (tmp_path / path).write_text(content)
    assert lmnh_pipes("replay", "examples/quickstart.yaml", "--rule", "exhibition") == shown
    again = json.loads(lmnh_pipes("replay", "examples/quickstart.yaml", "--rule", "exhibition", "--json"))
    assert (again["accepted"], again["written"]) == (0, 0)
