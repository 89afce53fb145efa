"""``reject_limit`` through ``lmnh-pipes run``: a burst of bad lines stops the run with exit 1 before the batch that
crossed the limit reaches either CSV file; a wrong limit is a configuration error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from lmnh_pipes.cli import main
from tests.cli.test_cli import read_csv

PIPELINE = """\
source: {type: file, path: in.txt, format: lines}
validators:
  - {type: json}
  - {type: range, field: val, min: 0, max: 4}
sink: {type: csv, path: out/accepted.csv, columns: [meta.offset, val]}
rejects: {type: csv, path: out/rejects.csv, columns: [meta.offset, reject.rule]}
batch: {max_records: 100, max_wait: 60}
reject_limit: {window: 100, max_share: 0.5}
"""

#: Lines 400-519 are a burst of bad ones (a quarter not JSON, the rest out of range); before and after it, one line
#: in fifty is bad.
BURST = range(400, 520)


def line(i: int) -> bytes:
    if i in BURST:
        return b"{not json" if i % 4 == 0 else b'{"val": 9}'
    return b"nope" if i % 50 == 7 else b'{"val": %d}' % (i % 5)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_bytes(b"".join(line(i) + b"\n" for i in range(1000)))
    return tmp_path


def test_a_burst_of_bad_lines_stops_the_run_before_its_batch_is_written(folder):
    (folder / "pipeline.yaml").write_text(PIPELINE)
    result = CliRunner().invoke(main, ["run", "pipeline.yaml"])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""  # a failed run prints no summary
    assert result.stderr == (
        "error: run failed: reject limit crossed: 100 of the last 100 records (100.0%) were rejected, more than "
        "max_share 0.5; top rules: range / range 75, json / json 25. The batch that crossed it was neither written "
        "nor acknowledged: once the cause is fixed, the next run reads it again\n"
    )
    # The batch of lines 400-499 crossed the limit: nothing of it, or after it, is in either file; all before is.
    accepted = [int(r["meta.offset"]) for r in read_csv(folder / "out/accepted.csv")]
    rejects = [int(r["meta.offset"]) for r in read_csv(folder / "out/rejects.csv")]
    assert accepted == [i for i in range(400) if i % 50 != 7]
    assert rejects == [i for i in range(400) if i % 50 == 7]


def test_with_the_limit_raised_the_same_input_runs_to_its_end(folder):
    (folder / "pipeline.yaml").write_text(PIPELINE.replace("max_share: 0.5", "max_share: 1"))
    result = CliRunner().invoke(main, ["run", "pipeline.yaml", "--json"])
    assert result.exit_code == 0, result.output
    accepted = read_csv(folder / "out/accepted.csv")
    rejects = read_csv(folder / "out/rejects.csv")
    assert len(accepted) + len(rejects) == 1000
    assert {int(r["meta.offset"]) for r in rejects} >= set(BURST)


@pytest.mark.parametrize(
    ("limit", "problem"),
    [
        ("{window: 100, max_share: 2}", "reject_limit.max_share: max_share must be a share between 0 and 1, found 2.0"),
        ("{window: 0}", "reject_limit.window: window must be a whole number of records, at least 1, found 0"),
        ("{window: 100, share: 0.5}", "reject_limit.share: unknown option 'share' (did you mean 'max_share'?)"),
    ],
)
def test_a_wrong_limit_is_a_configuration_error(folder, limit, problem):
    (folder / "pipeline.yaml").write_text(PIPELINE.replace("{window: 100, max_share: 0.5}", limit))
    for command in ("run", "check"):
        result = CliRunner().invoke(main, [command, "pipeline.yaml"])
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: pipeline.yaml:8: {problem}\n"
    assert not (folder / "out").exists()
