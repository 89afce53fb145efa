"""PostgreSQL components that ship with lmnh-pipes: the ``postgres`` sink (psycopg 3, COPY, exactly-once)."""

from __future__ import annotations

from lmnh_pipes import Registry, hookimpl

from .errors import is_transient
from .sink import PostgresSink

__all__ = ["PostgresSink", "is_transient", "lmnh_pipes_register"]


@hookimpl
def lmnh_pipes_register(registry: Registry) -> None:
    """Register the ``postgres`` sink."""
    registry.add_sink("postgres", PostgresSink)
