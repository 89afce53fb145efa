"""A consumer group's positions, partitions and watermarks, read and moved without joining the group.

A consumer that never subscribes is no member: ``committed``, ``commit(offsets=...)``, ``assign`` and the
watermark and metadata calls all work without a JoinGroup. The broker refuses a commit from a non-member while the
group has members (``UNKNOWN_MEMBER_ID``), and :meth:`GroupAdmin.active_members` asks first, to name them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

import attrs
import confluent_kafka as ck
from confluent_kafka.admin import AdminClient

from lmnh_pipes import ConfigError, RunError
from lmnh_pipes.delivery import Positions
from lmnh_pipes.positioning import Watermarks

__all__ = ["GroupAdmin"]

#: Seconds that one metadata, watermark or group request may take.
TIMEOUT = 10.0
#: Seconds without a new message after which a scan for a time takes a partition to have no later record.
QUIET = 1.0
#: Group states with no active member.
_IDLE_STATES = ("EMPTY", "DEAD", "UNKNOWN")


def _failed(what: str, exc: ck.KafkaException) -> RunError:
    error = exc.args[0] if exc.args else exc
    return RunError(f"{what} failed: {error.str() if isinstance(error, ck.KafkaError) else error}")


@attrs.define
class GroupAdmin:
    """The group ``group_id``'s view of ``topics``, through ``consumer`` (never subscribed) and ``admin``."""

    topics: list[str]
    group_id: str
    consumer: ck.Consumer
    admin: AdminClient

    def partitions(self) -> list[tuple[str, int]]:
        try:
            metadata = self.consumer.list_topics(timeout=TIMEOUT)
        except ck.KafkaException as exc:
            raise _failed("reading the topics", exc) from exc
        missing = [t for t in self.topics if t not in metadata.topics or not metadata.topics[t].partitions]
        if missing:
            raise ConfigError(f"topic {', '.join(missing)} does not exist")
        return sorted((t, p) for t in self.topics for p in metadata.topics[t].partitions)

    def watermarks(self, partitions: Sequence[tuple[str, int]]) -> Watermarks:
        try:
            return {
                (t, p): tuple(self.consumer.get_watermark_offsets(ck.TopicPartition(t, p), timeout=TIMEOUT))  # type: ignore[misc]  # two ints
                for t, p in partitions
            }
        except ck.KafkaException as exc:
            raise _failed("reading the watermarks", exc) from exc

    def group_positions(self, partitions: Sequence[tuple[str, int]]) -> Positions:
        try:
            committed = self.consumer.committed([ck.TopicPartition(t, p) for t, p in partitions], timeout=TIMEOUT)
        except ck.KafkaException as exc:
            raise _failed("reading the group's offsets", exc) from exc
        return {(tp.topic, tp.partition): tp.offset for tp in committed if tp.offset >= 0}

    def commit_group_positions(self, positions: Positions) -> None:
        offsets = [ck.TopicPartition(t, p, o) for (t, p), o in sorted(positions.items())]
        try:
            result = self.consumer.commit(offsets=offsets, asynchronous=False) or []
        except ck.KafkaException as exc:
            raise _failed("committing the group's offsets", exc) from exc
        failed = [f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in result if tp.error is not None]
        if failed:
            raise RunError(f"committing the group's offsets failed: {'; '.join(failed)}")

    def active_members(self) -> list[str]:
        try:
            group = self.admin.describe_consumer_groups([self.group_id])[self.group_id].result(timeout=TIMEOUT)
        except ck.KafkaException as exc:
            raise _failed(f"describing the consumer group {self.group_id}", exc) from exc
        members = [
            f"{m.member_id} (client {m.client_id} on {m.host}"
            + (
                f", {', '.join(f'{tp.topic}[{tp.partition}]' for tp in m.assignment.topic_partitions)})"
                if m.assignment
                else ")"
            )
            for m in group.members
        ]
        state = group.state.name
        if not members and state not in _IDLE_STATES:
            # Tansu 0.6 answers STABLE with an empty member list while a member is running.
            members = [f"the broker says that group {self.group_id} is {state.lower()} but does not name its members"]
        return members

    def offsets_for_time(self, partitions: Sequence[tuple[str, int]], when: datetime) -> Positions:
        """The broker's answer is taken as a place to start, and checked by reading forward from it to the first
        record at or after ``when``: a broker's time index may only narrow the search (Tansu 0.6 answers 0)."""
        millis = int(when.timestamp() * 1000)
        try:
            found = self.consumer.offsets_for_times(
                [ck.TopicPartition(t, p, millis) for t, p in partitions], timeout=TIMEOUT
            )
            marks = self.watermarks(partitions)
        except ck.KafkaException as exc:
            raise _failed("finding offsets by time", exc) from exc
        starts = {(tp.topic, tp.partition): tp.offset for tp in found}
        result: Positions = {tp: marks[tp][1] for tp in partitions if starts.get(tp, -1) < 0}
        todo = {tp: starts[tp] for tp in partitions if tp not in result}
        if todo:
            result.update(self._scan(todo, millis))
        return result

    def _scan(self, starts: Positions, millis: int) -> Positions:
        """Read each partition from its start to its first record stamped at or after ``millis``; a partition
        with none gets the offset after its last record."""
        end = dict(starts)
        found: Positions = {}
        self.consumer.assign([ck.TopicPartition(t, p, o) for (t, p), o in starts.items()])
        try:
            quiet_since = time.monotonic()
            while len(found) < len(starts) and time.monotonic() - quiet_since < QUIET:
                messages = self.consumer.consume(500, 0.2)
                for m in messages:
                    if m.error() is not None:
                        continue
                    tp = (str(m.topic()), int(m.partition()))  # type: ignore[arg-type]  # set on a message
                    offset = int(m.offset())  # type: ignore[arg-type]  # set on a message
                    if tp in found or tp not in starts:
                        continue
                    quiet_since = time.monotonic()
                    end[tp] = offset + 1
                    if m.timestamp()[1] >= millis:
                        found[tp] = offset
        finally:
            self.consumer.unassign()
        return {tp: found.get(tp, end[tp]) for tp in starts}
