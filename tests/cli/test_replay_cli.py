"""``lmnh-pipes replay`` at its edges: what it refuses, and how."""

from __future__ import annotations

from click.testing import CliRunner

from lmnh_pipes.cli import main


def test_a_pipeline_without_rejects_has_nothing_to_replay(workdir):
    path = workdir / "no-rejects.yaml"
    path.write_text(
        "source: {type: kiosk_simulator, count: 10}\nvalidators: [{type: json}]\nsink: {type: csv, path: out/x.csv}\n"
    )
    result = CliRunner().invoke(main, ["replay", str(path)])
    assert result.exit_code == 2
    assert f"{path}: the pipeline has no rejects sink" in result.output
    assert "Traceback" not in result.output
    assert not (workdir / "out").exists()


def test_replay_refuses_a_count_below_one(workdir):
    result = CliRunner().invoke(main, ["replay", "examples/quickstart.yaml", "--max-replays", "0"])
    assert result.exit_code == 2
    assert "--max-replays" in result.output


def test_a_bad_pipeline_file_is_exit_2_with_its_line(workdir):
    path = workdir / "bad.yaml"
    path.write_text("source: {type: kiosk_simulator}\nsink: {type: csv, paht: x.csv}\n")
    result = CliRunner().invoke(main, ["replay", str(path)])
    assert result.exit_code == 2
    assert f"{path}:2" in result.output
    assert "did you mean" in result.output
