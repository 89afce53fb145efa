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
            "delivery: at-least-once (no stored position: a new run starts the source afresh)",
        ),
    ],
)
def test_check_prints_the_delivery_plan(tmp_path, monkeypatch, pipeline, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"n": 1}\n')
    assert check(tmp_path, pipeline) == expected


def test_the_run_report_carries_the_plan():
    report = Pipeline(source=ListSource([b'{"n": 1}']), sink=ListSink(), rejects=ListSink()).run()
    assert report.delivery is not None
    assert report.delivery.guarantee is Guarantee.AT_LEAST_ONCE
    line = "at-least-once (no stored position: a new run starts the source afresh)"
    assert str(report.delivery) == line
    assert report.to_dict()["delivery"] == line
    assert report.to_dict()["guarantee"] == "at-least-once"
    assert f"delivery         {line}" in str(report)


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


def test_a_capability_that_fails_to_answer_is_a_config_error_at_its_component():
    class Resuming(ListSource):
        def committed_positions(self) -> dict[tuple[str, int], int]:
            return {}

    class Unreadable(ListSink):
        def existing_output(self, others: object) -> str | None:
            raise PermissionError("out/: permission denied")

    with pytest.raises(ConfigError, match="cannot tell what opening would replace: PermissionError: out/"):
        Pipeline(source=Resuming([]), sink=Unreadable()).plan()


def test_held_commits_are_kept_beside_exactly_once():
    class Source(ListSource):
        def use_position_store(self, store: object, pipeline: str) -> None:
            return None

        def hold_commits(self) -> None:
            return None

        def release_commits(self) -> None:
            return None

    class Sink(ListSink):
        durable_writes = False

        def joins(self, rejects: object) -> bool:
            return False

        def stored_positions(self, pipeline: str, partitions: object) -> dict[tuple[str, int], int]:
            return {}

        def write_batch(self, pipeline: str, accepted: object, rejected: object, rejects: object) -> int:
            return 0

    plan = Pipeline(name="p", source=Source([]), sink=Sink()).plan()
    assert plan.guarantee is Guarantee.EXACTLY_ONCE
    assert plan.commits_held
