"""Connection options shared by the ``kafka`` source and sink, turned into librdkafka settings."""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Literal

import attrs
import confluent_kafka as ck

from lmnh_pipes import RunError, TransientError, option_doc

__all__ = ["SASL_MECHANISMS", "SECURITY_PROTOCOLS", "Connection", "classify_error", "redact"]

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

#: librdkafka settings whose values are secrets.
SECRET_SETTINGS = frozenset(
    {"sasl.password", "ssl.key.password", "ssl.keystore.password", "sasl.oauthbearer.client.secret"}
)

log = logging.getLogger("lmnh_pipes.kafka")

#: How long one attempt to reach the cluster waits for an answer when librdkafka has not said that it failed (a
#: host that drops packets): the run then retries, within ``retry.startup_timeout``.
ATTEMPT_SECONDS = 10.0


def _upper(value: str | None) -> str | None:
    return value.upper() if isinstance(value, str) else value


def _check_protocol(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in SECURITY_PROTOCOLS:
        raise ValueError(f"security_protocol must be one of {', '.join(SECURITY_PROTOCOLS)}, found {value!r}")


def _check_mechanism(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in SASL_MECHANISMS:
        raise ValueError(f"sasl_mechanism must be one of {', '.join(SASL_MECHANISMS)}, found {value!r}")


@attrs.define(kw_only=True)
class Connection:
    """How to reach and log in to a Kafka cluster, and what librdkafka reported about it (``error_cb``).

    ``options`` are passed to librdkafka as they are, after (and so overriding) the settings made from the
    other options. ``connect_timeout`` bounds how long the broker may be unreachable during a run before a
    source fails it; at the start, opening is retried for the pipeline's ``retry.startup_timeout``.
    """

    bootstrap_servers: str = attrs.field(metadata=option_doc("the brokers: host:port[,host:port...]"))
    security_protocol: str = attrs.field(
        default="PLAINTEXT",
        converter=_upper,
        validator=_check_protocol,
        metadata=option_doc("how to reach the brokers", choices=SECURITY_PROTOCOLS, any_case=True),
    )
    sasl_mechanism: str | None = attrs.field(
        default=None,
        converter=_upper,
        validator=_check_mechanism,
        metadata=option_doc(
            "with a SASL_ protocol, how to log in (username and password are then required)",
            choices=SASL_MECHANISMS,
            any_case=True,
        ),
    )
    username: str | None = attrs.field(default=None, metadata=option_doc("the SASL user name"))
    password: str | None = attrs.field(
        default=None,
        repr=lambda v: "'***'" if v else repr(v),
        metadata=option_doc("the SASL password; never shown in a repr or a log"),
    )
    ssl_ca_location: str | None = attrs.field(
        default=None, metadata=option_doc("a CA file that the brokers' certificates are checked against")
    )
    options: dict[str, Any] = attrs.field(
        factory=dict,
        repr=lambda v: repr(redact(v)),
        metadata=option_doc("librdkafka settings, as they are; they override those made from the other options"),
    )
    connect_timeout: float = attrs.field(
        default=60.0,
        metadata=option_doc("seconds the brokers may be unreachable mid-run before the run fails"),
    )
    _fatal: str | None = attrs.field(default=None, init=False, repr=False)  # the run stops at the next call
    _down_since: float | None = attrs.field(default=None, init=False, repr=False)  # the first outage not healed
    _last_error: str = attrs.field(default="", init=False, repr=False)  # the last outage's words

    def __attrs_post_init__(self) -> None:
        if self.security_protocol.startswith("SASL_"):
            missing = [n for n in ("username", "password") if not getattr(self, n)]
            if missing:
                raise ValueError(f"{' and '.join(missing)} must be set with security_protocol {self.security_protocol}")
        if self.connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be positive, found {self.connect_timeout}")

    def settings(self) -> dict[str, Any]:
        """The librdkafka settings for this connection (secrets included: never log them; see :func:`redact`)."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            "logger": logging.getLogger("lmnh_pipes.kafka.librdkafka"),
        }
        if self.security_protocol.startswith("SASL_"):
            conf["sasl.mechanism"] = self.sasl_mechanism or "PLAIN"
            conf["sasl.username"] = self.username
            conf["sasl.password"] = self.password
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = self.ssl_ca_location
        conf.update(self.options)
        return conf

    def consumer_conf(self, group_id: str, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """librdkafka settings (with secrets) of a consumer of ``group_id`` that commits only when told: a quick
        fetch back-off and ``defaults``, then this connection's settings, which override them."""
        conf: dict[str, Any] = {
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            # librdkafka's default of 1000 ms caps a Python consumer near 135k msg/s; 10 ms gives about 3x.
            "fetch.queue.backoff.ms": 10,
            **(defaults or {}),
        }
        conf.update(self.settings())
        conf.update({"enable.auto.commit": False, "enable.auto.offset.store": False, "error_cb": self._on_error})
        return conf

    def _on_error(self, err: ck.KafkaError) -> None:
        """librdkafka's ``error_cb``: note a fatal error (raised by the next call) or an outage (its start, its
        words). librdkafka logs each of these errors itself, through the ``logger`` setting: not again here."""
        kind = "fatal" if err.fatal() else classify_error(err.code(), err.name(), err.str())
        if kind == "fatal":
            self._fatal = f"{_fatal_kind(err)}: {err.str()}"
        elif kind == "outage":
            if not (self._last_error and err.name() == "_ALL_BROKERS_DOWN"):  # "1/1 brokers are down" says less
                self._last_error = err.str()
            if self._down_since is None:
                self._down_since = time.monotonic()
        log.debug("librdkafka error (%s): %s", kind, err.str())

    def _raise_if_fatal(self) -> None:
        if self._fatal is not None:
            raise RunError(self._fatal)

    def _reach(self, client: ck.Consumer | ck.Producer) -> Any:
        """One attempt to reach the cluster: its metadata. Raises :class:`RunError` on a fatal error (a wrong
        password), and :class:`TransientError` once librdkafka has reported that it cannot connect, or after
        ``ATTEMPT_SECONDS`` without an answer: the caller (the run opening its components) retries."""
        self._down_since, self._last_error = None, ""
        deadline = time.monotonic() + ATTEMPT_SECONDS
        while True:
            client.poll(0.05)  # serves error_cb (a consumer is not subscribed yet: it returns no message)
            self._raise_if_fatal()
            try:
                metadata = client.list_topics(timeout=0.5)
            except ck.KafkaException as exc:
                failure = exc.args[0].str() if exc.args and isinstance(exc.args[0], ck.KafkaError) else str(exc)
            else:
                self._down_since = None
                return metadata
            self._raise_if_fatal()
            if self._down_since is not None or time.monotonic() >= deadline:
                reason = self._last_error or failure
                raise TransientError(f"cannot reach the Kafka broker at {self.bootstrap_servers}: {reason}")

    def _check_outage(self, consumer: ck.Consumer) -> None:
        """While librdkafka reports the brokers down: raise :class:`RunError` once that has lasted
        ``connect_timeout`` seconds and the cluster still does not answer."""
        assert self._down_since is not None
        if time.monotonic() - self._down_since < self.connect_timeout:
            return
        try:
            consumer.list_topics(timeout=1.0)
        except ck.KafkaException:
            raise RunError(
                f"the Kafka broker at {self.bootstrap_servers} has been unreachable for "
                f"{time.monotonic() - self._down_since:.0f} s: {self._last_error}"
            ) from None
        self._down_since = None

    def _on_message_error(self, err: ck.KafkaError) -> None:
        """A consumed message that is an error: the end of a partition is none; a fatal one stops the read."""
        if err.code() == ck.KafkaError._PARTITION_EOF:
            return
        if err.fatal():
            raise RunError(f"Kafka error: {err.str()}")
        log.warning("Kafka consumer: %s", err.str())


def _fatal_kind(err: ck.KafkaError) -> str:
    if "SASL" in err.str() or err.name() == "_AUTHENTICATION":
        return "SASL authentication failed"
    if "certificate verify failed" in err.str():
        return "TLS certificate verification failed"
    return "Kafka error"


def redact(settings: dict[str, Any]) -> dict[str, Any]:
    """A copy of librdkafka settings with secret values replaced by ``***``."""
    return {k: ("***" if v and _is_secret(k) else v) for k, v in settings.items()}


def _is_secret(setting: str) -> bool:
    return setting in SECRET_SETTINGS or bool(_SECRET_PATTERN.search(setting))


# Any password, secret, private key or OAuth configuration, present or future.
_SECRET_PATTERN = re.compile(r"password|secret|\.pem$|\.key$|oauthbearer\.config|sasl\.jaas")


def classify_error(code: int, name: str, text: str) -> Literal["fatal", "outage", "ignore"]:
    """How the pipeline treats an error that librdkafka reports through ``error_cb``.

    librdkafka retries authentication and TLS failures forever and marks them not fatal; a pipeline must
    stop on them instead, because they never heal by waiting.
    """
    if name == "_AUTHENTICATION" or "SASL authentication" in text:
        return "fatal"
    if name == "_SSL" or "certificate verify failed" in text or "SSL handshake failed" in text:
        return "fatal"
    if name in ("_TRANSPORT", "_ALL_BROKERS_DOWN", "_RESOLVE", "_TIMED_OUT", "_MSG_TIMED_OUT"):
        return "outage"
    return "ignore"
