"""File components that ship with lmnh-pipes: the ``file`` source and the ``csv`` sink (smart-open)."""

from __future__ import annotations

from lmnh_pipes import Registry, hookimpl

__all__ = ["lmnh_pipes_register"]


@hookimpl
def lmnh_pipes_register(registry: Registry) -> None:
    """Register the ``file`` source and the ``csv`` sink."""
