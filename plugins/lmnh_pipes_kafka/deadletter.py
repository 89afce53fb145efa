"""A dead-letter topic as a store of rejects, for ``lmnh-pipes replay``: read by position, settled by producing.

A topic cannot delete a message, so a replay keeps a **position** per partition of the dead-letter topic: the
messages before it are settled, those from it on are the rejects still stored. One replay reads each partition
from its position; it leaves an accepted reject behind the position (its row is written), produces a reject still
refused again to the same partition (its new reason, one more replay counted), and produces again, unchanged, one
that it did not choose (another rule), so that a later replay finds it past the position. Every message that a
replay produces carries that replay's id (``lmnh.replay-run``) and the message it copies (``lmnh.replayed-from``).

Where the position is kept:

- beside a sink that writes rows and positions in one transaction (the POSITIONED mode of
  :func:`lmnh_pipes.replay.plan_replay`), in that sink, under ``replay_name(pipeline)``: a partition with no
  position there starts at the beginning. The consumer group's offsets are committed too, for monitoring, but
  are never read back: :meth:`KafkaReplay.settle` commits them before the sink's transaction does;
- otherwise in the replay's consumer group (the sink's ``replay_group``), committed by :meth:`KafkaReplay.settle`
  after it produced its copies; a partition without a commit starts at the beginning. A crash between writing
  rows and settling writes those rows again: at least once.

**When a replay ends.** The watermarks of some brokers are wrong, so the end of a partition is never read from
them. A partition ends at the first message that this replay produced (everything that was there when the replay
started lies before it, because a topic appends); the replay ends when every partition has, or when nothing has
arrived for ``replay_idle`` seconds (a partition where it produced nothing; time the broker is reported down does
not count).

**Copies left by a crash, and why the first one read is the one that counts.** A replay settles a batch (produces
its copies) before the batch's position is stored: the other order would lose the rejects still refused if it
crashed in between. So a replay killed after producing copies and before storing the position leaves them behind:
the next replay reads the originals again from the old position, produces copies of its own, and later reads the
first replay's copies too. This module marks those as :attr:`~lmnh_pipes.replaying.StoredReject.duplicate` (the
core drops them: no row, no copy, and the position moves past them), by one rule: *a message whose reject this
replay has already read (the same source coordinates and bytes: :func:`~.messages.copy_digest`) is a duplicate*.
Why that leaves exactly one live copy of each reject:

1. A copy goes to the partition its predecessor was read from, after it (a topic appends), so all copies of one
   reject are in one partition, in the order they were made.
2. A position passes a message only after the message's copies are durable (POSITIONED: the store settles, then
   the sink commits rows and position; otherwise rows, then copies, then the group's commit). So, at the start of
   a replay, the messages at or after the position are unsettled, and the first of a reject's among them is its
   live copy. Every later one was made by a replay that read that first one (or a copy of it) and died before its
   position passed it: a leftover to drop. This needs every replay that stored a position to have read on to its
   own copies, dropping the leftovers on the way (see "stops early" below).
   (The replays count cannot be part of the rule: a leftover of a still-refused reject counts one replay more
   than the original that the next replay reads again, and would be replayed as a second reject.)
3. This replay's own copies are never read (their partition ends at the first), so its own work is never taken
   for a leftover.
4. Two deliveries of one reject by the pipeline (its rejects sink is at least once: a crash between producing
   the rejects and committing the rows produces them again) are alike; the first read counts, the other is
   dropped the same way.

What is left uncovered, and what it costs:

- **A replay that stops early** (``--limit``, or a broker slower than ``replay_idle``) does not reach the copies
  that lie after where it stopped, while the originals it did settle fall behind the position: a later replay takes
  such a copy for a live reject, and if the early-stopped replay accepted the original, its row is written twice.
  After a crashed replay, run one without ``--limit`` (it reads to its own copies and drops every leftover).
- Two replays of one pipeline at the same time are not supported: each would take the other's copies for rejects.
- A reject that a pipeline delivers twice (4. above) with a replay in between that accepts the first: the second
  comes after the position and is replayed, and written, again. It needs a pipeline that crashed after producing a
  batch's rejects and a replay before that pipeline restarts.
- The rule holds a 16-byte digest per reject read, for the length of the replay.
- Every reject still refused, or not chosen, is produced again on each replay: the topic grows by those each time
  (its retention takes the settled ones away; it must be longer than a reject may wait for its replay).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING

import attrs
import confluent_kafka as ck

from lmnh_pipes import RecordRejectedError, RunError, TransientError
from lmnh_pipes.delivery import Positions, PositionStore
from lmnh_pipes.records import Record
from lmnh_pipes.replaying import Settlement, StoredReject

from .messages import (
    REPLAY_RUN,
    REPLAYED_FROM,
    REWRITTEN,
    Header,
    Outgoing,
    copy_digest,
    meta_headers,
    millis,
    reject_headers,
    stored_record,
)
from .offsets import read_stored_positions

if TYPE_CHECKING:
    from .sink import KafkaSink

__all__ = ["KafkaReplay"]

log = logging.getLogger("lmnh_pipes.kafka.replay")

#: How long one read of the dead-letter topic waits, at most: the idle time is counted in such steps.
_STEP = 0.2


@attrs.define
class _Kept:
    """What a copy of a message keeps of it, besides its record: its key and the headers a copy does not rewrite."""

    key: bytes | None
    headers: list[Header]


@attrs.define(kw_only=True)
class KafkaReplay:
    """One replay's reading of a dead-letter topic and settling of it (see the module's docstring)."""

    sink: KafkaSink
    position_store: tuple[PositionStore, str] | None = None
    run_id: str = attrs.field(factory=lambda: uuid.uuid4().hex)
    #: The digest of every reject read by this replay.
    _seen: set[bytes] = attrs.field(factory=set)
    #: Of each message read and not yet settled: what its copy keeps.
    _kept: dict[Hashable, _Kept] = attrs.field(factory=dict)
    #: The replay group's committed offsets, as this replay last knew them: a commit never moves one back.
    _committed: Positions = attrs.field(factory=dict)
    _committer: ck.Consumer | None = None
    _reader: ck.Consumer | None = None
    #: The settlement whose copies were produced, so that a retry (after its commit failed) only commits.
    _produced: Settlement | None = None

    @property
    def group(self) -> str:
        return self.sink.replay_group_id

    def consumer(self) -> ck.Consumer:
        """A consumer of the replay group that commits only when told (it never joins the group: no rebalance)."""
        return ck.Consumer(self.sink.consumer_conf(self.group))

    def read(self) -> Iterator[StoredReject]:
        """Every stored reject from the position on, as :meth:`RejectStore.stored_rejects` gives them."""
        sink = self.sink
        consumer = self._reader = self.consumer()
        try:
            metadata = sink._reach(consumer)
            topic = metadata.topics.get(sink.topic)
            if topic is None or topic.error is not None:
                log.info("the dead-letter topic %s does not exist: no rejects to replay", sink.topic)
                return
            partitions = sorted(topic.partitions)
            starts = self._starts(consumer, partitions)
            log.info("replay %s reads %s", self.run_id, ", ".join(f"{sink.topic}[{p}]@{starts[p]}" for p in partitions))
            consumer.assign([ck.TopicPartition(sink.topic, p, starts[p]) for p in partitions])
            yield from self._messages(consumer, set(partitions))
        finally:
            if self._reader is consumer:  # else close() has closed it
                self._reader = None
                consumer.close()

    def _starts(self, consumer: ck.Consumer, partitions: list[int]) -> dict[int, int]:
        """Where each partition starts: the position store's position, or the group's commit, or the beginning."""
        topic = self.sink.topic
        try:
            commits = consumer.committed([ck.TopicPartition(topic, p) for p in partitions], timeout=10)
        except ck.KafkaException as exc:
            raise TransientError(f"reading the offsets of group {self.group}: {exc.args[0].str()}") from exc
        self._committed = {(topic, tp.partition): tp.offset for tp in commits if tp.offset >= 0}
        if self.position_store is not None:
            store, name = self.position_store
            known = read_stored_positions(store, name, [(topic, p) for p in partitions])
        else:
            known = self._committed
        return {p: known.get((topic, p), ck.OFFSET_BEGINNING) for p in partitions}

    def _messages(self, consumer: ck.Consumer, reading: set[int]) -> Iterator[StoredReject]:
        sink = self.sink
        run = self.run_id.encode()
        waited = 0.0
        while reading and waited < sink.replay_idle:
            started = time.monotonic()
            messages = consumer.consume(500, min(_STEP, sink.replay_idle - waited))
            sink._raise_if_fatal()
            fresh = False
            for m in messages:
                if m.error() is not None:
                    sink._on_message_error(m.error())  # type: ignore[arg-type]
                    continue
                partition: int = m.partition()  # type: ignore[assignment]  # a message without an error has them
                offset: int = m.offset()  # type: ignore[assignment]
                if partition not in reading:
                    continue  # fetched before the partition ended
                listed: list[tuple[str, bytes | None]] = m.headers() or []  # type: ignore[assignment]  # bytes
                headers = dict(listed)
                if headers.get(REPLAY_RUN) == run:  # this replay's own copy: the partition is read
                    reading.discard(partition)
                    consumer.pause([ck.TopicPartition(sink.topic, partition)])
                    continue
                fresh = True
                record = stored_record(m, headers)
                digest = copy_digest(record)
                duplicate = digest in self._seen
                self._seen.add(digest)
                handle = (sink.topic, partition, offset)
                self._kept[handle] = _Kept(m.key(), [h for h in listed if h[0] not in REWRITTEN])
                yield StoredReject(record=record, handle=handle, duplicate=duplicate)
            if fresh:
                waited, sink._down_since = 0.0, None
            elif sink._down_since is not None:
                sink._check_outage(consumer)  # the broker is away: not idle, but failed after connect_timeout
            else:
                waited += time.monotonic() - started

    def settle(self, settlement: Settlement) -> None:
        """Produce the copies (``rejected`` with their new records, ``passed`` as they were) to the partitions they
        were read from, wait for the brokers, then commit the replay group's offsets to ``settlement.positions``."""
        if self._produced is not settlement:
            copies: dict[int, tuple[StoredReject, Record]] = {}
            for stored, record in settlement.rejected:
                copies[id(record)] = (stored, record)
            for stored in settlement.passed:
                copies[id(stored.record)] = (stored, stored.record)
            if copies:
                self._produce(copies)
            self._produced = settlement
        for stored in (*settlement.accepted, *settlement.dropped, *settlement.passed):
            self._kept.pop(stored.handle, None)
        for stored, _ in settlement.rejected:
            self._kept.pop(stored.handle, None)
        self._commit(settlement.positions)

    def _produce(self, copies: dict[int, tuple[StoredReject, Record]]) -> None:
        sink = self.sink
        if sink._producer is None:
            sink.open()

        def encode(record: Record) -> Outgoing:
            stored, _ = copies[id(record)]
            _, partition, offset = _where(stored)
            kept = self._kept.get(stored.handle) or _Kept(None, [])
            lmnh = reject_headers(record) if record.reject is not None else meta_headers(record.meta)
            headers = [
                *kept.headers,
                *lmnh,
                (REPLAY_RUN, self.run_id.encode()),
                (REPLAYED_FROM, b"%d:%d" % (partition, offset)),
            ]
            return Outgoing(
                value=record.raw,
                key=kept.key,
                headers=headers,
                partition=partition,
                timestamp=millis(record.meta.timestamp),
            )

        try:
            sink.produce([record for _, record in copies.values()], encode)
        except RecordRejectedError as exc:  # a copy the topic took once and refuses now: nowhere else to keep it
            raise RunError(f"a replay cannot keep a reject in {sink.topic}: {exc}") from exc

    def _commit(self, positions: Positions) -> None:
        """Commit the replay group's offsets where ``positions`` pass them (never back). Beside a position store
        they are only for monitoring, and a failure is logged; else they are the position, and it is retried."""
        ahead = [
            ck.TopicPartition(t, p, o) for (t, p), o in sorted(positions.items()) if o > self._committed.get((t, p), -1)
        ]
        if not ahead:
            return
        if self._committer is None:
            self._committer = self.consumer()
        try:
            self._committer.commit(offsets=ahead, asynchronous=False)
        except ck.KafkaException as exc:
            if self.position_store is not None:
                log.warning("committing the replay group %s (for monitoring only): %s", self.group, exc)
                return
            raise TransientError(f"committing the replay group {self.group}: {exc.args[0].str()}") from exc
        self._committed.update(((tp.topic, tp.partition), tp.offset) for tp in ahead)

    def close(self) -> None:
        """Release the replay's consumers (the sink's producer is closed by the sink)."""
        reader, committer, self._reader, self._committer = self._reader, self._committer, None, None
        for consumer in (reader, committer):
            if consumer is not None:
                consumer.close()
        self._kept.clear()


def _where(stored: StoredReject) -> tuple[str, int, int]:
    """The dead-letter coordinates that are this store's handle of a reject."""
    handle = stored.handle
    assert isinstance(handle, tuple), handle
    topic, partition, offset = handle
    return str(topic), int(partition), int(offset)
