"""TLS for real: Tansu behind stunnel. The right CA connects; a wrong CA stops the run citing verification."""

from __future__ import annotations

import time

import pytest

from lmnh_pipes import Pipeline, RunError
from lmnh_pipes.testing import ListSink, ListSource
from lmnh_pipes_kafka import KafkaSink, KafkaSource
from tests.fixtures.kafka import FAST_GROUP


def test_right_ca_connects_both_ways(tls_broker, topic_name):
    tls = {"bootstrap_servers": tls_broker.bootstrap, "security_protocol": "SSL", "ssl_ca_location": str(tls_broker.ca)}
    Pipeline(source=ListSource([b'{"n": 1}', b'{"n": 2}']), sink=KafkaSink(topic=topic_name, **tls)).run()
    sink = ListSink()
    Pipeline(source=KafkaSource(topic=topic_name, group_id="g-tls", options=dict(FAST_GROUP), **tls), sink=sink).run(
        limit=2, idle_timeout=30
    )
    assert sorted(r.raw for r in sink.records) == [b'{"n": 1}', b'{"n": 2}']  # auto-created: partitions


def test_wrong_ca_fails_fast_citing_certificate_verification(tls_broker):
    started = time.monotonic()
    src = KafkaSource(
        bootstrap_servers=tls_broker.bootstrap,
        topic="t",
        group_id="g",
        security_protocol="SSL",
        ssl_ca_location=str(tls_broker.wrong_ca),
    )
    with pytest.raises(RunError, match="certificate verif"):
        Pipeline(source=src, sink=ListSink()).run()
    assert time.monotonic() - started < 10
