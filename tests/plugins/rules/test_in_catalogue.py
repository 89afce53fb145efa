"""in_catalogue against the six real exhibition files (selected by name among unrelated files)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lmnh_pipes import ConfigError, Record
from lmnh_pipes_rules import InCatalogue

from .helpers import EXHIBITIONS, reason, rule, run

PATTERN = "lmnh_exhibition_*.json"


def exhibitions(**options: object) -> InCatalogue:
    settings: dict[str, object] = {
        "field": "site",
        "catalogue": str(EXHIBITIONS),
        "pattern": PATTERN,
        "key": "EXHIBITION_ID",
        "format": "EXH_{:02d}",
    }
    settings.update(options)
    return InCatalogue(**settings)  # type: ignore[arg-type]


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    """The six files beside unrelated ones, as in the museum's bucket."""
    folder = tmp_path / "bucket"
    shutil.copytree(EXHIBITIONS, folder)
    (folder / "notes.json").write_text('{"EXHIBITION_ID": "EXH_99"}')
    (folder / "readme.txt").write_text("not json")
    return folder


@pytest.mark.parametrize("site", ["0", "1", "2", "3", "4", "5", 3])
def test_every_real_site_is_accepted_and_gets_its_exhibition(site):
    v = exhibitions(target="exhibition")
    v.open()
    out = run(v, {"site": site, "val": 2})
    assert out.reject is None
    assert out.value == {"site": site, "val": 2, "exhibition": f"EXH_{int(site):02d}"}


@pytest.mark.parametrize("site", ["6", "12", "99", "-1", 6])
def test_unknown_sites_are_rejected(site):
    v = exhibitions()
    v.open()
    assert rule(v, {"site": site}) == "membership"


def test_reason_names_the_value_the_key_and_the_catalogue():
    assert reason(exhibitions(), {"site": "6"}) == (
        f'site is "6": no EXHIBITION_ID "EXH_06" in catalogue {EXHIBITIONS}'
    )


@pytest.mark.parametrize(
    "site", ["03", " 3", "3 ", "\uff13", "EXH_03", "None", "INF", "", "-0", "3.0", 3.0, True, None]
)
def test_non_canonical_sites_are_rejected_as_types(site):
    out = run(exhibitions(), {"site": site})
    assert out.reject is not None
    assert out.reject.rule == "types"
    assert "canonical decimal integer" in out.reject.reason


def test_a_huge_number_is_rejected_not_raised():
    assert rule(exhibitions(), {"site": "9" * 5000}) == "types"
    assert rule(exhibitions(), {"site": "9" * 4000}) == "membership"


def test_the_pattern_selects_files_among_unrelated_ones(catalogue):
    v = exhibitions(catalogue=str(catalogue))
    v.open()
    assert v.catalogue_keys == {f"EXH_{n:02d}" for n in range(6)}
    assert rule(v, {"site": "99"}) == "membership"
    everything = exhibitions(catalogue=str(catalogue), pattern="*.json")  # readme.txt is still left out
    everything.open()
    assert reason(everything, {"site": "99"}) is None


def test_a_glob_location(catalogue):
    v = exhibitions(catalogue=str(catalogue / "lmnh_exhibition_*.json"))
    v.open()
    assert len(v.catalogue_keys) == 6


def test_without_format_the_value_is_the_key():
    v = exhibitions(field="exhibition", format=None)
    v.open()
    assert reason(v, {"exhibition": "EXH_03"}) is None
    assert rule(v, {"exhibition": "EXH_06"}) == "membership"
    assert rule(v, {"exhibition": 3}) == "membership"
    assert rule(v, {"exhibition": ["EXH_03"]}) == "membership"


def test_integer_keys_are_not_matched_by_booleans_or_floats(tmp_path):
    for n in (0, 1):
        (tmp_path / f"item{n}.json").write_text(json.dumps({"id": n}))
    v = InCatalogue(field="f", catalogue=str(tmp_path), key="id")
    assert reason(v, {"f": 1}) is None
    assert rule(v, {"f": True}) == "membership"
    assert rule(v, {"f": 1.0}) == "membership"
    assert rule(v, {"f": "1"}) == "membership"


def test_loads_lazily_without_open_and_close_forgets():
    v = exhibitions()
    assert reason(v, {"site": "3"}) is None
    v.close()
    assert reason(v, {"site": "3"}) is None


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        exhibitions(catalogue=str(tmp_path / "nowhere")).open()


def test_empty_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"holds no file matching 'lmnh_exhibition_\*\.json'"):
        exhibitions(catalogue=str(tmp_path)).open()


def test_folder_without_matching_files_is_a_config_error(catalogue):
    with pytest.raises(ConfigError, match="holds no file matching"):
        exhibitions(catalogue=str(catalogue), pattern="lmnh_gallery_*.json").open()


def test_objects_without_the_key_are_a_config_error():
    with pytest.raises(ConfigError, match="has no 'EXHIBITION_NUMBER' field"):
        exhibitions(key="EXHIBITION_ID".replace("ID", "NUMBER")).open()


def test_duplicate_keys_are_a_config_error(catalogue):
    shutil.copy(catalogue / "lmnh_exhibition_dino.json", catalogue / "lmnh_exhibition_dino2.json")
    with pytest.raises(ConfigError, match='both have EXHIBITION_ID "EXH_05"'):
        exhibitions(catalogue=str(catalogue)).open()


def test_lazy_load_of_a_bad_catalogue_raises_config_error(tmp_path):
    v = exhibitions(catalogue=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError):
        v.validate(Record.of({"site": "3"}))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "EXH_{}{}"}, "format: 'EXH_{}{}' is not a str.format template"),
        ({"format": "EXH_{:s}"}, "format: 'EXH_{:s}' is not a str.format template"),
        ({"format": "EXH_{id}"}, "format: 'EXH_{id}' is not a str.format template"),
        ({"key": ""}, "key: expected a non-empty string"),
        ({"target": "meta.key"}, "target: 'meta.key' cannot be set"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        exhibitions(**options)


def test_target_may_be_nested():
    out = run(exhibitions(target="lookup.exhibition"), {"site": "0"})
    assert out.value == {"site": "0", "lookup": {"exhibition": "EXH_00"}}
