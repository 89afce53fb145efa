"""``lmnh-pipes test`` on examples/, as CI runs it; its exit codes and output; the same files under pytest."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from lmnh_pipes.cli import main
from lmnh_pipes.testfiles import read_suite

ROOT = Path(__file__).resolve().parents[2]
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")
KIOSK = Path("examples/lmnh/kiosk.test.yaml")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LMNH_PIPES, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def line_of(path: Path, text: str) -> int:
    """The 1-based line of ``path`` that holds ``text``."""
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def spoil(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


# -- as CI runs it --


def test_the_examples_pass_as_ci_runs_them() -> None:
    result = cli("test", "examples/", cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"(\d+) passed, 0 failed \(2 test files\)", lines[-1])
    assert all(line.startswith("PASS examples/") for line in lines[:-1]), lines
    assert {line.split("::")[0] for line in lines[:-1]} == {
        "PASS examples/quickstart.test.yaml",
        "PASS examples/lmnh/kiosk.test.yaml",
    }
    assert result.stderr == ""


def test_a_wrong_expectation_fails_with_a_readable_difference(workdir: Path) -> None:
    spoil(workdir / KIOSK, 'reason: "val 9 is out of range -1..4"', 'reason: "val 8 is out of range -1..4"')
    spoil(workdir / KIOSK, "{destination: rating_interaction, val: 4}", "{destination: request_interaction, val: 4.0}")
    reason, ends = line_of(workdir / KIOSK, "val 8 is out"), line_of(workdir / KIOSK, "val: 4.0}")
    first = line_of(workdir / KIOSK, '"site": "4", "val": 0}')
    result = cli("test", "examples/", cwd=workdir)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "FAIL examples/lmnh/kiosk.test.yaml::val and type out of range\n" in out
    assert (
        f'    line {reason}: rejected[0].reason: expected text containing "val 8 is out of range -1..4", '
        'got "val 9 is out of range -1..4 (-1 a request, 0..4 a rating)"\n'
    ) in out
    assert "FAIL examples/lmnh/kiosk.test.yaml::the ends of the ranges are accepted\n" in out
    assert (
        f"    line {ends}: accepted[1].destination: "
        'expected to go to "request_interaction", goes to "rating_interaction"\n'
        f"    line {ends}: accepted[1].val: expected 4.0 (a float), got 4 (an integer)\n"
        "    what came out:\n"
        f"      input 0 (line {first}): accepted, goes to rating_interaction: "
    ) in out
    assert re.search(r"^\d+ passed, 2 failed \(2 test files\)$", out, re.MULTILINE)


def test_a_malformed_test_file_exits_2_with_its_line(workdir: Path) -> None:
    spoil(
        workdir / KIOSK,
        '    input:\n      - \'{"at": "2024-10-21T09:21:24.254719"',
        '    inptu:\n      - \'{"at": "2024-10-21T09:21:24.254719"',
    )
    (workdir / "examples/broken.test.yaml").write_text(
        "pipeline: quickstart.yaml\ncases:\n  - name: [\n", encoding="utf-8"
    )
    result = cli("test", "examples/", cwd=workdir)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = result.stderr.splitlines()
    assert (
        "error: examples/broken.test.yaml:4: not valid YAML: expected the node content, but found '<stream end>'"
        in errors
    )
    line = next(i for i, text in enumerate((workdir / KIOSK).read_text().splitlines(), 1) if "inptu" in text)
    assert (
        f"error: examples/lmnh/kiosk.test.yaml:{line}: cases[13].inptu: unknown key 'inptu' (did you mean 'input'?)"
        in errors
    )
    # The good file still ran.
    assert "PASS examples/quickstart.test.yaml::a night-time press, counted" in result.stdout
    assert result.stdout.splitlines()[-1] == "3 passed, 0 failed, 2 test files with errors (3 test files)"


# -- through click --


def test_json_for_tools(workdir: Path) -> None:
    spoil(
        workdir / "examples/quickstart.test.yaml",
        "    accepted: 1\n    rejected: 1\n",
        "    accepted: 2\n    rejected: 1\n",
    )
    result = CliRunner().invoke(main, ["test", "--json", "examples/quickstart.test.yaml"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert (report["passed"], report["failed"], report["files"], report["errors"]) == (2, 1, 1, [])
    failed = [c for c in report["cases"] if not c["passed"]]
    assert [(c["case"], c["differences"]) for c in failed] == [
        (
            "a night-time press, counted",
            [
                {
                    "line": line_of(workdir / "examples/quickstart.test.yaml", "accepted: 2"),
                    "key": "accepted",
                    "message": "expected 2 accepted records, got 1",
                }
            ],
        )
    ]
    assert [o["accepted"] for o in failed[0]["outcomes"]] == [False, True]
    assert failed[0]["outcomes"][0]["reject"]["rule"] == "hours"
    assert failed[0]["outcomes"][0]["raw"] == '{"at": "2024-10-21T03:10:00+01:00", "site": "2", "val": 3}'
    assert failed[0]["outcomes"][1]["destination"] == "out/quickstart/rating.csv"


def test_json_carries_a_bad_files_errors(workdir: Path) -> None:
    (workdir / "bad.test.yaml").write_text("pipeline: nowhere.yaml\ncases: [{name: a, input: [x], accepted: 1}]\n")
    result = CliRunner().invoke(main, ["test", "--json", "bad.test.yaml"])
    assert result.exit_code == 2, result.output
    (error,) = json.loads(result.output)["errors"]
    assert (error["file"], error["line"], error["path"]) == ("bad.test.yaml", 1, "pipeline")
    assert error["text"].startswith("bad.test.yaml:1: pipeline: cannot read the pipeline file 'nowhere.yaml'")


def test_text_for_a_csv_file_source_exits_2_with_its_line(workdir: Path) -> None:
    (workdir / "rows.yaml").write_text(
        "source: {type: file, path: nowhere/in.csv, format: csv}\nvalidators: []\n"
        "sink: {type: csv, path: nowhere/out.csv}\n",
        encoding="utf-8",
    )
    (workdir / "rows.test.yaml").write_text(
        "pipeline: rows.yaml\ncases:\n  - name: a row as text\n    input: ['site,val']\n    accepted: 1\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["test", "rows.test.yaml"])
    assert result.exit_code == 2, result.output
    assert (
        "error: rows.test.yaml:4: cases[0].input[0]: the source cannot decode this input alone: a csv row is "
        "decoded by its file's header: give it as a value, {value: {column: text}}\n"
    ) in result.output
    assert result.output.splitlines()[-1] == "0 passed, 0 failed, 1 test file with errors (1 test file)"


def test_the_working_directory_is_the_default_and_no_test_file_is_an_error(workdir: Path) -> None:
    result = CliRunner().invoke(main, ["test"])
    assert result.exit_code == 0, result.output
    assert "PASS examples/lmnh/kiosk.test.yaml::a duplicate key" in result.output
    (workdir / "empty").mkdir()
    result = CliRunner().invoke(main, ["test", "empty"])
    assert result.exit_code == 2
    assert "error: no test files (*.test.yaml) under empty" in result.output
    assert CliRunner().invoke(main, ["test", "nowhere"]).exit_code == 2  # click: the path does not exist


def test_the_readme_example_runs(workdir: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Testing a pipeline") :]
    example = section[section.index("```yaml\n") + 8 : section.index("```\n", section.index("```yaml\n"))]
    (workdir / "examples/lmnh/readme.test.yaml").write_text(example, encoding="utf-8")
    result = CliRunner().invoke(main, ["test", "examples/lmnh/readme.test.yaml"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "1 passed, 0 failed (1 test file)"


# -- the museum's rules are all there --


def test_the_kiosk_tests_cover_every_rule_and_both_tables() -> None:
    suite = read_suite(ROOT / KIOSK)
    rules = set()
    destinations = set()
    for case in suite.cases:
        for expectation, kind in ((case.rejected, "rule"), (case.accepted, "destination")):
            for expected in (expectation.records or ()) if expectation is not None else ():
                found = {c.expected for c in expected.checks if c.key == kind}
                (rules if kind == "rule" else destinations).update(found)
    assert rules == {"json", "keys", "types", "values", "exhibition", "timestamp", "hours", "future"}
    assert destinations == {"rating_interaction", "request_interaction"}
    inputs = b"\n".join(r.raw for case in suite.cases for r in case.inputs)
    for edge in (
        b"T08:45:00.000000+01:00",
        b"T18:15:00.000000+01:00",
        b'"site": "03"',
        b'"val": 3.0',
        b'"val": 1, "val": 2',
    ):
        assert edge in inputs, edge


# -- under pytest --


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pytest_collects_a_case_as_an_item(workdir: Path) -> None:
    spoil(workdir / "examples/quickstart.test.yaml", "exhibition: EXH_03", "exhibition: EXH_3")
    result = pytest_in(workdir, "examples/quickstart.test.yaml", "-rf")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "collected 3 items" in out
    assert "FAIL examples/quickstart.test.yaml::a rating and a request go to their files\n" in out
    line = line_of(workdir / "examples/quickstart.test.yaml", "EXH_3")
    assert f'    line {line}: accepted[0].exhibition: expected "EXH_3", got "EXH_03"\n' in out
    assert "FAILED examples/quickstart.test.yaml::a rating and a request go to their files" in out
    assert re.search(r"1 failed, 2 passed", out)


def test_under_pytest_a_bad_test_file_is_a_collection_error_with_its_line(workdir: Path) -> None:
    (workdir / "examples/bad.test.yaml").write_text("pipeline: quickstart.yaml\ncases: 3\n", encoding="utf-8")
    result = pytest_in(workdir, "examples/bad.test.yaml")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ERROR collecting examples/bad.test.yaml" in result.stdout
    assert "examples/bad.test.yaml:2: cases: expected 'cases': a list of at least one case, found 3" in result.stdout


def test_pytest_can_turn_the_plugin_off(workdir: Path) -> None:
    result = pytest_in(workdir, "-p", "no:lmnh_pipes", "examples/", "--collect-only", "-q")
    assert "test.yaml" not in result.stdout
    assert result.returncode == 5, result.stdout + result.stderr  # no tests collected


def test_our_own_suite_does_not_collect_the_examples() -> None:
    """pytest collects every *.test.yaml it is pointed at; ours looks in tests/ only, where there is none (the test
    files these tests need are written to temporary folders), so the examples run once: through the CLI above."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert options["testpaths"] == ["tests"]
    assert list((ROOT / "tests").rglob("*.test.yaml")) == []
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]
    assert entry_points["pytest11"] == {"lmnh_pipes": "lmnh_pipes.pytest_plugin"}
