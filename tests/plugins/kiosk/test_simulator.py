"""The kiosk simulator: the mix, the spelling, determinism, count, rate, options."""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lmnh_pipes import EndOfInput
from lmnh_pipes_kiosk import DEFAULT_KINDS, KINDS, KioskSimulator
from lmnh_pipes_kiosk.clock import ZoneClock

LONDON = ZoneInfo("Europe/London")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOT_JSON_KINDS = {"not_json", "duplicate_key"}


def test_same_seed_same_bytes():
    first = [m.raw for m in KioskSimulator(seed=42).generate(5000)]
    again = [m.raw for m in KioskSimulator(seed=42).generate(5000)]
    other = [m.raw for m in KioskSimulator(seed=43).generate(5000)]
    assert first == again
    assert first != other
    timed = [raw for raw in first if raw.startswith(b'{"at": ')]
    assert len(set(timed)) == len(timed) > 4800  # a new moment for every message


def test_real_clock_same_seed_same_kinds_and_values():
    def shape(sim: KioskSimulator) -> list[tuple[str, object, object]]:
        out = []
        for m in sim.generate(2000):
            try:
                obj = json.loads(m.raw)
            except ValueError:
                obj = {}
            out.append((m.intended, obj.get("site"), obj.get("val")))
        return out

    assert shape(KioskSimulator(seed=5, clock="real")) == shape(KioskSimulator(seed=5, clock="real"))


def test_default_mix_matches_the_live_sample():
    n = 20_000
    kinds = Counter(m.intended for m in KioskSimulator(seed=3).generate(n))
    assert abs(kinds["rating"] / n - 0.807) < 0.02
    assert abs(kinds["request"] / n - 0.025) < 0.006
    invalid = sum(v for k, v in kinds.items() if k not in ("rating", "request"))
    assert abs(invalid / n - 0.168) < 0.015
    assert set(kinds) == {"rating", "request", *DEFAULT_KINDS}
    for kind in DEFAULT_KINDS:
        assert abs(kinds[kind] / n - KINDS[kind][0] / 100) < 0.006, kind
    sample = {"bad_site": 4.8, "missing_val": 1.9, "missing_at": 1.4, "missing_site": 1.0}
    for kind, percent in sample.items():
        assert abs(kinds[kind] / n * 100 - percent) < 0.6, kind
    assert abs((kinds["bad_type"] + kinds["request_without_type"]) / n * 100 - 4.2) < 0.6
    assert abs((kinds["bad_val"] + kinds["type_on_bad_val"]) / n * 100 - 3.5) < 0.6


def test_emergencies_are_rare_requests():
    requests = [json.loads(m.raw) for m in KioskSimulator(seed=1, request_share=0.5).generate(20_000)]
    types = Counter(r["type"] for r in requests if r.get("val") == -1 and r.get("type") in (0, 1))
    assert 0.03 < types[1] / (types[0] + types[1]) < 0.07


def test_day_clock_spreads_over_days_and_shows_out_of_hours_presses():
    messages = list(KioskSimulator(seed=0, start="2024-10-21").generate(4000))
    sent = [EPOCH + timedelta(microseconds=m.sent_us) for m in messages]
    assert sent == sorted(sent)
    assert sent[0] == datetime(2024, 10, 21, tzinfo=LONDON)
    assert timedelta(days=1.6) < sent[-1] - sent[0] < timedelta(days=2.4)  # 2000 messages a day
    expected = Counter(m.expected for m in messages)
    assert 0.03 < expected["out_of_hours"] / 4000 < 0.12
    # busier in opening hours: most messages, though fewer than half of the hours
    local_hours = Counter(s.astimezone(LONDON).hour for s in sent)
    assert sum(local_hours[h] for h in range(9, 18)) > 0.8 * 4000


def test_day_clock_start_with_time_and_offset():
    (m,) = KioskSimulator(start="2025-03-30T09:00:00+01:00").generate(1)
    assert EPOCH + timedelta(microseconds=m.sent_us) == datetime(2025, 3, 30, 8, 0, tzinfo=UTC)


def test_real_clock_is_now():
    before = datetime.now(UTC)
    messages = list(KioskSimulator(clock="real", invalid_share=0).generate(500))
    after = datetime.now(UTC)
    for m in messages:
        at = datetime.fromisoformat(json.loads(m.raw)["at"])
        assert before - timedelta(seconds=0.6) <= at <= after + timedelta(seconds=1.1)
        assert at.utcoffset() == at.astimezone(LONDON).utcoffset()


def test_messages_are_spelled_like_json_dumps_and_isoformat():
    sim = KioskSimulator(seed=11, start="2024-03-29", invalid_kinds=list(KINDS), messages_per_day=500)
    messages = list(sim.generate(20_000))  # 40 days from 29 March: over the spring clock change
    messages += list(KioskSimulator(seed=12, start="2024-10-25", messages_per_day=500).generate(3000))  # autumn
    seen_offsets = set()
    for m in messages:
        if m.intended in NOT_JSON_KINDS:
            continue
        obj = json.loads(m.raw)
        assert json.dumps(obj).encode() == m.raw
        assert list(obj) == [k for k in ("at", "site", "val", "type") if k in obj] or m.intended == "extra_key"
        if "at" in obj and m.intended != "bad_timestamp":
            at = datetime.fromisoformat(obj["at"])
            assert at.astimezone(LONDON).isoformat() == obj["at"]
            seen_offsets.add(obj["at"][-6:])
    assert seen_offsets == {"+00:00", "+01:00"}


