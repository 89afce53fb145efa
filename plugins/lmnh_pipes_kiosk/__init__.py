"""The museum kiosk components: the ``kiosk`` validator and the ``kiosk_simulator`` source.

Registered through the ``lmnh_pipes`` entry point ``kiosk``, like any third-party plug-in::

    validators:
      - {type: kiosk, catalogue: s3://museum/exhibitions/, open: "08:45", close: "18:15"}
"""

from __future__ import annotations

from lmnh_pipes import Registry, hookimpl

from .simulator import KioskSimulator
from .traffic import DEFAULT_KINDS, KINDS, Message, Traffic
from .validator import KioskValidator

__all__ = ["DEFAULT_KINDS", "KINDS", "KioskSimulator", "KioskValidator", "Message", "Traffic", "lmnh_pipes_register"]


@hookimpl
def lmnh_pipes_register(registry: Registry) -> None:
    """Register the ``kiosk`` validator and the ``kiosk_simulator`` source."""
    registry.add_validator("kiosk", KioskValidator)
    registry.add_source("kiosk_simulator", KioskSimulator)
