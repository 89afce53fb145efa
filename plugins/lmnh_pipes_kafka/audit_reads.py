"""What ``lmnh-pipes audit`` reads of a topic: its partitions, the group's commits, the offsets at a time.

One consumer of the pipeline's group that never subscribes: it joins no group, so a running member keeps its
partitions, and it commits nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import confluent_kafka as ck

from lmnh_pipes import RunError
from lmnh_pipes.delivery import Positions

__all__ = ["committed", "offsets_at", "partitions_of", "reading"]

T = TypeVar("T")
_TIMEOUT = 10.0


def reading(settings: dict[str, Any], reach: Callable[[ck.Consumer], Any], fn: Callable[[ck.Consumer], T]) -> T:
    """``fn`` on a consumer made from ``settings`` once ``reach`` found the cluster; closed afterwards."""
    consumer = ck.Consumer(settings)
    try:
        reach(consumer)
        return fn(consumer)
    except ck.KafkaException as exc:
        raise RunError(f"kafka: {exc}") from exc
    finally:
        consumer.close()


def partitions_of(consumer: ck.Consumer, topics: Sequence[str]) -> list[tuple[str, int]]:
    """Every (topic, partition) of ``topics``; RunError naming a topic that does not exist."""
    found: list[tuple[str, int]] = []
    for topic in topics:
        meta = consumer.list_topics(topic, timeout=_TIMEOUT).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise RunError(f"topic {topic} does not exist")
        found += [(topic, p) for p in sorted(meta.partitions)]
    return found


def committed(consumer: ck.Consumer, partitions: Sequence[tuple[str, int]]) -> Positions:
    """The group's committed next offset of each of ``partitions`` that has one."""
    got = consumer.committed([ck.TopicPartition(t, p) for t, p in partitions], timeout=_TIMEOUT)
    return {(tp.topic, tp.partition): tp.offset for tp in got if tp.offset >= 0}


def offsets_at(consumer: ck.Consumer, partitions: Sequence[tuple[str, int]], when: datetime) -> Positions:
    """The first offset at or after ``when`` of each of ``partitions`` (the end when there is none)."""
    ms = int(when.timestamp() * 1000)
    found = consumer.offsets_for_times([ck.TopicPartition(t, p, ms) for t, p in partitions], timeout=_TIMEOUT)
    out: Positions = {}
    for tp in found:
        offset = tp.offset
        if offset < 0:  # no record at or after the time: the partition's end
            offset = consumer.get_watermark_offsets(ck.TopicPartition(tp.topic, tp.partition), timeout=_TIMEOUT)[1]
        out[(tp.topic, tp.partition)] = offset
    return out