def test_isoformat_without_fraction_when_microsecond_is_zero():
    zone = ZoneClock(LONDON)
    instant = datetime(2024, 7, 15, 11, 0, tzinfo=UTC)
    us = (instant - EPOCH) // timedelta(microseconds=1)
    assert zone.spell(us) == ("2024-07-15T12:00:00+01:00", 12 * 3600 * 10**6)
    assert zone.spell(us + 1)[0] == "2024-07-15T12:00:00.000001+01:00"


@pytest.mark.parametrize("zone_name", ["Europe/London", "Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe"])
def test_zone_clock_matches_isoformat(zone_name):
    zone = ZoneInfo(zone_name)
    clock = ZoneClock(zone)
    rng = random.Random(zone_name)
    low = (datetime(1830, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
    high = (datetime(2040, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
    instants = [rng.randrange(low, high) for _ in range(3000)]
    instants += [(i // 10**6) * 10**6 for i in instants[:500]]  # whole seconds
    for us in instants:
        moment = (EPOCH + timedelta(microseconds=us)).astimezone(zone)
        text, tod = clock.spell(us)
        assert text == moment.isoformat(), us
        assert tod == ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 10**6 + moment.microsecond


def test_count_then_end_of_input():
    sim = KioskSimulator(count=2500, seed=9)
    sizes, offsets = [], []
    while True:
        try:
            batch = sim.read(1000, 0.1)
        except EndOfInput:
            break
        sizes.append(len(batch))
        offsets += [r.meta.offset for r in batch]
    assert sizes == [1000, 1000, 500]
    assert offsets == list(range(2500))
    with pytest.raises(EndOfInput):
        sim.read(10, 0)
    twin = [m.raw for m in KioskSimulator(seed=9).generate(2500)]
    assert [r.raw for r in KioskSimulator(count=2500, seed=9).read(5000, 0)] == twin


def test_count_zero_ends_at_once():
    with pytest.raises(EndOfInput):
        KioskSimulator(count=0).read(10, 0)


def test_records_carry_meta():
    (record,) = KioskSimulator(topic="lmnh-test", seed=2).read(1, 0)
    (message,) = KioskSimulator(seed=2).generate(1)
    assert record.value is None
    assert record.raw == message.raw
    assert record.meta.source == "kiosk_simulator"
    assert record.meta.topic == "lmnh-test"
    assert record.meta.offset == 0
    assert record.meta.key is None
    assert record.meta.timestamp == EPOCH + timedelta(microseconds=message.sent_us)
    assert record.meta.timestamp is not None
    assert record.meta.timestamp.tzinfo is not None


def test_rate_is_roughly_honoured():
    sim = KioskSimulator(rate=200.0)
    got = 0
    started = time.monotonic()
    while time.monotonic() - started < 0.5:
        got += len(sim.read(1000, 0.05))
    elapsed = time.monotonic() - started
    assert 0.4 * 200 * elapsed <= got <= 200 * elapsed + 20


def test_rate_read_waits_at_most_the_timeout():
    sim = KioskSimulator(rate=0.5)
    assert len(sim.read(10, 0)) == 1  # the first message is due at once
    started = time.monotonic()
    assert sim.read(10, 0.1) == []
    assert time.monotonic() - started < 1.0


def test_only_the_kinds_asked_for():
    kinds = Counter(m.intended for m in KioskSimulator(invalid_kinds=["not_json"], invalid_share=0.5).generate(4000))
    assert set(kinds) == {"rating", "request", "not_json"}
    assert abs(kinds["not_json"] / 4000 - 0.5) < 0.05


def test_no_invalid_messages():
    kinds = Counter(m.intended for m in KioskSimulator(invalid_share=0, request_share=0).generate(2000))
    assert kinds == {"rating": 2000}


def test_custom_sites():
    sites = Counter(
        json.loads(m.raw)["site"] for m in KioskSimulator(sites=["1", "12"], invalid_share=0).generate(2000)
    )
    assert set(sites) == {"1", "12"}


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"clock": "wall"}, "clock: expected 'day' or 'real'"),
        ({"invalid_kinds": ["bad_sites"]}, "invalid_kinds: unknown kind 'bad_sites'"),
        ({"invalid_kinds": []}, "invalid_kinds: empty"),
        ({"invalid_share": 1.5}, "invalid_share: expected a share between 0 and 1"),
        ({"invalid_share": 0.9, "request_share": 0.2}, "must not exceed 1"),
        ({"emergency_share": -0.1}, "emergency_share"),
        ({"sites": []}, "sites: expected canonical decimal strings"),
        ({"sites": ["03"]}, "found '03'"),
        ({"start": "21/10/2024"}, "start: expected an ISO date"),
        ({"count": -1}, "count: expected"),
        ({"rate": 0.0}, "rate: expected a number > 0"),
        ({"messages_per_day": 0}, "messages_per_day"),
    ],
)
def test_invalid_options(options, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        KioskSimulator(**options)
