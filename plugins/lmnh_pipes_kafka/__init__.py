"""Kafka components that ship with lmnh-pipes: the ``kafka`` source and the ``kafka`` sink (confluent-kafka)."""

from __future__ import annotations

from lmnh_pipes import Registry, hookimpl

from .connection import Connection
from .offsets import OffsetTracker
from .sink import KafkaSink
from .source import KafkaSource

__all__ = ["Connection", "KafkaSink", "KafkaSource", "OffsetTracker", "lmnh_pipes_register"]


@hookimpl
def lmnh_pipes_register(registry: Registry) -> None:
    """Register the ``kafka`` source and sink."""
    registry.add_source("kafka", KafkaSource)
    registry.add_sink("kafka", KafkaSink)
