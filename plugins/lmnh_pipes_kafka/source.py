"""The ``kafka`` source: a consumer-group member that commits only what the sinks have written."""

from __future__ import annotations

import json
import logging
import operator
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
import confluent_kafka as ck
from confluent_kafka.admin import AdminClient

from lmnh_pipes import ConfigError, Record, RunError, option_doc
from lmnh_pipes.delivery import PositionStore
from lmnh_pipes.records import make_source_record, offsets_by_partition

from .connection import Connection
from .groupadmin import GroupAdmin
from .offsets import OffsetTracker, read_stored_positions

__all__ = ["AUTO_OFFSET_RESETS", "KafkaSource", "acks_everything_read"]

log = logging.getLogger("lmnh_pipes.kafka.source")

_NO_TIMESTAMP = ck.TIMESTAMP_NOT_AVAILABLE

#: Milliseconds between two measures of the lag (librdkafka's statistics); ``options`` may override it.
LAG_INTERVAL_MS = 5000

#: Where a partition without a committed offset starts.
AUTO_OFFSET_RESETS = ("earliest", "latest", "error")


@attrs.define(kw_only=True)
class KafkaSource(Connection):
    """Consume a Kafka topic as a consumer-group member; commit offsets only after the sinks wrote.

    Auto-commit is off: after each written batch, the source commits per partition the first offset not yet
    written (a contiguous watermark, :class:`OffsetTracker`); on a rebalance it has everything read written and
    commits it before it gives partitions up. With a position store it starts each partition where the store
    says; with a sink durable only at close, it commits only then (:meth:`hold_commits`). Options:
    ``docs/sources.md``.
    """

    group_id: str = attrs.field(metadata=option_doc("the consumer group; it also keeps the committed offsets"))
    topic: str | None = attrs.field(default=None, metadata=option_doc("the topic to read (or give topics)"))
    topics: list[str] | None = attrs.field(default=None, metadata=option_doc("the topics to read (or give topic)"))
    auto_offset_reset: str = attrs.field(
        default="earliest",
        metadata=option_doc("where a partition without a committed offset starts", choices=AUTO_OFFSET_RESETS),
    )
    _consumer: ck.Consumer | None = attrs.field(default=None, init=False, repr=False)
    _tracker: OffsetTracker = attrs.field(factory=OffsetTracker, init=False, repr=False)
    _committed: dict[tuple[str, int], int] = attrs.field(factory=dict, init=False, repr=False)  # confirmed
    _sent: dict[tuple[str, int], int] = attrs.field(factory=dict, init=False, repr=False)  # requested
    _store: tuple[PositionStore, str] | None = attrs.field(default=None, init=False, repr=False)
    _drain: Callable[[], None] | None = attrs.field(default=None, init=False, repr=False)
    _assigned: set[tuple[str, int]] = attrs.field(factory=set, init=False, repr=False)
    _last_read: dict[tuple[str, int], int] = attrs.field(factory=dict, init=False, repr=False)
    _incremental: bool = attrs.field(default=False, init=False, repr=False)
    _held: bool = attrs.field(default=False, init=False, repr=False)
    # While commits are held: where this member left off each partition it gave up, to resume there if it comes
    # back (its rows up to there are in this member's own output, committed when that closes).
    _resume: dict[tuple[str, int], int] = attrs.field(factory=dict, init=False, repr=False)
    _lag: dict[tuple[str, int], int] = attrs.field(factory=dict, init=False, repr=False)  # from statistics
    # The records read and not yet acknowledged, in read order: their offsets are the tracker's pending ones.
    _unacked: list[Record] = attrs.field(factory=list, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if (self.topic is None) == (self.topics is None):
            raise ValueError("give exactly one of topic and topics")
        if self.topics is not None and not self.topics:
            raise ValueError("topics must name at least one topic")
        if self.auto_offset_reset not in AUTO_OFFSET_RESETS:
            raise ValueError(f"auto_offset_reset must be earliest, latest or error, found {self.auto_offset_reset!r}")

    @property
    def topic_names(self) -> list[str]:
        """The topics this source reads."""
        return [self.topic] if self.topic is not None else list(self.topics or [])

    def consumer_settings(self) -> dict[str, Any]:
        """The librdkafka consumer settings (with secrets)."""
        conf = self.consumer_conf(
            self.group_id,
            {
                "auto.offset.reset": self.auto_offset_reset,
                # A sink outage is retried without reading (up to retry.max_elapsed, 300 s by default); the member
                # must keep its partitions meanwhile, so allow longer than that between reads.
                "max.poll.interval.ms": 600_000,
                # The lag gauge's refresh: librdkafka's statistics, served by consume(), never per message.
                "statistics.interval.ms": LAG_INTERVAL_MS,
            },
        )
        conf["on_commit"] = self._on_commit
        conf["stats_cb"] = self._on_stats
        return conf

    def drain_with(self, drain: Callable[[], None]) -> None:
        """Before giving partitions up in a rebalance, call ``drain`` so that everything read is written."""
        self._drain = drain

    def for_tap(self) -> KafkaSource:
        """A copy in a consumer group of its own, for ``lmnh-pipes tap``: the pipeline's group is left alone."""
        return attrs.evolve(self, group_id=f"{self.group_id}-tap-{os.getpid()}-{int(time.time())}")

    @property
    def positions_name(self) -> str:
        """What its positions are, in the delivery plan: the consumer group's offsets."""
        return "kafka offsets"

    def ready(self) -> bool:
        """True once partitions are assigned to this member (for ``/ready``)."""
        return bool(self._assigned)

    def committed_positions(self) -> dict[tuple[str, int], int]:
        """The next offset committed per partition (for ``/metrics``)."""
        return dict(self._committed)

    def lag(self) -> dict[tuple[str, int], int]:
        """Per assigned partition, librdkafka's last measured ``consumer_lag``: its high watermark minus the
        committed offset (for ``/metrics``; refreshed every ``statistics.interval.ms``)."""
        return dict(self._lag)

    @contextmanager
    def position_admin(self) -> Iterator[GroupAdmin]:
        """The group's positions and the topics' watermarks, through a consumer that never joins the group."""
        consumer = ck.Consumer(self.consumer_conf(self.group_id))
        try:
            self._reach(consumer)
            admin = AdminClient({k: v for k, v in self.settings().items() if k != "logger"})
            yield GroupAdmin(topics=self.topic_names, group_id=self.group_id, consumer=consumer, admin=admin)
        finally:
            consumer.close()

    def hold_commits(self) -> None:
        """Commit nothing, not even on a rebalance, until :meth:`release_commits`: the sink makes its rows durable
        only when it closes. A partition given up meanwhile is re-read by its next owner from the last commit;
        if it comes back to this member, it resumes where this member left it."""
        self._held = True

    def release_commits(self) -> None:
        """Commit everything acknowledged (of the partitions still assigned): the sinks have closed."""
        self._held = False
        self._commit(asynchronous=False)

    def use_position_store(self, store: PositionStore, pipeline: str) -> None:
        """On every assignment, start each partition at the position ``store`` holds for ``pipeline``."""
        self._store = (store, pipeline)

    def open(self) -> None:
        settings = self.consumer_settings()
        self._incremental = _incremental(settings)
        consumer = ck.Consumer(settings)
        try:
            self._reach(consumer)
        except BaseException:
            consumer.close()
            raise
        self._consumer = consumer
        self._consumer.subscribe(
            self.topic_names, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    def check_online(self) -> None:
        """Connect (one attempt) and check that every topic exists."""
        consumer = ck.Consumer(self.consumer_settings())
        try:
            metadata = self._reach(consumer)
            missing = [t for t in self.topic_names if t not in metadata.topics]
            if missing:
                raise ConfigError(f"topic {', '.join(missing)} does not exist on {self.bootstrap_servers}")
        finally:
            consumer.close()

    def read(self, max_records: int, timeout: float) -> Sequence[Record]:
        consumer = self._require_open()
        messages = consumer.consume(max_records, timeout)
        self._raise_if_fatal()
        records: list[Record] = []
        append = records.append
        assigned, last_read = self._assigned, self._last_read
        # Messages come in runs of one partition: its state is looked up when a run starts, and stored when it ends.
        run_topic, run_partition, run_ok, last = "", -1, False, -1
        offsets: list[int] = []
        last_ts, last_time = -1, None
        for m in messages:
            if m.error() is not None:
                self._on_message_error(m.error())  # type: ignore[arg-type]
                continue
            # A message without an error always has its coordinates (the stubs allow None for error events).
            topic: str = m.topic()  # type: ignore[assignment]
            partition: int = m.partition()  # type: ignore[assignment]
            offset: int = m.offset()  # type: ignore[assignment]
            if partition != run_partition or topic != run_topic:
                if run_ok:
                    self._end_run(run_topic, run_partition, last, offsets)
                run_topic, run_partition = topic, partition
                # A rebalance inside this consume() may have revoked the partition, or restarted it from its last
                # commit: messages fetched before it are then not ours, or will come again.
                run_ok = (topic, partition) in assigned
                last = last_read.get((topic, partition), -1)
                offsets = []
            if not run_ok or offset <= last:
                continue
            last = offset
            offsets.append(offset)
            key: str | bytes | None = m.key()
            if key is not None:
                try:  # noqa: SIM105 -- contextlib.suppress costs more on this hot path
                    key = key.decode("utf-8")  # type: ignore[union-attr]
                except UnicodeDecodeError:
                    pass
            ts_type, ts = m.timestamp()
            if ts != last_ts:  # messages of one producer batch share a timestamp: convert it once
                last_ts = ts
                last_time = datetime.fromtimestamp(ts / 1000, UTC) if ts_type != _NO_TIMESTAMP else None
            append(make_source_record(m.value() or b"", "kafka", topic, partition, offset, key, last_time))
        if run_ok:
            self._end_run(run_topic, run_partition, last, offsets)
        self._unacked += records
        if messages:
            self._down_since = None
        elif self._down_since is not None:
            self._check_outage(consumer)
        return records

    def ack(self, records: Sequence[Record]) -> None:
        if acks_everything_read(records, self._unacked):
            self._tracker.done_all()
            self._unacked.clear()
            self._commit(asynchronous=True)
            return
        for (topic, partition), offsets in offsets_by_partition(records).items():
            self._tracker.done_many(topic, partition, offsets)
        if _read_first(records, self._unacked):
            # With the writer overlapping, the next batch is already read: the batch is the oldest records.
            del self._unacked[: len(records)]
        else:
            acked = {id(r.meta) for r in records}
            self._unacked = [r for r in self._unacked if id(r.meta) not in acked]
        self._commit(asynchronous=True)

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            if self._fatal is None:
                self._commit(asynchronous=False, consumer=consumer)
        finally:
            consumer.close()
            self._held = False  # the hold is for one run, released or not
            self._resume.clear()
            self._unacked.clear()

    # -- internals --

    def _forget_unacked(self, partitions: set[tuple[str, int]]) -> None:
        """Partitions given up: their records, read and not acknowledged, leave the tracker, and so this list."""
        self._unacked = [r for r in self._unacked if (r.meta.topic, r.meta.partition) not in partitions]

    def _end_run(self, topic: str, partition: int, last: int, offsets: list[int]) -> None:
        self._last_read[(topic, partition)] = last
        if offsets:
            self._tracker.read_many(topic, partition, offsets)

    def _require_open(self) -> ck.Consumer:
        if self._consumer is None:
            raise RunError("the kafka source was not opened")
        return self._consumer

    def _commit(
        self, *, asynchronous: bool, consumer: ck.Consumer | None = None, only: set[tuple[str, int]] | None = None
    ) -> None:
        """Commit the contiguous positions. An asynchronous commit is confirmed by ``_on_commit``; until then it is
        not sent again, and if it fails it is sent with the next one. A synchronous one (on revocation and at
        close) sends every position the broker has not confirmed."""
        consumer = consumer or self._consumer
        if consumer is None or self._held:
            return
        known = self._sent if asynchronous else self._committed
        changed = [
            ck.TopicPartition(t, p, o)
            for (t, p), o in self._tracker.positions().items()
            if known.get((t, p)) != o and (only is None or (t, p) in only)
        ]
        if not changed:
            return
        for tp in changed:
            self._sent[(tp.topic, tp.partition)] = tp.offset
        try:
            if asynchronous:
                consumer.commit(offsets=changed, asynchronous=True)
                return
            result = consumer.commit(offsets=changed, asynchronous=False)
        except ck.KafkaException as exc:
            # Not fatal: the records are written; the next commit (or, at worst, a replay) covers them.
            log.warning("offset commit failed: %s", exc)
            for tp in changed:
                self._sent.pop((tp.topic, tp.partition), None)
            return
        self._confirm(None, result or [])

    def _on_commit(self, err: ck.KafkaError | None, partitions: list[ck.TopicPartition]) -> None:
        self._confirm(err, partitions)

    def _confirm(self, err: ck.KafkaError | None, partitions: list[ck.TopicPartition]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            if err is None and tp.error is None:
                if tp.offset > self._committed.get(key, -1):
                    self._committed[key] = tp.offset
            elif self._sent.get(key) == tp.offset:
                del self._sent[key]  # failed: the next commit sends it again
        if err is not None:
            log.warning("offset commit failed: %s", err.str())

    def _on_stats(self, stats: str) -> None:
        lag: dict[tuple[str, int], int] = {}
        for topic, t in json.loads(stats).get("topics", {}).items():
            for p, part in t.get("partitions", {}).items():
                key = (topic, int(p))
                if key in self._assigned and part.get("consumer_lag", -1) >= 0:
                    lag[key] = part["consumer_lag"]
        self._lag = lag

    def _on_assign(self, consumer: ck.Consumer, partitions: list[ck.TopicPartition]) -> None:
        for p in partitions:
            self._assigned.add((p.topic, p.partition))
            self._last_read.pop((p.topic, p.partition), None)
        starts: dict[tuple[str, int], int] | None = None
        if self._store is not None:
            store, pipeline = self._store
            starts = self._stored_positions(store, pipeline, partitions)
            if starts is None:
                return  # the run stops at the next read, before any record of these partitions is used
        elif self._held:
            resumed = [(p.topic, p.partition) for p in partitions if (p.topic, p.partition) in self._resume]
            starts = {tp: self._resume.pop(tp) for tp in resumed} or None
        if starts is not None:
            for p in partitions:
                if (p.topic, p.partition) in starts:
                    p.offset = starts[(p.topic, p.partition)]
            # Assigned here, with the stored offsets (the automatic assignment after this callback would use the
            # offsets librdkafka passed in). A cooperative assignor hands out increments, and refuses assign().
            try:
                if self._incremental:
                    consumer.incremental_assign(partitions)
                else:
                    consumer.assign(partitions)
            except ck.KafkaException as exc:
                # Raised out of this callback, it would reach the caller of consume() mangled by the client library
                # (an AttributeError about KafkaError); the next read raises it instead, with its own words.
                self._fatal = f"assigning {len(partitions)} partition(s) failed: {exc.args[0].str()}"
                return
        log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]@{p.offset}" for p in partitions))

    def _stored_positions(
        self, store: PositionStore, pipeline: str, partitions: list[ck.TopicPartition]
    ) -> dict[tuple[str, int], int] | None:
        """The store's positions; None (and the run fails at the next read) if they cannot be read."""
        try:
            return read_stored_positions(store, pipeline, [(p.topic, p.partition) for p in partitions])
        except RunError as exc:
            self._fatal = str(exc)
        return None

    def _on_revoke(self, consumer: ck.Consumer, partitions: list[ck.TopicPartition]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        if self._drain is not None and self._fatal is None:
            self._drain()
        self._assigned -= revoked
        self._forget_unacked(revoked)
        for tp in revoked:
            self._last_read.pop(tp, None)
        self._commit(asynchronous=False, consumer=consumer, only=revoked)
        if self._held:
            positions = self._tracker.positions()
            self._resume.update((tp, positions[tp]) for tp in revoked if tp in positions)
        for t, p in revoked:
            if self._tracker.in_flight(t, p):
                log.info("%s[%d] revoked with records in flight: its next owner re-reads them", t, p)
            self._tracker.forget(t, p)
            self._committed.pop((t, p), None)
            self._sent.pop((t, p), None)
        log.info("revoked %s", ", ".join(f"{t}[{p}]" for t, p in sorted(revoked)))

    def _on_lost(self, consumer: ck.Consumer, partitions: list[ck.TopicPartition]) -> None:
        self._forget_unacked({(p.topic, p.partition) for p in partitions})
        for p in partitions:
            self._assigned.discard((p.topic, p.partition))
            self._last_read.pop((p.topic, p.partition), None)
            self._tracker.forget(p.topic, p.partition)
            self._committed.pop((p.topic, p.partition), None)
            self._sent.pop((p.topic, p.partition), None)
        log.warning("lost %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))


def acks_everything_read(records: Sequence[Record], unacked: Sequence[Record]) -> bool:
    """Whether ``records`` are the records read and not yet acknowledged (``unacked``), in read order: the usual
    acknowledgement of a batch, which then marks every pending offset done at once, without reading each record's
    offset again (``tests/plugins/kafka/test_read_runs.py`` checks that it decides as the offset-by-offset path).
    A validator's record keeps the ``meta`` of the record it was given, and each message read has a ``meta`` of
    its own: comparing their identities is enough."""
    return len(records) == len(unacked) and _read_first(records, unacked)


_META = operator.attrgetter("meta")


def _read_first(records: Sequence[Record], unacked: Sequence[Record]) -> bool:
    """Whether ``records`` are the oldest of ``unacked``, in read order (by the identities of their meta)."""
    return len(records) <= len(unacked) and all(map(operator.is_, map(_META, records), map(_META, unacked)))


def _incremental(settings: dict[str, Any]) -> bool:
    """Whether the group rebalances incrementally: a cooperative assignor, or the consumer group protocol of KIP-848."""
    strategy = str(settings.get("partition.assignment.strategy", "")).lower()
    return "cooperative" in strategy or str(settings.get("group.protocol", "")).lower() == "consumer"
