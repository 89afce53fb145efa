"""Connection options shared by the ``kafka`` source and sink, turned into librdkafka settings."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

import attrs

from lmnh_pipes import option_doc

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
    """How to reach and log in to a Kafka cluster.

    ``options`` are passed to librdkafka as they are, after (and so overriding) the settings made from the
    other options. ``connect_timeout`` bounds how long the broker may be unreachable, at start or mid-run,
    before the run fails.
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
        metadata=option_doc("seconds the brokers may be unreachable, at start or mid-run, before the run fails"),
    )

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
