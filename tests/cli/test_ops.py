"""Operators' commands: tap, JSON logs, progress."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lmnh_pipes import RunReport
from lmnh_pipes.cli import main
from lmnh_pipes.progress import Progress

ROOT = Path(__file__).resolve().parents[2]


def test_tap_shows_rejections_with_reasons_and_writes_nothing(workdir):
    result = CliRunner().invoke(
        main, ["tap", "examples/quickstart.yaml", "--after", "kiosk", "--rejected", "--limit", "50"]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 50
    assert all(line["reject"]["validator"] in ("kiosk", "json") and line["reject"]["reason"] for line in lines)
    assert {line["reject"]["rule"] for line in lines} >= {"hours"}
    assert all(line["raw"] for line in lines)
    assert not (workdir / "out").exists(), "tap must not write to the sinks"


def test_tap_after_the_first_validator_shows_decoded_values(workdir):
    result = CliRunner().invoke(main, ["tap", "examples/quickstart.yaml", "--after", "0", "--limit", "3"])
    assert result.exit_code == 0, result.output
    values = [json.loads(line)["value"] for line in result.stdout.splitlines()]
    assert len(values) == 3
    assert all(set(v) >= {"at", "site"} for v in values)


def test_tap_names_the_validators_when_the_stage_is_unknown(workdir):
    result = CliRunner().invoke(main, ["tap", "examples/quickstart.yaml", "--after", "kisok"])
    assert result.exit_code == 2
    assert "no validator 'kisok' in this pipeline: its validators are json, kiosk" in result.output


def test_json_logs_one_object_per_line_with_the_pipeline(workdir):
    result = CliRunner().invoke(
        main,
        [
            "--log-format",
            "json",
            "--log-level",
            "info",
            "run",
            "examples/quickstart.yaml",
            "--status-interval",
            "0.001",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert logs
    assert all({"time", "level", "message", "pipeline", "component"} <= set(entry) for entry in logs)
    assert {entry["pipeline"] for entry in logs} == {"quickstart"}
    assert any(entry["component"] == "lmnh_pipes.progress" and "read" in entry["message"] for entry in logs)


def test_live_progress_shows_a_bar_for_a_known_size():
    import io

    stream = io.StringIO()
    show = Progress(stream, live=True, total=200)
    show(RunReport(pipeline="p", read=50, accepted=40, rejected=10, written=40))
    show.finish()
    text = stream.getvalue()
    assert "[#####               ]  25%  read 50  accepted 40  rejected 10  written 40" in text
    assert text.endswith("\n")
    endless = Progress(io.StringIO(), live=True)
    assert endless.line(RunReport(pipeline="p", read=1000), 2.0).startswith("read 1,000")
    assert "500/s" in endless.line(RunReport(pipeline="p", read=1000), 2.0)
