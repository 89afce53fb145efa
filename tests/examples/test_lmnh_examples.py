"""The museum's example pipelines: the quickstart, the generic-rules twin, and the production file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import lmnh_pipes
from lmnh_pipes.cli import main
from lmnh_pipes_kiosk import KioskSimulator

ROOT = Path(__file__).resolve().parents[2]
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")
MUSEUM_ENV = {
    "BOOTSTRAP_SERVERS": "b-1.museum.kafka.eu-west-2.amazonaws.com:9096",
    "SECURITY_PROTOCOL": "SASL_SSL",
    "SASL_MECHANISM": "SCRAM-SHA-512",
    "USERNAME": "museum",
    "PASSWORD": "s3cret-pw",
    "TOPIC": "lmnh",
    "G_ID": "kiosk-loader",
    "DB_HOST": "museum.abc.eu-west-2.rds.amazonaws.com",
    "DB_NAME": "museum",
    "DB_USERNAME": "loader",
    "DB_PASSWORD": "db-s3cret",
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("out", "build"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generic_rules_decide_exactly_like_the_kiosk_validator(workdir, seed):
    kiosk = lmnh_pipes.load("examples/quickstart.yaml").validators
    generic = lmnh_pipes.load("examples/lmnh/pipeline-generic.yaml").validators
    for v in (*kiosk, *generic):
        v.open()
    simulator = KioskSimulator(seed=seed, count=8000, clock="day", invalid_share=0.5)
    simulator.open()
    records = []
    while True:
        try:
            records += simulator.read(5000, 0)
        except lmnh_pipes.EndOfInput:
            break
    by_kiosk = [lmnh_pipes.apply_validators(kiosk, r) for r in records]
    by_generic = [lmnh_pipes.apply_validators(generic, r) for r in records]
    decisions = [(a.reject is None, b.reject is None) for a, b in zip(by_kiosk, by_generic, strict=True)]
    differ = [r.raw for r, (x, y) in zip(records, decisions, strict=True) if x != y]
    assert not differ, differ[:5]
    accepted = [(a.value, b.value) for a, b in zip(by_kiosk, by_generic, strict=True) if a.reject is None]
    assert all(x == y for x, y in accepted)
    assert 1000 < len(accepted) < 7000  # both kinds of decision are exercised


def test_quickstart_prints_rejections_by_rule(workdir):
    proc = subprocess.run([LMNH_PIPES, "run", "examples/quickstart.yaml"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for rule in ("hours", "keys", "types", "values", "exhibition"):
        assert f"kiosk / {rule}" in proc.stdout
    assert (workdir / "out/quickstart/rating.csv").stat().st_size > 0
    assert (workdir / "out/quickstart/request.csv").stat().st_size > 0


def test_production_pipeline_checks_with_the_museum_variables(workdir):
    result = CliRunner().invoke(main, ["check", "examples/lmnh/pipeline.yaml"], env=MUSEUM_ENV)
    assert result.exit_code == 0, result.output
    assert "KafkaSource -> 1 validator -> PostgresSink, rejects to PostgresSink" in result.output
    pipeline = lmnh_pipes.load("examples/lmnh/pipeline.yaml", environ=MUSEUM_ENV)
    settings = pipeline.source.consumer_settings()
    assert settings["security.protocol"] == "SASL_SSL"
    assert settings["sasl.mechanism"] == "SCRAM-SHA-512"
    for secret in ("s3cret-pw", "db-s3cret"):
        assert secret not in result.output
        assert secret not in repr(pipeline.source) + repr(pipeline.sink) + repr(pipeline.rejects)


def test_production_pipeline_names_every_missing_variable(workdir):
    result = CliRunner().invoke(main, ["check", "examples/lmnh/pipeline.yaml"], env=dict.fromkeys(MUSEUM_ENV))
    assert result.exit_code == 2
    for name in (
        "DB_HOST",
        "DB_NAME",
        "DB_USERNAME",
        "DB_PASSWORD",
        "BOOTSTRAP_SERVERS",
        "G_ID",
        "USERNAME",
        "PASSWORD",
    ):
        assert f"environment variable {name} is not set" in result.output
    assert result.output.count("DB_HOST") == 2  # once, though three components use it through an alias


def test_historical_csv_keeps_summer_and_winter_instants(workdir, monkeypatch):
    hist = workdir / "hist"
    hist.mkdir()
    (hist / "lmnh_hist_data_9.csv").write_text(
        "at,site,val,type\n"
        "2023-07-03 09:00:00,3,4,\n"  # summer: 08:00 UTC
        "2023-12-04 09:00:00,3,-1,1.0\n"  # winter: 09:00 UTC
        "2023-12-04 07:00:00,3,2,\n"  # before opening
        "2023-12-04 10:00:00,9,2,\n"  # no exhibition EXH_09
        "2023-12-04 10:00:00,3,2,0.0\n"  # a type on a rating
    )
    monkeypatch.setenv("HISTORICAL", str(hist))
    report = lmnh_pipes.load("examples/lmnh/historical.yaml").run()
    assert (report.read, report.accepted, report.rejected) == (5, 2, 3)
    assert report.rejected_by == {
        ("time_window", "hours"): 1,
        ("in_catalogue", "membership"): 1,
        ("rating-keys", "keys"): 1,
    }
    rating = (workdir / "out/historical/rating.csv").read_text().splitlines()
    request = (workdir / "out/historical/request.csv").read_text().splitlines()
    assert rating[1] == "2023-07-03T09:00:00+01:00,EXH_03,3,4,"
    assert request[1] == "2023-12-04T09:00:00+00:00,EXH_03,3,-1,1"
