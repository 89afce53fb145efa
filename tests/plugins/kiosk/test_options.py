"""Options of the kiosk validator, its registration as a plug-in, pipeline files, and the de-bounce rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lmnh_pipes import ConfigError, Record, Registry, hookimpl, load
from lmnh_pipes.plugins import get_plugin_manager, get_registry
from lmnh_pipes.testing import ListSink
from lmnh_pipes_kiosk import KioskSimulator, KioskValidator

from .conftest import LATER, fixed, message, rule_of


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"open": "8:45"}, "open: expected a time of day HH:MM or HH:MM:SS, found '8:45'"),
        ({"open": "08:45 "}, "open: expected"),
        ({"open": "24:00"}, "open: expected"),
        ({"close": "18:60"}, "close: expected"),
        ({"close": "1095"}, "close: expected"),
        ({"close": "18:15:00Z"}, "close: expected"),
        ({"open": "18:16", "close": "18:15"}, "open: '18:16' is after close '18:15'"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone: unknown time zone 'Mars/Olympus_Mons'"),
        ({"timezone": ""}, "timezone: expected an IANA time zone name"),
        ({"timezone": "../../etc/passwd"}, "timezone: unknown time zone"),
        ({"max_future_seconds": -1.0}, "max_future_seconds: expected a number >= 0"),
        ({"max_future_seconds": float("nan")}, "max_future_seconds: expected a number >= 0"),
        ({"max_future_seconds": 1e300}, "max_future_seconds: expected at most"),
        ({"debounce_seconds": -0.5}, "debounce_seconds: expected a number >= 0"),
    ],
)
def test_invalid_options_raise_value_error_naming_the_option(catalogue, options, words):
    with pytest.raises(ValueError, match=re.escape(words)) as exc:
        KioskValidator(catalogue=catalogue, **options)
    assert not isinstance(exc.value, ConfigError)


def test_times_with_seconds(catalogue):
    kiosk = KioskValidator(catalogue=catalogue, open="08:45:30", close="18:14:59.5", clock=fixed(LATER))
    results = [
        rule_of(kiosk.validate(Record(raw=message(f"2024-01-15T{t}+00:00"))))
        for t in ("08:45:29.999999", "08:45:30", "18:14:59.500000", "18:14:59.500001")
    ]
    assert results == ["hours", "", "", "hours"]


def test_construction_does_not_touch_the_catalogue(tmp_path):
    KioskValidator(catalogue=str(tmp_path / "nowhere"))  # no error until open()


class _Memory:
    @hookimpl
    def lmnh_pipes_register(self, registry: Registry) -> None:
        registry.add_sink("memory", ListSink)


def _registry() -> Registry:
    import lmnh_pipes_kiosk
    import lmnh_pipes_rules

    pm = get_plugin_manager([lmnh_pipes_kiosk, lmnh_pipes_rules, _Memory()], load_entry_points=False)
    return get_registry(pm)


def test_entry_point_registers_both_types(monkeypatch):
    monkeypatch.setenv("LMNH_PIPES_PLUGINS", "kiosk")
    registry = get_registry()
    validator = registry.get("validator", "kiosk")
    source = registry.get("source", "kiosk_simulator")
    assert validator is not None
    assert source is not None
    assert validator.factory is KioskValidator
    assert source.factory is KioskSimulator
    assert validator.plugin == "kiosk"
    assert validator.distribution == "lmnh-pipes"
    assert validator.summary.startswith("The museum kiosk rules")


PIPELINE = """\
source:
  type: kiosk_simulator
  count: 3000
  seed: 7
  invalid_kinds: [bad_site, not_json, out_of_hours]
validators:
  - type: kiosk
    catalogue: {catalogue}
    open: 08:45
    close: "18:15:00"
    max_future_seconds: 30
sink:
  type: memory
rejects:
  type: memory
