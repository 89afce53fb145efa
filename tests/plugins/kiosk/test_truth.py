"""The simulator's known truth agrees with the validator, message by message; and the validator's fast path
(the kiosks' own spelling) agrees with its general path."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from lmnh_pipes import Record
from lmnh_pipes_kiosk import KINDS, KioskSimulator, KioskValidator, Message
from lmnh_pipes_rules import JsonValidator

from .conftest import EXHIBITIONS, rule_of

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def check_truth(catalogue: str, messages: list[Message], *, after_json: bool = False) -> Counter[tuple[str, str]]:
    now = [EPOCH]
    kiosk = KioskValidator(catalogue=catalogue, clock=lambda: now[0])
    kiosk.open()
    decoder = JsonValidator()
    seen: Counter[tuple[str, str]] = Counter()
    for m in messages:
        now[0] = EPOCH + timedelta(microseconds=m.sent_us)  # the validator reads it as it is sent
        record = Record(raw=m.raw)
        if after_json:
            record = decoder.validate(record)
            if record.reject is not None:
                assert m.rule == "json", (m, record.reject)
                seen[(m.expected, "json")] += 1
                continue
        result = kiosk.validate(record)
        assert rule_of(result) == m.rule, (m, result.reject)
        if m.rule == "":
            assert m.expected in ("rating", "request")
            assert result.value["kind"] == m.expected
            assert m.intended == m.expected
        elif m.expected == "out_of_hours":
            assert m.rule == "hours"
        else:
            assert m.expected == m.intended
        seen[(m.expected, m.rule)] += 1
    return seen


def test_truth_agrees_over_every_kind(catalogue):
    sim = KioskSimulator(seed=21, invalid_kinds=list(KINDS), start="2024-10-20")  # over the autumn change
    seen = check_truth(catalogue, list(sim.generate(15_000)))
    rules = {rule for (_, rule) in seen}
    assert rules == {"", "json", "keys", "types", "values", "exhibition", "timestamp", "hours", "future"}
    assert {expected for (expected, _) in seen} == {"rating", "request", "out_of_hours", *KINDS}
    assert seen[("rating", "")] > 10_000
    assert seen[("out_of_hours", "hours")] > 300


def test_truth_agrees_with_the_default_mix_after_json(catalogue):
    sim = KioskSimulator(seed=22, start="2025-03-29")  # over the spring change
    seen = check_truth(catalogue, list(sim.generate(12_000)), after_json=True)
    assert sum(n for (_, rule), n in seen.items() if rule == "") > 9_000


def test_truth_agrees_in_real_time(catalogue):
    kiosk = KioskValidator(catalogue=catalogue)
    sim = KioskSimulator(seed=23, clock="real", invalid_kinds=list(KINDS))
    rules = Counter()
    for m in sim.generate(3000):
        result = kiosk.validate(Record(raw=m.raw))
        assert rule_of(result) == m.rule, (m, result.reject)
        rules[m.rule] += 1
    assert rules["hours"] > 0  # the out_of_hours kind back-dates presses to the night, whatever the time now


def test_every_intended_valid_press_in_hours_is_accepted(catalogue):
    """Truth computed here, not taken from the simulator: a valid press is accepted exactly when in hours."""
    kiosk = KioskValidator(catalogue=catalogue, clock=lambda: datetime(2030, 1, 1, tzinfo=UTC))
    accepted = 0
    for m in KioskSimulator(seed=24).generate(10_000):
        result = kiosk.validate(Record(raw=m.raw))
        if m.intended in ("rating", "request"):
            wall = datetime.fromisoformat(json.loads(m.raw)["at"]).astimezone(LONDON).time()
            in_hours = time(8, 45) <= wall <= time(18, 15)
            assert (result.reject is None) == in_hours, (m, result.reject)
            accepted += in_hours
        else:
            assert result.reject is not None, m
    assert accepted > 7_500


# The fast path (the kiosks' spelling) against the general path, on many canonical-looking messages.
_digits = st.integers(min_value=0, max_value=99).map(lambda n: f"{n:02d}")
canonical_at = st.builds(
    lambda y, mo, d, h, mi, s, frac, sign, oh, om: f"{y:04d}-{mo}-{d}T{h}:{mi}:{s}{frac}{sign}{oh}:{om}",
    st.integers(min_value=0, max_value=9999),
    st.sampled_from(["00", "01", "02", "03", "06", "07", "10", "12", "13"]),
    st.sampled_from(["00", "01", "15", "28", "29", "30", "31", "32"]),
    st.integers(min_value=0, max_value=23).map(lambda n: f"{n:02d}"),
    st.sampled_from(["00", "14", "15", "44", "45", "59"]),
    st.sampled_from(["00", "30", "59"]),
    st.sampled_from(["", ".000000", ".000001", ".999999", ".254719"]),
    st.sampled_from(["+", "-"]),
    st.integers(min_value=0, max_value=23).map(lambda n: f"{n:02d}"),
    st.sampled_from(["00", "30", "45", "59"]),
)
any_fields = st.fixed_dictionaries(
    {
        "at": canonical_at,
        "site": st.sampled_from(["0", "3", "5", "6", "12", "99"]),
        "val": st.integers(min_value=-3, max_value=6),
    },
    optional={"type": st.integers(min_value=-1, max_value=2)},
)
sites = st.sampled_from(["0", "3", "5"])
likely_at = st.builds(
    lambda d, h, mi, s, frac, off: f"2024-{d}T{h}:{mi}:{s}{frac}{off}",
    st.sampled_from(["01-15", "03-31", "07-15", "10-27", "02-29", "02-30"]),
    st.sampled_from(["07", "08", "09", "12", "17", "18", "19", "23"]),
    st.sampled_from(["00", "14", "15", "44", "45", "59"]),
    st.sampled_from(["00", "59"]),
    st.sampled_from(["", ".000001", ".999999"]),
    st.sampled_from(["+00:00", "+01:00", "-00:00", "+05:30", "-04:00"]),
)
fields = st.one_of(
    any_fields,
    st.fixed_dictionaries({"at": likely_at, "site": sites, "val": st.integers(min_value=0, max_value=4)}),
    st.fixed_dictionaries(
        {"at": likely_at, "site": sites, "val": st.just(-1), "type": st.integers(min_value=0, max_value=1)}
    ),
)


@st.composite
def pressed(draw: st.DrawFn) -> tuple[dict[str, object], datetime]:
    """A press, and a "now" that is often within a couple of minutes of it (so the future rule matters)."""
    value = draw(fields)
    now = draw(st.datetimes(timezones=st.just(UTC)))
    try:
        at = datetime.fromisoformat(str(value["at"]))
        now = at.astimezone(UTC) + timedelta(seconds=draw(st.integers(min_value=-120, max_value=120)))
    except (ValueError, OverflowError):
        pass
    return value, now


@settings(max_examples=1000, deadline=None)
@given(case=pressed())
def test_fast_path_agrees_with_general_path(case):
    value, now = case
    catalogue = str(EXHIBITIONS)
    kiosk = KioskValidator(catalogue=catalogue, clock=lambda: now)
    canonical = json.dumps(value).encode()
    other = json.dumps(value, separators=(",", ":")).encode()
    fast, general = kiosk.validate(Record(raw=canonical)), kiosk.validate(Record(raw=other))
    event(f"rule {rule_of(fast) or 'accepted'}")
    assert (fast.reject is None) == (general.reject is None)
    if fast.reject is not None and general.reject is not None:
        assert (fast.reject.rule, fast.reject.reason) == (general.reject.rule, general.reject.reason)
    else:
        assert fast.value == general.value
        assert fast.value["at"].utcoffset() == general.value["at"].utcoffset()
    # a validator whose hour cache is already warm says the same
    again = kiosk.validate(Record(raw=canonical))
    assert (rule_of(again), again.value) == (rule_of(fast), fast.value)
    # after the json validator: the decoded-dict shortcut and the key-by-key path say the same, word for word
    decoded = json.loads(canonical)
    shortcut = kiosk.validate(Record(value=decoded, raw=canonical))
    by_key = kiosk._check_mapping(Record(value=decoded, raw=canonical), decoded)
    for result in (shortcut, by_key):
        assert rule_of(result) == rule_of(fast)
        assert (result.reject.reason if result.reject else None) == (fast.reject.reason if fast.reject else None)
        assert result.value == (fast.value if fast.reject is None else decoded)


@pytest.mark.parametrize(
    "now", [datetime(2024, 7, 15, 11, 59, 30, tzinfo=UTC), datetime(2024, 7, 15, 12, 30, tzinfo=UTC)]
)
def test_hour_cache_does_not_hide_the_future(catalogue, now):
    kiosk = KioskValidator(catalogue=catalogue, clock=lambda: now)
    ats = [f"2024-07-15T13:{m:02d}:00+01:00" for m in range(0, 60, 5)]
    got = [rule_of(kiosk.validate(Record(raw=json.dumps({"at": a, "site": "3", "val": 2}).encode()))) for a in ats]
    limit = now + timedelta(seconds=60)
    assert got == ["future" if datetime.fromisoformat(a) > limit else "" for a in ats]
