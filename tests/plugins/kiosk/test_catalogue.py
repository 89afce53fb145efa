"""The exhibition catalogue: a folder, a glob, a file, S3 (moto's server); looked up by id, never by position."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from lmnh_pipes import ConfigError, Record
from lmnh_pipes_kiosk import KioskValidator

from .conftest import EXHIBITIONS, LATER, fixed, message, rule_of

AT = "2024-10-21T12:00:00+01:00"
ALL = {str(n): f"EXH_0{n}" for n in range(6)}


def sites_of(kiosk: KioskValidator) -> dict[str, str]:
    return {site: rec.value["exhibition"] for site in map(str, range(15)) if (rec := press(kiosk, site)).reject is None}


def press(kiosk: KioskValidator, site: str) -> Record:
    return kiosk.validate(Record(raw=message(AT, site=site)))


def write_exhibition(folder: Path, word: str, ident: object, **more: object) -> None:
    obj = {"EXHIBITION_NAME": word.title(), "EXHIBITION_ID": ident, "FLOOR": "1", **more}
    (folder / f"lmnh_exhibition_{word}.json").write_text(json.dumps(obj), encoding="utf-8")


def test_folder(catalogue):
    kiosk = KioskValidator(catalogue=catalogue, clock=fixed(LATER))
    kiosk.open()
    assert sites_of(kiosk) == ALL
    assert kiosk.exhibitions.objects["EXH_03"]["EXHIBITION_NAME"] == "Cetacean Sensations"
    assert kiosk.exhibitions.paths["EXH_05"].endswith("lmnh_exhibition_dino.json")


def test_folder_with_trailing_slash_and_unrelated_files(tmp_path):
    for path in EXHIBITIONS.glob("*.json"):
        shutil.copy(path, tmp_path)
    (tmp_path / "README.md").write_text("not an exhibition")
    (tmp_path / "lmnh_hist_data_0.csv").write_text("at,site,val,type\n")
    (tmp_path / "other.json").write_text("[1, 2]")
    kiosk = KioskValidator(catalogue=f"{tmp_path}/", clock=fixed(LATER))
    kiosk.open()
    assert sites_of(kiosk) == ALL


def test_glob_selects_files(catalogue):
    kiosk = KioskValidator(catalogue=f"{catalogue}/lmnh_exhibition_[dw]*.json", clock=fixed(LATER))
    kiosk.open()
    assert sites_of(kiosk) == {"5": "EXH_05", "3": "EXH_03"}  # dino and whales
    result = press(kiosk, "0")
    assert rule_of(result) == "exhibition"
    assert result.reject is not None
    assert "(EXH_03, EXH_05)" in result.reject.reason


def test_single_file(catalogue):
    kiosk = KioskValidator(catalogue=f"{catalogue}/lmnh_exhibition_cave.json", clock=fixed(LATER))
    kiosk.open()
    assert sites_of(kiosk) == {"0": "EXH_00"}


def test_lookup_is_by_id_not_by_position(tmp_path):
    # File names sort in the opposite order of the ids, and ids have gaps.
    write_exhibition(tmp_path, "aardvark", "EXH_11")
    write_exhibition(tmp_path, "beetle", "EXH_07")
    write_exhibition(tmp_path, "zebra", "EXH_00")
    kiosk = KioskValidator(catalogue=str(tmp_path), clock=fixed(LATER))
    kiosk.open()
    assert sites_of(kiosk) == {"0": "EXH_00", "7": "EXH_07", "11": "EXH_11"}


def test_custom_pattern(tmp_path):
    write_exhibition(tmp_path, "cave", "EXH_00")
    (tmp_path / "gallery_9.json").write_text(json.dumps({"EXHIBITION_ID": "EXH_09"}))
    kiosk = KioskValidator(catalogue=str(tmp_path), catalogue_pattern="gallery_*.json", clock=fixed(LATER))
    kiosk.open()
    assert sites_of(kiosk) == {"9": "EXH_09"}


def test_missing_catalogue_is_a_config_error(tmp_path):
    kiosk = KioskValidator(catalogue=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="does not exist"):
        kiosk.open()


def test_empty_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("no file matching 'lmnh_exhibition_*.json'")):
        KioskValidator(catalogue=str(tmp_path)).open()


def test_folder_of_unrelated_files_is_a_config_error(tmp_path):
    (tmp_path / "README.md").write_text("hello")
    (tmp_path / "exhibition.json").write_text("{}")
    with pytest.raises(ConfigError, match="no file matching"):
        KioskValidator(catalogue=str(tmp_path)).open()


def test_glob_matching_nothing_is_a_config_error(catalogue):
    with pytest.raises(ConfigError):
        KioskValidator(catalogue=f"{catalogue}/nothing_*.json").open()


@pytest.mark.parametrize(
    ("ident", "words"),
    [
        (None, "expected a string EXHIBITION_ID"),
        (3, "expected a string EXHIBITION_ID"),
        ("EXH_3", "is not 'EXH_'"),
        ("EXH_003", "is not 'EXH_'"),
        ("exh_03", "is not 'EXH_'"),
        ("EXH_0\uff13", "is not 'EXH_'"),
    ],
)
def test_bad_exhibition_id_is_a_config_error(tmp_path, ident, words):
    write_exhibition(tmp_path, "cave", "EXH_00")
    write_exhibition(tmp_path, "odd", ident)
    with pytest.raises(ConfigError, match=words) as exc:
        KioskValidator(catalogue=str(tmp_path)).open()
    assert "lmnh_exhibition_odd.json" in str(exc.value)


def test_duplicate_exhibition_id_is_a_config_error(tmp_path):
    write_exhibition(tmp_path, "cave", "EXH_00")
    write_exhibition(tmp_path, "grotto", "EXH_00")
    with pytest.raises(ConfigError, match="both hold EXHIBITION_ID 'EXH_00'"):
        KioskValidator(catalogue=str(tmp_path)).open()


def test_broken_catalogue_file_is_a_config_error(tmp_path):
    write_exhibition(tmp_path, "cave", "EXH_00")
    (tmp_path / "lmnh_exhibition_bad.json").write_text('{"EXHIBITION_ID": "EXH_01",}')
    with pytest.raises(ConfigError, match=re.escape("lmnh_exhibition_bad.json")):
        KioskValidator(catalogue=str(tmp_path)).open()


def test_validate_before_open_loads_lazily(catalogue):
    kiosk = KioskValidator(catalogue=catalogue, clock=fixed(LATER))
    assert press(kiosk, "3").value["exhibition"] == "EXH_03"
    assert rule_of(press(kiosk, "6")) == "exhibition"


def test_s3_catalogue(s3_env, s3_catalogue):
    kiosk = KioskValidator(catalogue=s3_catalogue, clock=fixed(LATER))
    kiosk.open()
    assert sites_of(kiosk) == ALL
    assert kiosk.exhibitions.paths["EXH_01"] == "s3://museum/exhibitions/lmnh_exhibition_bugs.json"
    assert kiosk.exhibitions.objects["EXH_01"]["DEPARTMENT"] == "Entomology"


def test_s3_glob(s3_env, s3_catalogue):
    kiosk = KioskValidator(catalogue=f"{s3_catalogue}lmnh_exhibition_c*.json", clock=fixed(LATER))
    kiosk.open()
    assert sites_of(kiosk) == {"0": "EXH_00"}  # cave


def test_s3_prefix_without_files_is_a_config_error(s3_env, s3_catalogue):
    with pytest.raises(ConfigError, match="no file matching"):
        KioskValidator(catalogue="s3://museum/nothing-here/").open()


def test_s3_missing_bucket_is_a_config_error(s3_env, s3_catalogue):
    with pytest.raises(ConfigError, match="cannot be listed"):
        KioskValidator(catalogue="s3://no-such-bucket/exhibitions/").open()
