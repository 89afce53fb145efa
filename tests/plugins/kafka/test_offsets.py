"""The contiguous watermark: never commit past a record that was read but not done."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lmnh_pipes_kafka import OffsetTracker


def test_in_order():
    t = OffsetTracker()
    for o in range(5):
        t.read("t", 0, o)
    for o in range(3):
        t.done("t", 0, o)
    assert t.positions() == {("t", 0): 3}


def test_gap_holds_the_watermark():
    t = OffsetTracker()
    for o in (10, 11, 12, 13):
        t.read("t", 1, o)
    t.done("t", 1, 12)
    t.done("t", 1, 13)
    assert t.positions() == {}
    t.done("t", 1, 10)
    assert t.positions() == {("t", 1): 11}
    t.done("t", 1, 11)
    assert t.positions() == {("t", 1): 14}


def test_revoked_partition_is_forgotten_and_late_acks_ignored():
    t = OffsetTracker()
    t.read("t", 0, 0)
    t.forget("t", 0)
    t.done("t", 0, 0)
    assert t.positions() == {}


@given(
    st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=60),
    st.randoms(use_true_random=False),
    st.data(),
)
def test_watermark_is_first_offset_not_done(partitions, rnd, data):
    t = OffsetTracker()
    read: dict[int, list[int]] = {}
    for p in partitions:
        offsets = read.setdefault(p, [])
        offset = (offsets[-1] + 1 + data.draw(st.integers(0, 2))) if offsets else data.draw(st.integers(0, 5))
        offsets.append(offset)
        t.read("t", p, offset)
    everything = [(p, o) for p, offs in read.items() for o in offs]
    rnd.shuffle(everything)
    done: set[tuple[int, int]] = set()
    for p, o in everything[: data.draw(st.integers(0, len(everything)))]:
        t.done("t", p, o)
        done.add((p, o))
    for p, offsets in read.items():
        not_done = [o for o in offsets if (p, o) not in done]
        expected = None
        if not_done and not_done[0] != offsets[0]:
            expected = max(o for o in offsets if o < not_done[0]) + 1
        elif not not_done:
            expected = offsets[-1] + 1
        assert t.positions().get(("t", p)) == expected


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=50, unique=True), st.data())
def test_bulk_marks_agree_with_one_by_one(offsets, data):
    offsets.sort()
    split = data.draw(st.integers(0, len(offsets)))
    bulk, single = OffsetTracker(), OffsetTracker()
    bulk.read_many("t", 0, offsets)
    for o in offsets:
        single.read("t", 0, o)
    done = data.draw(st.sampled_from([offsets[:split], offsets[split:], offsets[::2]]))
    bulk.done_many("t", 0, list(done))
    for o in done:
        single.done("t", 0, o)
    assert bulk.positions() == single.positions()
    assert bulk.in_flight("t", 0) == single.in_flight("t", 0)
