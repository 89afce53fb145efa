"""Where a source with a position store starts a partition: the store's positions, read through a short outage
with the core's RetryPolicy; if the store stays down or refuses, the run fails rather than start elsewhere."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import confluent_kafka as ck
import pytest

from lmnh_pipes import RetryPolicy, RunError, TransientError
from lmnh_pipes_kafka import offsets as kafka_offsets
from lmnh_pipes_kafka import source as kafka_source
from tests.plugins.kafka.test_held_commits import Assigning, partitions
from tests.plugins.kafka.test_read_runs import source_with


@attrs.define
class Store:
    """Fails ``failures`` times with ``error``, then holds partition 0 at offset 7."""

    failures: int
    error: Exception = attrs.field(factory=lambda: TransientError("database down"))
    calls: int = 0

    def stored_positions(self, pipeline: str, wanted: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {("t", 0): 7}


@pytest.fixture(autouse=True)
def quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_offsets, "STORE_RETRY", RetryPolicy(initial=0.001, max_backoff=0.002, max_elapsed=0.2))


def assign(store: Store) -> tuple[kafka_source.KafkaSource, Assigning]:
    source = source_with([], assigned=[])
    consumer = Assigning([])
    source.use_position_store(store, "p")  # type: ignore[arg-type]
    source._on_assign(consumer, partitions(0, 1))  # type: ignore[arg-type]
    return source, consumer


def test_an_outage_of_the_store_is_retried_and_its_positions_used() -> None:
    store = Store(failures=2)
    source, consumer = assign(store)
    assert store.calls == 3
    assert consumer.assigned == [{0: 7, 1: ck.OFFSET_INVALID}]
    assert source._fatal is None


def test_a_store_that_stays_down_fails_the_run_at_the_next_read() -> None:
    source, consumer = assign(Store(failures=10**9))
    assert consumer.assigned == []
    with pytest.raises(RunError, match=r"reading the stored positions still failing after \d+ s: database down"):
        source.read(10, 0.01)


def test_a_store_that_refuses_is_not_retried() -> None:
    store = Store(failures=1, error=RuntimeError("no such table"))
    source, consumer = assign(store)
    assert store.calls == 1
    assert consumer.assigned == []
    with pytest.raises(RunError, match="cannot read the stored positions: no such table"):
        source.read(10, 0.01)
