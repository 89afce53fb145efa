"""The Routing capability: where the shipped sinks say a record would go, without opening anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmnh_pipes import Record
from lmnh_pipes.capabilities import Routing
from lmnh_pipes.conformance import conformance_problems
from lmnh_pipes.plugins import get_registry


def sink(type_name: str, **options: object) -> object:
    found = get_registry().get("sink", type_name)
    assert found is not None
    return found.factory(**options)


def test_postgres_says_the_table_of_a_records_route() -> None:
    routed = sink(
        "postgres",
        dsn="host=/nowhere dbname=x",
        route="kind",
        tables={"rating": {"table": "rating_interaction"}, "request": {"table": "public.request_interaction"}},
    )
    assert isinstance(routed, Routing)
    assert conformance_problems(routed, "sink") == []
    assert routed.destination(Record.of({"kind": "rating"})) == "rating_interaction"
    assert routed.destination(Record.of({"kind": "request"})) == "public.request_interaction"
    # The reason a run gives when it refuses the record (see PostgresSink._copy_records).
    with pytest.raises(ValueError, match=r"^no table for kind = 'None' \(routes: rating, request\)$"):
        routed.destination(Record.of({"val": 2}))
    one = sink("postgres", dsn="host=/nowhere dbname=x", table="kiosk_reject")
    assert isinstance(one, Routing)
    assert one.destination(Record.of({"kind": "anything"})) == "kiosk_reject"


def test_csv_says_the_file_of_a_records_split_by_value(tmp_path: Path) -> None:
    split = sink("csv", path=str(tmp_path / "out/{}.csv"), split_by="meta.topic")
    assert isinstance(split, Routing)
    assert conformance_problems(split, "sink") == []
    assert split.destination(Record.of({}, topic="rating")) == str(tmp_path / "out/rating.csv")
    assert split.destination(Record.of({}, topic="a/b c")) == str(tmp_path / "out/a_b_c.csv")
    assert split.destination(Record.of({})) == str(tmp_path / "out/_.csv")  # an empty topic
    by_value = sink("csv", path="out/{}.csv", split_by="kind")
    assert isinstance(by_value, Routing)
    assert by_value.destination(Record.of({"val": 1})) == "out/none.csv"
    one = sink("csv", path="out/rejects.csv")
    assert isinstance(one, Routing)
    assert one.destination(Record.of({"kind": "rating"})) == "out/rejects.csv"
    assert not (tmp_path / "out").exists()


def test_csv_writes_each_record_to_the_file_it_names(tmp_path: Path) -> None:
    split = sink("csv", path=str(tmp_path / "{}.csv"), split_by="kind", columns=["n"])
    assert isinstance(split, Routing)
    records = [Record.of({"kind": k, "n": i}) for i, k in enumerate(["rating", "request", "odd kind", "rating"])]
    split.open()  # type: ignore[attr-defined]
    split.write(records)  # type: ignore[attr-defined]
    split.close()  # type: ignore[attr-defined]
    for record in records:
        rows = Path(split.destination(record)).read_text().splitlines()
        assert str(record.value["n"]) in rows[1:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd_kind.csv", "rating.csv", "request.csv"]
