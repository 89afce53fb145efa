"""Validators that ship with lmnh-pipes: ``json`` and the generic rules.

Registered through the ``lmnh_pipes`` entry point ``rules``, like any third-party plug-in.
"""

from __future__ import annotations

from lmnh_pipes import Registry, hookimpl

from .decode import DecodeError, decode_object
from .json_validator import JsonValidator

__all__ = ["DecodeError", "JsonValidator", "decode_object", "lmnh_pipes_register"]


@hookimpl
def lmnh_pipes_register(registry: Registry) -> None:
    """Register the ``json`` validator and the generic rule validators."""
    registry.add_validator("json", JsonValidator)
