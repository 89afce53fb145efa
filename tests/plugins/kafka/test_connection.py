"""librdkafka settings produced by the connection options (no broker needed)."""

from __future__ import annotations

import pytest

from lmnh_pipes_kafka import KafkaSink, KafkaSource
from lmnh_pipes_kafka.connection import classify_error, redact


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_settings(mechanism):
    source = KafkaSource(
        bootstrap_servers="b-1.example.com:9096",
        topic="lmnh",
        group_id="g",
        security_protocol="sasl_ssl",
        sasl_mechanism=mechanism.lower(),
        username="museum",
        password="s3cret",
        ssl_ca_location="/etc/ssl/ca.pem",
    )
    conf = source.consumer_settings()
    assert conf["bootstrap.servers"] == "b-1.example.com:9096"
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == mechanism
    assert (conf["sasl.username"], conf["sasl.password"]) == ("museum", "s3cret")
    assert conf["ssl.ca.location"] == "/etc/ssl/ca.pem"
    assert conf["enable.auto.commit"] is False
    assert conf["enable.auto.offset.store"] is False
    assert conf["group.id"] == "g"
    assert conf["auto.offset.reset"] == "earliest"


def test_options_pass_through_and_override_defaults_but_not_commit_safety():
    source = KafkaSource(
        bootstrap_servers="x:1",
        topic="t",
        group_id="g",
        options={"fetch.queue.backoff.ms": 50, "session.timeout.ms": 6000, "enable.auto.commit": True},
    )
    conf = source.consumer_settings()
    assert conf["fetch.queue.backoff.ms"] == 50
    assert conf["session.timeout.ms"] == 6000
    assert conf["enable.auto.commit"] is False  # committing before the sink wrote would lose records


def test_password_never_in_repr():
    source = KafkaSource(
        bootstrap_servers="x:1",
        topic="t",
        group_id="g",
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        username="u",
        password="hunter2",
        options={"sasl.password": "hunter2"},
    )
    assert "hunter2" not in repr(source)
    sink = KafkaSink(bootstrap_servers="x:1", topic="t", security_protocol="SASL_SSL", username="u", password="hunter2")
    assert "hunter2" not in repr(sink)
    assert redact(source.consumer_settings())["sasl.password"] == "***"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "username and password must be set"),
        ({"security_protocol": "TLS"}, "security_protocol must be one of"),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI", "username": "u", "password": "p"},
            "sasl_mechanism must be one of",
        ),
        ({"topics": ["a"]}, "exactly one of topic and topics"),
        ({"auto_offset_reset": "newest"}, "auto_offset_reset must be"),
    ],
)
def test_invalid_options(kwargs, message):
    base = {"bootstrap_servers": "x:1", "topic": "t", "group_id": "g"}
    with pytest.raises(ValueError, match=message):
        KafkaSource(**{**base, **kwargs})


def test_error_classes():
    assert classify_error(-169, "_AUTHENTICATION", "SASL authentication error") == "fatal"
    assert classify_error(-195, "_TRANSPORT", "ssl: certificate verify failed") == "fatal"
    assert classify_error(-195, "_TRANSPORT", "Connection refused") == "outage"
    assert classify_error(-187, "_ALL_BROKERS_DOWN", "1/1 brokers are down") == "outage"
    assert classify_error(3, "UNKNOWN_TOPIC_OR_PART", "") == "ignore"
