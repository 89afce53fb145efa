"""The delivery plan: decided once from the components, printed by check, carried by the run report."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lmnh_pipes import ConfigError, Guarantee, Pipeline
from lmnh_pipes.cli import main
from lmnh_pipes.testing import ListSink, ListSource

KAFKA = "{type: kafka, bootstrap_servers: 127.0.0.1:1, topic: t, group_id: g}"
POSTGRES = "{type: postgres, dsn: 'host=/nowhere dbname=x', table: t}"


def check(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("delivery: ")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        (
            f"name: p\nsource: {KAFKA}\nsink: {POSTGRES}\nrejects: {POSTGRES}\n",
            "delivery: exactly-once (rows, rejects and kafka offsets in one PostgreSQL transaction)",
        ),
        (
            f"name: p\nsource: {KAFKA}\nsink: {POSTGRES}\nrejects: {{type: csv, path: out/r.csv, append: true}}\n",
            "delivery: exactly-once (rows and kafka offsets in one PostgreSQL transaction; "
            "rejects written before each batch, at least once)",
        ),
        (
            f"name: p\nsource: {KAFKA}\nsink: {{type: csv, path: out/x.csv.bz2}}\n",
            "delivery: commits held until close (CsvSink makes its rows durable only when it closes: the source "
            "commits only then, so a crash re-reads everything since the last clean close)",
        ),
        (
            f"name: p\nsource: {KAFKA}\nsink: {{type: csv, path: out/x.csv, append: true}}\n",
            "delivery: at-least-once (kafka offsets committed after each batch is written)",
        ),
        (
            "source: {type: file, path: in.jsonl}\nsink: {type: csv, path: out/x.csv}\n",
            "delivery: at-least-once (the source keeps no position: a new run reads it again from the start)",
        ),
    ],
)
def test_check_prints_the_delivery_plan(tmp_path, monkeypatch, pipeline, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n')
    assert check(tmp_path, pipeline) == expected


def test_the_run_report_carries_the_plan():
    report = Pipeline(source=ListSource([b'{"n": 1}']), sink=ListSink(), rejects=ListSink()).run()
    assert report.delivery == "at-least-once (the source keeps no position: a new run reads it again from the start)"
    assert report.to_dict()["delivery"] == report.delivery
    assert f"delivery         {report.delivery}" in str(report)


def test_the_plan_is_decided_before_anything_opens():
    class Resuming(ListSource):
        positions_name = "test positions"

        def committed_positions(self) -> dict[tuple[str, int], int]:
            return {}

    class Overwriting(ListSink):
        def existing_output(self, others: object) -> str | None:
            return "out.txt holds rows"

        def keeping_output(self) -> str:
            return "set keep: yes"

    source, sink = Resuming([b"{}"]), Overwriting()
    pipeline = Pipeline(source=source, sink=sink)
    with pytest.raises(ConfigError, match=r"out\.txt holds rows, and opening would replace it.*set keep: yes"):
        pipeline.run()
    assert not source.opened
    assert not sink.opened


def test_guarantees_are_named_values():
    assert [g.value for g in Guarantee] == ["at-least-once", "exactly-once", "commits held until close"]
