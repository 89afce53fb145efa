"""The audit's arithmetic: which offsets of a span no store keeps, and which two stores keep."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lmnh_pipes.audit import _account, coverage
from lmnh_pipes.auditing import Kept, Span

SPAN = Span(topic="t", partition=0, low=10, high=30)


def islands_of(offsets: set[int]) -> tuple[tuple[int, int], ...]:
    runs: list[tuple[int, int]] = []
    for o in sorted(offsets):
        if runs and runs[-1][1] == o - 1:
            runs[-1] = (runs[-1][0], o)
        else:
            runs.append((o, o))
    return tuple(runs)


@given(st.sets(st.integers(0, 40)), st.sets(st.integers(0, 40)))
def test_coverage_is_what_no_store_and_both_stores_keep(rows: set[int], rejects: set[int]):
    kept = [
        Kept(span=SPAN, entries=len(rows), islands=islands_of(rows)),
        Kept(span=SPAN, entries=len(rejects), islands=islands_of(rejects)),
    ]
    missing, shared = coverage(SPAN, kept)
    span = set(range(SPAN.low, SPAN.high))
    assert missing == list(islands_of(span - rows - rejects))
    assert shared == list(islands_of(span & rows & rejects))


def test_an_account_names_the_first_missing_and_repeated_offsets():
    rows = Kept(span=SPAN, entries=12, islands=((10, 14), (20, 25)), repeated={12: 2})
    rejects = Kept(span=SPAN, entries=3, islands=((25, 27),))
    account = _account(SPAN, rows, rejects)
    assert (account.rows, account.rejects, account.missing, account.twice) == (12, 3, 7, 2)
    assert account.first_missing == (15, 16, 17, 18, 19)
    assert account.first_twice == (12, 25)
    assert "MISSING 7: 15, 16, 17, 18, 19, ... (2 more); TWICE 2: 12, 25" in account.line()
    assert not account.complete
    whole = _account(SPAN, Kept(span=SPAN, entries=20, islands=((10, 29),)), None)
    assert whole.complete
    assert whole.line() == "t[0]: offsets 10..29 (20): 20 rows, 0 rejects; complete"
