"""``lmnh-pipes tap``: watch records leave one validator, without writing or committing anything."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from .capabilities import Tappable, closer, name_of, opener
from .config import Stages
from .errors import ConfigError, EndOfInput, Problem
from .interfaces import Source, Validator
from .options import did_you_mean
from .pipeline import Pipeline
from .records import Record, json_default
from .validation import apply_validators

__all__ = ["record_json", "select_stage", "tap"]


def select_stage(validators: Sequence[Validator], after: str) -> list[Validator]:
    """The validators up to and including the one named ``after`` (its ``name``, or its 0-based index)."""
    names = [name_of(v) for v in validators]
    if after.isdigit() and int(after) < len(validators):
        return list(validators[: int(after) + 1])
    if after in names:
        return list(validators[: len(names) - names[::-1].index(after)])
    raise ConfigError(
        [
            Problem(
                message=f"no validator {after!r} in this pipeline: its validators are {', '.join(names) or 'none'}",
                hint=did_you_mean(after, names)
                or (f"or a position from 0 to {len(names) - 1}" if names else "tap needs a validator"),
            )
        ]
    )


def tap(
    pipeline: Pipeline | Stages,
    after: str,
    emit: Callable[[Record], None],
    *,
    rejected: bool = False,
    limit: int | None = None,
    idle_timeout: float | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Read from the pipeline's source, apply its validators up to ``after``, and ``emit`` every record that
    leaves that stage accepted (or, with ``rejected``, every record rejected up to there). Nothing is written to
    the sinks and nothing is acknowledged, so a Kafka source commits nothing. Returns how many were emitted.
    ``pipeline`` may be :class:`~lmnh_pipes.config.Stages` (:func:`~lmnh_pipes.config.load_stages`): the sinks are
    not needed.

    A :class:`~lmnh_pipes.capabilities.Tappable` source is read through its ``for_tap()`` copy, which is safe to
    read beside the running pipeline.
    """
    stages = select_stage(pipeline.validators, after)
    source: Source = pipeline.source.for_tap() if isinstance(pipeline.source, Tappable) else pipeline.source
    stop = stop or threading.Event()
    emitted = 0
    last = time.monotonic()
    with ExitStack() as stack:
        components: list[Validator | Source] = [*stages, source]
        for component in components:
            opener(component)()
            stack.callback(closer(component))
        while not stop.is_set() and (limit is None or emitted < limit):
            try:
                batch = source.read(1000, 0.25)
            except EndOfInput:
                break
            now = time.monotonic()
            if batch:
                last = now
            elif idle_timeout is not None and now - last >= idle_timeout:
                break
            for record in batch:
                out = apply_validators(stages, record)
                if (out.reject is not None) == rejected:
                    emit(out)
                    emitted += 1
                    if limit is not None and emitted >= limit:
                        break
    return emitted


def record_json(record: Record) -> str:
    """One record as a JSON line: its coordinates, its value, and a rejection with the raw bytes."""
    out: dict[str, Any] = {
        "topic": record.meta.topic,
        "partition": record.meta.partition,
        "offset": record.meta.offset,
        "value": record.value,
    }
    if record.reject is not None:
        out["reject"] = {
            "validator": record.reject.validator,
            "rule": record.reject.rule,
            "reason": record.reject.reason,
        }
        out["raw"] = record.raw.decode("utf-8", "backslashreplace")
    return json.dumps(out, default=json_default, ensure_ascii=False)
