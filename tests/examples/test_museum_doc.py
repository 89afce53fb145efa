"""docs/museum.md is the kiosk validator's specification: its edge cases and its traffic table are checked here."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from lmnh_pipes import Record, apply_validators
from lmnh_pipes_kiosk import KioskSimulator, KioskValidator, traffic
from lmnh_pipes_kiosk.traffic import DEFAULT_KINDS, KINDS
from lmnh_pipes_rules import JsonValidator

ROOT = Path(__file__).resolve().parents[2]
MUSEUM = (ROOT / "docs" / "museum.md").read_text(encoding="utf-8")


def section(heading: str) -> str:
    """The text of ``heading``'s section, up to the next heading of any level."""
    start = MUSEUM.index(f"{heading}\n")
    end = MUSEUM.find("\n#", start + len(heading))
    return MUSEUM[start : end if end >= 0 else None]


EDGES = section("### Edge cases, checked by the tests")
#: Each row: | `message` | accepted or `rule` | why |
ROWS = re.findall(r"^\| `(.+?)` \| (accepted|`[a-z]+`) \| (.*) \|$", EDGES, re.MULTILINE)
(NOW,) = re.findall(r"now = (\S+Z)", EDGES)


def kiosk() -> KioskValidator:
    now = datetime.fromisoformat(NOW).astimezone(UTC)
    validator = KioskValidator(catalogue=str(ROOT / "examples/lmnh/exhibitions"), clock=lambda: now)
    validator.open()
    return validator


def test_the_table_is_read_whole():
    rows = [line for line in EDGES.splitlines() if line.startswith("| `")]
    assert len(ROWS) == len(rows) >= 60
    assert {verdict.strip("`") for _, verdict, _ in ROWS} == {
        "accepted",
        "json",
        "keys",
        "types",
        "values",
        "exhibition",
        "timestamp",
        "hours",
        "future",
    }


@pytest.mark.parametrize(("message", "verdict", "why"), ROWS, ids=[why for _, _, why in ROWS])
def test_every_edge_case_of_the_doc_holds(message, verdict, why):
    validator = kiosk()
    alone = validator.validate(Record.of(message))
    after_json = apply_validators([JsonValidator(), validator], Record.of(message))
    for record in (alone, after_json):
        got = "accepted" if record.reject is None else f"`{record.reject.rule}`"
        assert got == verdict, record.reject
    if verdict == "accepted":
        assert alone.value == after_json.value
        assert alone.value["kind"] == ("request" if alone.value["val"] == -1 else "rating")
        assert alone.value["exhibition"] == f"EXH_{int(alone.value['site']):02d}"
    else:
        assert alone.reject is not None
        assert alone.reject.validator == "kiosk"
        assert alone.raw == message.encode()


def test_the_simulators_kinds_and_weights_are_the_docs():
    traffic = section("## The traffic the simulator imitates")
    table = re.findall(r"^\| `([a-z_]+)` \| ([0-9.]+) \|", traffic, re.MULTILINE)
    assert [(kind, float(weight)) for kind, weight in table] == [(k, w) for k, (w, _) in KINDS.items()]
    assert tuple(kind for kind, _ in table[: len(DEFAULT_KINDS)]) == DEFAULT_KINDS


@pytest.mark.parametrize(
    ("london", "open_now"),
    [("2024-10-21T23:30:00+01:00", False), ("2025-01-15T07:00:00+00:00", False), ("2024-10-21T12:00:00+01:00", True)],
)
def test_a_real_clock_simulator_is_all_rejected_while_the_museum_is_closed(monkeypatch, london, open_now):
    # What docs/museum.md and docs/sources.md say of clock: real, at a fixed instant by night and by day.
    now = datetime.fromisoformat(london)
    monkeypatch.setattr(traffic, "time", SimpleNamespace(time_ns=lambda: int(now.timestamp() * 1e9)))
    validator = KioskValidator(catalogue=str(ROOT / "examples/lmnh/exhibitions"), clock=lambda: now)
    records = KioskSimulator(seed=7, count=2000, clock="real").read(2000, 0)
    verdicts = [validator.validate(r) for r in records]
    accepted = sum(v.reject is None for v in verdicts)
    by_hours = sum(v.reject is not None and v.reject.rule == "hours" for v in verdicts)
    if open_now:
        assert accepted > 0.75 * len(records)
        assert by_hours == 0
    else:
        assert accepted == 0
        assert by_hours > 0.75 * len(records)  # the valid-looking presses; the rest fail earlier rules
