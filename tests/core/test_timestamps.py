"""The RFC 3339 parser: its fast path agrees with the exact reading."""

from __future__ import annotations

import re
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from lmnh_pipes.timestamps import _RFC3339, TimestampError, _parse_match, parse_rfc3339_exact


def _both(text: str) -> tuple[object, object]:
    try:
        fast: object = parse_rfc3339_exact(text)
    except TimestampError:
        fast = TimestampError
    m = _RFC3339.fullmatch(text)
    if m is None:
        return fast, TimestampError
    try:
        slow: object = _parse_match(m)
    except TimestampError:
        slow = TimestampError
    return fast, slow


def _same(fast: object, slow: object) -> bool:
    if fast is TimestampError or slow is TimestampError:
        return fast is slow
    assert isinstance(fast, tuple)
    assert isinstance(slow, tuple)
    return fast == slow and fast[0].utcoffset() == slow[0].utcoffset()


@given(st.from_regex(_RFC3339, fullmatch=True))
def test_fast_path_matches_exact_reading_on_any_syntax(text):
    fast, slow = _both(text)
    assert _same(fast, slow), (text, fast, slow)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from(["", ".5", ".000001", ".1234567", ".0000000", ".999999999"]),
    st.sampled_from(["Z", "+00:00", "-00:00", "+01:00", "+05:30", "-23:59", "+23:59", "+24:00", "-12:60"]),
    st.sampled_from(["T", " "]),
)
def test_fast_path_matches_exact_reading_on_real_times(when, fraction, offset, sep):
    text = when.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + fraction + offset
    fast, slow = _both(text)
    assert _same(fast, slow), (text, fast, slow)
    if fast is not TimestampError:
        assert fast[1] is bool(re.search(r"\.\d{6}\d*[1-9]", text))  # type: ignore[index]
