"""PostgreSQL errors sorted by SQLSTATE into outages (retry) and the rest.

Class 08 (connection exception), 40 (transaction rollback: serialization failure, deadlock), 53 (insufficient
resources), 57P01..57P03 (admin shutdown, crash shutdown, cannot connect now) and psycopg's OperationalError
without a SQLSTATE (the connection dropped) are outages: the batch is retried on a new connection. Anything
else (a constraint, a bad value, a missing table) is not healed by waiting.
"""

from __future__ import annotations

import psycopg

__all__ = ["is_transient"]

_TRANSIENT_CLASSES = ("08", "40", "53")
_TRANSIENT_STATES = frozenset({"57P01", "57P02", "57P03", "55P03"})


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` is an outage that retrying on a new connection may cure."""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES
