"""What a new user trips on at the command line: options in the wrong place, tap, check, .env files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmnh_pipes.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "option", "fixed"),
    [
        (["run", "x.yaml", "--log-level", "info"], "--log-level", "lmnh-pipes --log-level info run x.yaml"),
        (
            ["run", "--log-format=json", "x.yaml", "--limit", "5"],
            "--log-format",
            "lmnh-pipes --log-format=json run x.yaml --limit 5",
        ),
        (["check", "x.yaml", "--version"], "--version", "lmnh-pipes --version check x.yaml"),
        (["plugins", "--log-level", "debug", "--json"], "--log-level", "lmnh-pipes --log-level debug plugins --json"),
    ],
)
def test_a_global_option_after_the_command_says_where_it_goes(args, option, fixed):
    result = CliRunner().invoke(main, args, prog_name="lmnh-pipes")
    assert result.exit_code == 2
    assert f"No such option: {option} ({option} is a global option: give it before the command" in result.stderr
    assert f"as in: {fixed})" in result.stderr


def test_a_misspelt_global_option_after_the_command_gets_a_did_you_mean():
    result = CliRunner().invoke(main, ["run", "--log-formt", "json", "x.yaml"], prog_name="lmnh-pipes")
    assert result.exit_code == 2
    assert "did you mean --log-format, a global option? it goes before the command" in result.stderr


def test_a_misspelt_command_option_keeps_clicks_suggestion():
    result = CliRunner().invoke(main, ["run", "--limt", "5", "x.yaml"])
    assert result.exit_code == 2
    assert "(Did you mean one of: '--idle-timeout', '--limit'?)" in result.stderr
    assert "global option" not in result.stderr


def test_tap_needs_no_variable_of_the_sinks_it_does_not_build(workdir, monkeypatch):
    monkeypatch.delenv("OUT_DIR", raising=False)
    pipeline = Path("examples/quickstart.yaml")
    text = pipeline.read_text().replace("path: out/quickstart/", "path: ${OUT_DIR:?set OUT_DIR to the output folder}/")
    pipeline.write_text(text)
    run = CliRunner().invoke(main, ["run", str(pipeline)])
    assert run.exit_code == 2
    assert "sink.path: ${OUT_DIR}: set OUT_DIR to the output folder" in run.stderr
    tap = CliRunner().invoke(main, ["tap", str(pipeline), "--after", "kiosk", "--limit", "3"])
    assert tap.exit_code == 0, tap.output
    assert [set(json.loads(line)) >= {"value", "offset"} for line in tap.stdout.splitlines()] == [True] * 3
    assert not (workdir / "out").exists()


def test_tap_after_a_misspelt_validator_gets_a_did_you_mean(workdir):
    result = CliRunner().invoke(main, ["tap", "examples/quickstart.yaml", "--after", "kisok"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: no validator 'kisok' in this pipeline: its validators are json, kiosk (did you mean 'kiosk'?)\n"
    )
    far = CliRunner().invoke(main, ["tap", "examples/quickstart.yaml", "--after", "schema"])
    assert "(or a position from 0 to 1)" in far.stderr


BROKEN = """\
source: {type: file, path: nope/*.txt}
validators:
  - type: kiosk
    catalogue: /nowhere
    open: "08:45"
    close: "18:15"
    timezone: Europe/London
sink: {type: csv, path: out/x.csv, colums: [a]}
"""


def test_check_reports_the_offline_checks_beside_a_part_that_does_not_build(workdir):
    Path("broken.yaml").write_text(BROKEN)
    result = CliRunner().invoke(main, ["check", "broken.yaml"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: broken.yaml:8: sink.colums: unknown option 'colums' (did you mean 'columns'?)",
        "error: broken.yaml:3: validators[0]: catalogue '/nowhere' does not exist",
        "error: broken.yaml:1: source.path: no file matches 'nope/*.txt' "
        f"(relative to the working directory {workdir})",
    ]
    # run is not slowed by checks: it stops at what does not build.
    run = CliRunner().invoke(main, ["run", "broken.yaml"])
    assert run.exit_code == 2
    assert run.stderr == "error: broken.yaml:8: sink.colums: unknown option 'colums' (did you mean 'columns'?)\n"


def test_check_online_says_each_problem_once(workdir):
    Path("broken.yaml").write_text(BROKEN.replace(", colums: [a]", ""))
    result = CliRunner().invoke(main, ["check", "--online", "broken.yaml"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: broken.yaml:3: validators[0]: catalogue '/nowhere' does not exist",
        "error: broken.yaml:1: source.path: no file matches 'nope/*.txt' "
        f"(relative to the working directory {workdir})",
    ]


def test_a_malformed_env_file_line_exits_2_with_file_and_line(workdir):
    Path(".env").write_text("OUT_DIR=out\n\n# the database\nPGPASSWORD\n")
    for command in (["run", "examples/quickstart.yaml"], ["check", "examples/quickstart.yaml"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2
        assert result.stderr == (
            f"error: {workdir / '.env'}:4: expected KEY=value, found a line without '=' "
            "(a line is KEY=value, a # comment or blank)\n"
        )


def test_the_summary_is_printed_with_signals_ignored():
    # A late second Ctrl-C, after the run ended as asked, must not kill the process mid-summary (exit by signal).
    import signal

    from lmnh_pipes.stopping import signals_ignored

    before = signal.getsignal(signal.SIGINT)
    with signals_ignored():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is before
