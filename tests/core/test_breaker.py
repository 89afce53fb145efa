"""The reject-rate breaker's window: counted a batch at a time, judged after every record."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmnh_pipes import Record, RejectLimit
from lmnh_pipes.breaker import Crossing, RejectWindow

GOOD = Record.of({"n": 1})


def bad(rule: str = "json", validator: str = "json") -> Record:
    return GOOD.rejected_by(validator, "refused", rule)


def records(flags: list[bool]) -> list[Record]:
    return [bad() if f else GOOD for f in flags]


def naive(flags: list[bool], sizes: list[int], window: int, max_share: float) -> list[tuple[int, int, int] | None]:
    """Per batch: (peak rejects, records read in the window then, index of the batch's record) of the first point
    where the last ``window`` records held the most rejects while over the limit; recounted record by record."""
    most = Fraction(str(max_share)) * window
    out: list[tuple[int, int, int] | None] = []
    start = 0
    for size in sizes:
        best: tuple[int, int, int] | None = None
        for i in range(start, start + size):
            last = flags[max(0, i + 1 - window) : i + 1]
            count = sum(last)
            if count > most and (best is None or count > best[0]):
                best = (count, len(last), i)
        out.append(best)
        start += size
    return out


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[bool], list[int], int, float]:
    window = draw(st.integers(1, 40))
    max_share = draw(st.sampled_from([0.0, 0.1, 0.29, 0.5, 0.75, 1.0]))
    sizes = draw(st.lists(st.integers(1, 60), max_size=12))
    # Runs of one kind, so that bursts happen: a uniform draw would almost never cross a high share.
    flags: list[bool] = []
    while len(flags) < sum(sizes):
        flags += [draw(st.booleans())] * draw(st.integers(1, 30))
    return flags[: sum(sizes)], sizes, window, max_share


@given(streams())
def test_the_window_agrees_with_a_recount_after_every_record(stream):
    flags, sizes, window, max_share = stream
    counter = RejectWindow(RejectLimit(window=window, max_share=max_share))
    expected = naive(flags, sizes, window, max_share)
    start = 0
    for size, want in zip(sizes, expected, strict=True):
        got = counter.add(records(flags[start : start + size]))
        start += size
        if want is None:
            assert got is None
        else:
            assert got is not None
            assert (got.rejected, got.read) == want[:2]
            assert got.rules == [(("json", "json"), want[0])]
        assert counter.rejected == sum(flags[max(0, start - window) : start])
        assert counter.read == start
        assert counter.share == counter.rejected / window


@given(st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=1, max_size=80), st.integers(1, 30))
def test_a_crossing_names_the_rules_of_the_rejects_in_the_window_at_its_peak(rules, window):
    batch = [GOOD if r is None else bad(r, "v") for r in rules]
    crossing = RejectWindow(RejectLimit(window=window, max_share=0.0)).add(batch)
    if all(r is None for r in rules):
        assert crossing is None
        return
    assert crossing is not None
    peak_end = max(
        range(1, len(rules) + 1),
        key=lambda end: (sum(r is not None for r in rules[max(0, end - window) : end]), -end),
    )
    seen = rules[max(0, peak_end - window) : peak_end]
    assert dict(crossing.rules) == {("v", r): n for r, n in Counter(r for r in seen if r is not None).items()}
    assert [n for _, n in crossing.rules] == sorted((n for _, n in crossing.rules), reverse=True)


def test_the_message_names_the_share_and_the_top_rules():
    limit = RejectLimit(window=1000, max_share=0.5)
    window = RejectWindow(limit)
    assert window.add([GOOD] * 266) is None
    assert window.add([GOOD] * 300) is None
    crossing = window.add([bad("exhibition", "kiosk")] * 700 + [bad()] * 34 + [bad("a", "b"), bad("c", "d")])
    assert crossing is not None
    assert str(crossing).startswith(
        "reject limit crossed: 736 of the last 1,000 records (73.6%) were rejected, more than max_share 0.5; "
        "top rules: kiosk / exhibition 700, json / json 34, b / a 1. "
    )
    assert "neither written nor acknowledged" in str(crossing)


def test_before_the_window_is_full_the_records_not_yet_read_count_as_accepted():
    window = RejectWindow(RejectLimit(window=1000, max_share=0.5))
    assert window.add([bad()] * 500) is None  # 500 of 1,000 is not more than half
    assert window.share == 0.5
    crossing = window.add([bad()])
    assert crossing is not None
    assert (crossing.rejected, crossing.read) == (501, 501)
    assert str(crossing).startswith(
        "reject limit crossed: 501 of the first 501 records (50.1% of a window of 1,000) were rejected"
    )


def test_a_burst_inside_a_batch_larger_than_the_window_is_caught():
    window = RejectWindow(RejectLimit(window=100, max_share=0.5))
    crossing = window.add([GOOD] * 1000 + [bad()] * 80 + [GOOD] * 1000)
    assert crossing is not None
    assert (crossing.rejected, crossing.read) == (80, 100)
    assert window.rejected == 0  # the end of the batch alone would not have shown it


def test_max_share_is_taken_as_written():
    # 0.29 * 100 is 28.999999999999996 in binary floating point: 29 rejects must not cross it.
    assert 0.29 * 100 < 29
    window = RejectWindow(RejectLimit(window=100, max_share=0.29))
    assert window.add([GOOD] * 71 + [bad()] * 29) is None
    assert window.add([bad()]) is not None


def test_a_share_of_zero_stops_at_the_first_reject_and_one_never():
    assert RejectWindow(RejectLimit(window=10, max_share=0)).add([GOOD, GOOD, bad()]) is not None
    assert RejectWindow(RejectLimit(window=10, max_share=1)).add([bad()] * 50) is None


def test_the_rules_of_a_crossing_come_from_earlier_batches_too():
    window = RejectWindow(RejectLimit(window=10, max_share=0.5))
    assert window.add([GOOD] * 2 + [bad("early")] * 3) is None
    assert window.add([bad("late")] * 2 + [GOOD]) is None
    crossing = window.add([GOOD, bad("later"), GOOD])
    assert isinstance(crossing, Crossing)
    # The window at the peak: both earlier batches and the third's first two records.
    assert (crossing.rejected, crossing.read) == (6, 10)
    assert crossing.rules == [(("json", "early"), 3), (("json", "late"), 2), (("json", "later"), 1)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"window": 0}, "window must be a whole number of records, at least 1, found 0"),
        ({"window": 2.5}, "window must be a whole number of records, at least 1, found 2.5"),
        ({"window": True}, "window must be a whole number of records, at least 1, found True"),
        ({"max_share": 1.5}, "max_share must be a share between 0 and 1, found 1.5"),
        ({"max_share": -0.1}, "max_share must be a share between 0 and 1, found -0.1"),
        ({"max_share": math.nan}, "max_share must be a share between 0 and 1, found nan"),
    ],
)
def test_the_options_are_checked(options, message):
    with pytest.raises(ValueError, match="must be") as exc:
        RejectLimit(**options)
    assert str(exc.value) == message
