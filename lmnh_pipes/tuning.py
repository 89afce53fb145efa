"""Interpreter settings for a run: fewer garbage collections, and a shorter wait for the GIL."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

__all__ = ["GC_YOUNG_THRESHOLD", "SWITCH_INTERVAL", "interpreter_tuned"]

#: Young objects allocated between two garbage collections during a run (Python's default is 700).
GC_YOUNG_THRESHOLD = 20_000
#: Seconds a thread may hold the GIL while another waits for it, during a run (Python's default is 0.005).
SWITCH_INTERVAL = 0.001


class _Saved(NamedTuple):
    switch_interval: float
    threshold: tuple[int, int, int]
    freeze: bool  # the collector is on, and nothing was frozen before: freeze now, unfreeze at the end


_lock = threading.Lock()
_blocks = 0
_saved: _Saved | None = None


@contextmanager
def interpreter_tuned() -> Iterator[None]:
    """Tune the interpreter for a run while the block lasts; restore the settings at the end. Every run does this;
    it also helps a loop of your own over many records (validating a list in a notebook, a benchmark).

    - The objects that exist at the start (modules, components, a notebook's data) are left out of garbage
      collection, and young objects are collected every ``GC_YOUNG_THRESHOLD`` allocations. A run allocates several
      objects per record, all freed by reference counting; with the defaults, the collector's passes over everything
      alive cost about a quarter of the validation time. (Not when the collector is off, and no freeze when the
      process froze objects itself, as a pre-forking server does: the end of the block would undo its freeze.)
    - The writer thread waits for the database many times per batch, and each time waits again for the GIL, which
      the validating thread gives up only every switch interval: ``SWITCH_INTERVAL`` shortens that wait.

    BENCHMARKS.md measures both. Blocks may nest, or overlap in threads: the first to start tunes, and the last to
    end restores.
    """
    _enter()
    try:
        yield
    finally:
        _leave()


def _enter() -> None:
    global _blocks, _saved
    with _lock:
        if _blocks == 0:
            enabled = gc.isenabled()
            _saved = _Saved(sys.getswitchinterval(), gc.get_threshold(), enabled and gc.get_freeze_count() == 0)
            sys.setswitchinterval(min(_saved.switch_interval, SWITCH_INTERVAL))
            if enabled:
                gc.set_threshold(max(_saved.threshold[0], GC_YOUNG_THRESHOLD), *_saved.threshold[1:])
            if _saved.freeze:
                gc.freeze()
        _blocks += 1


def _leave() -> None:
    global _blocks, _saved
    with _lock:
        _blocks -= 1
        if _blocks == 0 and _saved is not None:
            sys.setswitchinterval(_saved.switch_interval)
            gc.set_threshold(*_saved.threshold)
            if _saved.freeze:
                gc.unfreeze()
            _saved = None
