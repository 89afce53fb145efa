"""Helpers shared by the rule tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmnh_pipes import Record, Validator

ROOT = Path(__file__).resolve().parents[3]
EXHIBITIONS = ROOT / "examples" / "lmnh" / "exhibitions"
DOCS = ROOT / "docs" / "validators.md"


def run(validator: Validator, value: Any) -> Record:
    """Validate one item (a dict, bytes or a Record)."""
    return validator.validate(Record.of(value))


def reason(validator: Validator, value: Any) -> str | None:
    """The rejection reason for ``value``, or None when it is accepted."""
    out = run(validator, value)
    return out.reject.reason if out.reject is not None else None


def rule(validator: Validator, value: Any) -> str | None:
    """The rejection rule for ``value``, or None when it is accepted."""
    out = run(validator, value)
    return out.reject.rule if out.reject is not None else None
