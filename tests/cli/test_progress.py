"""The progress line of ``lmnh-pipes run``, JSON status lines, and what one and two signals print."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmnh_pipes import EndOfInput, RunReport
from lmnh_pipes.capabilities import FractionDone
from lmnh_pipes.cli import main
from lmnh_pipes.progress import Progress
from lmnh_pipes_files import FileSource

ROOT = Path(__file__).resolve().parents[2]
LMNH_PIPES = str(Path(sys.executable).parent / "lmnh-pipes")
CLEAR = "\r\x1b[2K"


def frames(stderr: str) -> list[str]:
    """Every frame the live line drew, in order."""
    return [part.split("\n")[0] for part in stderr.split(CLEAR)[1:] if part.strip()]


def counts(frame: str) -> dict[str, int]:
    return {k: int(v.replace(",", "")) for k, v in re.findall(r"(read|accepted|rejected|written) ([\d,]+)", frame)}


def percent(frame: str) -> int:
    found = re.search(r"\]\s+(\d+)%", frame)
    assert found, frame
    return int(found.group(1))


@pytest.mark.parametrize(("limit", "expected_read"), [(1200, 1200), (100_000, 5000)])
def test_with_a_limit_the_bar_ends_full_showing_the_summarys_counts(workdir, limit, expected_read):
    # quickstart's simulator holds 5000 records: the total is the smaller of that and the limit.
    result = CliRunner().invoke(
        main, ["run", "examples/quickstart.yaml", "--limit", str(limit), "--progress", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["read"] == expected_read
    drawn = frames(result.stderr)
    assert drawn, result.stderr
    last = drawn[-1]
    assert percent(last) == 100
    assert counts(last) == {k: summary[k] for k in ("read", "accepted", "rejected", "written")}
    assert "left" not in last
    assert result.stderr.endswith("\n"), "the summary must start on a line of its own"


def write_lines(path: Path, n: int) -> bytes:
    data = b"".join(
        b'{"at": "2024-10-21T10:00:00Z", "site": "%d", "val": %d, "pad": "%s"}\n' % (i % 6, i % 5, b"x" * 40)
        for i in range(n)
    )
    path.write_bytes(data)
    return data


FILE_PIPELINE = """\
source: {type: file, path: big.txt}
validators: [{type: json}]
sink: {type: csv, path: out/accepted.csv}
batch: {max_records: 1000}
"""


def test_a_local_file_shows_how_far_it_is_and_the_time_left(workdir):
    write_lines(workdir / "big.txt", 40_000)  # about 4 MB, read 1 MB at a time
    (workdir / "p.yaml").write_text(FILE_PIPELINE)
    result = CliRunner().invoke(main, ["run", "p.yaml", "--progress"])
    assert result.exit_code == 0, result.output
    drawn = frames(result.stderr)
    during = [f for f in drawn[:-1] if 0 < percent(f) < 100]
    assert during, drawn
    assert all(re.search(r"\d+:\d\d left$", f) for f in during)
    assert [percent(f) for f in during] == sorted(percent(f) for f in during)
    assert percent(drawn[-1]) == 100
    assert counts(drawn[-1])["read"] == 40_000


def test_json_status_lines_carry_plain_fields_and_no_bar(workdir):
    write_lines(workdir / "big.txt", 40_000)
    (workdir / "p.yaml").write_text(FILE_PIPELINE)
    result = CliRunner().invoke(
        main,
        [
            "--log-format",
            "json",
            "--log-level",
            "info",
            "run",
            "p.yaml",
            "--status-interval",
            "0.001",
            "--limit",
            "30000",
        ],
    )
    assert result.exit_code == 0, result.output
    logs = [json.loads(line) for line in result.stderr.splitlines()]
    status = [entry for entry in logs if entry["component"] == "lmnh_pipes.progress"]
    assert status
    for entry in status:
        assert not {"#", "["} & set(entry["message"])
        assert (type(entry["read"]), type(entry["percent"])) == (int, float)
        assert entry["message"].startswith(f"{entry['percent']:.0f}%  read {entry['read']:,}")
    assert any("seconds_left" in entry for entry in status)
    assert all(entry["percent"] <= 100 for entry in status)


def test_file_source_fraction_done_counts_bytes_across_files_and_compression(tmp_path):
    first = write_lines(tmp_path / "a.txt", 30_000)
    with gzip.open(tmp_path / "b.txt.gz", "wb") as fh:
        fh.write(os.urandom(1 << 20).hex().encode() + b"\n" + first)  # incompressible: a real share of the bytes
    sizes = [(tmp_path / "a.txt").stat().st_size, (tmp_path / "b.txt.gz").stat().st_size]
    source = FileSource(path=str(tmp_path / "*"))
    assert isinstance(source, FractionDone)
    assert source.fraction_done() is None  # not opened: nothing known yet
    source.open()
    seen = []
    while True:
        try:
            source.read(5000, 0.1)
        except EndOfInput:
            break
        seen.append(source.fraction_done())
    source.close()
    assert all(f is not None for f in seen)
    fractions = [f for f in seen if f is not None]
    assert fractions == sorted(fractions)
    assert 0 < fractions[0] <= sizes[0] / sum(sizes)  # the first file's bytes, out of both
    assert any(sizes[0] / sum(sizes) < f < 1 for f in fractions)  # inside the compressed one
    assert source.fraction_done() == 1.0  # read to the end, and closed


def test_a_url_has_no_fraction(tmp_path):
    assert FileSource(path="https://example.invalid/x.jsonl").fraction_done() is None


def test_log_messages_go_above_the_live_line():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        show = Progress(stream, live=True, total=100)
        with show:
            show(RunReport(pipeline="p", read=40, accepted=30, rejected=10, written=30))
            logging.getLogger("lmnh_pipes.runner").warning("SIGINT received")
        assert handler.stream is stream, "the handler writes to its own stream again"
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    frame = text.split(CLEAR)[1]
    assert frame.startswith("[########            ]  40%  read 40")
    # The bar's line is cleared before the message, which has a line of its own; the bar comes back below it.
    assert f"{frame}{CLEAR}WARNING SIGINT received\n{CLEAR}{frame}" in text
    assert text.endswith("\n")


def slow_pipeline(workdir: Path) -> Path:
    path = workdir / "slow.yaml"
    text = (workdir / "examples/quickstart.yaml").read_text()
    path.write_text(text.replace("count: 5000", "count: 100000\n  rate: 2000") + "batch: {max_wait: 0.1}\n")
    return path


def start(workdir: Path, *args: str) -> subprocess.Popen[bytes]:
    # Bytes, not text: text mode would turn the live line's carriage returns into newlines.
    return subprocess.Popen(
        [LMNH_PIPES, "--log-level", "info", "run", str(slow_pipeline(workdir)), *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(proc: subprocess.Popen[bytes], needle: str, seen: list[str]) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode()
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} not seen in {''.join(seen)}")


def test_a_second_signal_stops_at_once_and_says_what_it_means(workdir):
    proc = start(workdir, "--progress")
    seen: list[str] = []
    try:
        wait_for(proc, "delivery: at-least-once", seen)
        time.sleep(0.5)  # a few batches, so that the live line is drawn
        proc.send_signal(signal.SIGINT)
        wait_for(proc, "SIGINT received", seen)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(seen) + stderr.decode()
    assert proc.returncode == 1, repr(text)
    assert stdout == b""
    first = re.search(r"(.*)SIGINT received: finishing the batch in hand, then stopping \((.*)\)\n", text)
    assert first, text
    # The bar was drawn, then its line cleared: the message starts on a clean line.
    before, _, prefix = first.group(1).rpartition(CLEAR)
    assert "%  read" in before, repr(text)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d [\d:,]+ WARNING lmnh_pipes\.runner: ", prefix), prefix
    assert first.group(2) == "a second SIGINT or SIGTERM stops at once, without writing it"
    assert "SIGINT received again: stopping at once, without writing the batch in hand" in text
    assert text.endswith(
        "\nerror: stopped at once by a second signal, without finishing the batch in hand: the source keeps no "
        "position, so the next run starts it afresh\n"
    )
    assert "Aborted!" not in text


def test_one_signal_drains_and_exits_0(workdir):
    proc = start(workdir, "--json")
    seen: list[str] = []
    try:
        wait_for(proc, "delivery: at-least-once", seen)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["stopped_by"] == "signal"
    assert "SIGTERM received: finishing the batch in hand" in "".join(seen) + stderr.decode()