"""


def test_pipeline_file_builds_and_runs(tmp_path: Path, catalogue):
    path = tmp_path / "kiosk.yaml"
    path.write_text(PIPELINE.format(catalogue=catalogue), encoding="utf-8")
    pipeline = load(path, registry=_registry(), environ={})
    kiosk = pipeline.validators[0]
    assert isinstance(kiosk, KioskValidator)
    assert (kiosk.opening, kiosk.closing, kiosk.max_future_seconds) == ("08:45", "18:15:00", 30.0)
    assert isinstance(pipeline.source, KioskSimulator)
    assert pipeline.source.invalid_kinds == ["bad_site", "not_json", "out_of_hours"]

    report = pipeline.run(handle_signals=False)
    truth = list(
        KioskSimulator(count=3000, seed=7, invalid_kinds=["bad_site", "not_json", "out_of_hours"]).generate(3000)
    )
    assert report.read == 3000
    assert report.accepted == sum(m.rule == "" for m in truth)
    expected_rules: dict[str, int] = {}
    for m in truth:
        if m.rule:
            expected_rules[m.rule] = expected_rules.get(m.rule, 0) + 1
    assert {rule: n for (_, rule), n in report.rejected_by.items()} == expected_rules
    assert set(expected_rules) == {"exhibition", "types", "json", "hours"}
    assert isinstance(pipeline.sink, ListSink)
    assert all(r.value["kind"] in ("rating", "request") for r in pipeline.sink.records)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("    open: 8:45", "validators[0].open: expected a time of day"),
        ("    timezone: Europe/Londn", "validators[0].timezone: unknown time zone 'Europe/Londn'"),
        ("    debounce_seconds: soon", "validators[0].debounce_seconds: expected a number, found 'soon'"),
        ("    opening: 08:45", "validators[0].opening: unknown option 'opening'"),
    ],
)
def test_bad_option_in_a_pipeline_file_is_a_config_error(tmp_path, catalogue, line, words):
    text = PIPELINE.format(catalogue=catalogue).replace("    open: 08:45", line)
    path = tmp_path / "kiosk.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load(path, registry=_registry(), environ={})
    (problem,) = exc.value.problems
    assert words in f"{problem.path}: {problem.message}"
    assert problem.line == text.splitlines().index(line) + 1


def test_missing_catalogue_option_is_a_config_error(tmp_path, catalogue):
    text = PIPELINE.format(catalogue=catalogue).replace(f"    catalogue: {catalogue}\n", "")
    path = tmp_path / "kiosk.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="missing required option 'catalogue'"):
        load(path, registry=_registry(), environ={})


def test_run_with_missing_catalogue_fails_before_reading(tmp_path):
    path = tmp_path / "kiosk.yaml"
    path.write_text(PIPELINE.format(catalogue=tmp_path / "nowhere"), encoding="utf-8")
    pipeline = load(path, registry=_registry(), environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        pipeline.run(handle_signals=False)
    assert isinstance(pipeline.sink, ListSink)
    assert pipeline.sink.records == []


# The optional de-bounce rule.
def _press(kiosk: KioskValidator, at: str, site: str = "3", val: int = 2, type_: int | None = None) -> str:
    return rule_of(kiosk.validate(Record(raw=message(at, site, val, type_))))


def test_debounce_is_off_by_default(kiosk):
    assert [_press(kiosk, "2024-07-15T12:00:00+01:00") for _ in range(3)] == ["", "", ""]


def test_debounce_rejects_repeats_within_the_window(catalogue):
    kiosk = KioskValidator(catalogue=catalogue, debounce_seconds=2.0, clock=fixed(LATER))
    assert _press(kiosk, "2024-07-15T12:00:00+01:00") == ""
    assert _press(kiosk, "2024-07-15T12:00:01+01:00") == "debounce"
    assert _press(kiosk, "2024-07-15T11:00:02Z") == "debounce"  # the window is inclusive, whatever the offset
    assert _press(kiosk, "2024-07-15T12:00:01+01:00", val=3) == ""  # another value
    assert _press(kiosk, "2024-07-15T12:00:01+01:00", site="4") == ""  # another site
    assert _press(kiosk, "2024-07-15T12:00:02.5+01:00", val=3) == "debounce"  # 1.5 s after the accepted val 3
    result = kiosk.validate(Record(raw=message("2024-07-15T12:00:03+01:00", val=3)))
    assert rule_of(result) == "debounce"
    assert result.reject is not None
    assert 'site "3" repeats val 3 2.000000 s after its previous accepted press' in result.reject.reason
    assert "within the 2 s de-bounce window" in result.reject.reason
    assert _press(kiosk, "2024-07-15T12:00:03.000001+01:00", val=3) == ""  # just outside the window
    assert _press(kiosk, "2024-07-15T12:00:04+01:00", val=3) == "debounce"  # measured from the new press


def test_debounce_tells_requests_apart(catalogue):
    kiosk = KioskValidator(catalogue=catalogue, debounce_seconds=5, clock=fixed(LATER))
    assert _press(kiosk, "2024-07-15T12:00:00+01:00", val=-1, type_=0) == ""
    assert _press(kiosk, "2024-07-15T12:00:01+01:00", val=-1, type_=1) == ""
    assert _press(kiosk, "2024-07-15T12:00:02+01:00", val=-1, type_=1) == "debounce"


def test_debounce_ignores_rejected_presses_and_forgets_on_open(catalogue):
    kiosk = KioskValidator(catalogue=catalogue, debounce_seconds=5, clock=fixed(LATER))
    assert _press(kiosk, "2024-07-15T02:00:00+01:00") == "hours"
    assert _press(kiosk, "2024-07-15T12:00:00+01:00") == ""
    assert _press(kiosk, "2024-07-15T12:00:01+01:00") == "debounce"
    kiosk.open()
    assert _press(kiosk, "2024-07-15T12:00:02+01:00") == ""


def test_debounce_of_a_real_clock(catalogue):
    kiosk = KioskValidator(catalogue=catalogue, debounce_seconds=60, open="00:00", close="23:59:59.999999")
    now = datetime.now(UTC).isoformat()
    assert [_press(kiosk, now), _press(kiosk, now)] == ["", "debounce"]
