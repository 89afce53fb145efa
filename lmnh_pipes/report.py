"""The run report: what a run read, accepted, rejected (by validator and rule) and wrote."""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

import attrs

from .plan import DeliveryPlan

__all__ = ["RunReport"]


@attrs.define(kw_only=True)
class RunReport:
    """Counts of one run. Printed by the CLI; rendered as a table in Jupyter."""

    pipeline: str
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    written: int = 0
    rejects_written: int = 0
    batches: int = 0
    seconds: float = 0.0
    stopped_by: str = ""
    #: How the run delivered: the pipeline's delivery plan, which ``lmnh-pipes check`` prints.
    delivery: DeliveryPlan | None = None
    rejected_by: Counter[tuple[str, str]] = attrs.field(factory=Counter)

    @property
    def rate(self) -> float:
        """Records read per second of the run."""
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (for ``--json`` and logs)."""
        return {
            "pipeline": self.pipeline,
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "written": self.written,
            "rejects_written": self.rejects_written,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "stopped_by": self.stopped_by,
            "delivery": str(self.delivery) if self.delivery is not None else None,
            "guarantee": self.delivery.guarantee.value if self.delivery is not None else None,
            "rejected_by": counts_as_dicts(self.rejected_by),
        }

    def _rejections(self) -> list[tuple[tuple[str, str], int]]:
        return by_count(self.rejected_by)

    def _rows(self) -> list[tuple[str, str]]:
        return [
            ("read", f"{self.read:,}"),
            ("accepted", f"{self.accepted:,}"),
            ("rejected", f"{self.rejected:,}"),
            ("written", f"{self.written:,}"),
            ("rejects written", f"{self.rejects_written:,}"),
            ("time", f"{self.seconds:.2f} s"),
            ("rate", f"{self.rate:,.0f} records/s"),
            ("stopped by", self.stopped_by or "-"),
            ("delivery", str(self.delivery) if self.delivery is not None else "-"),
        ]

    def __str__(self) -> str:
        lines = summary_lines(f"pipeline {self.pipeline}", self._rows())
        lines += counts_lines("rejected by validator / rule:", self.rejected_by)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><th style='text-align:left'>{esc(k)}</th><td style='text-align:right'>{esc(v)}</td></tr>"
            for k, v in self._rows()
        )
        rejects = "".join(
            f"<tr><td>{esc(v)}</td><td>{esc(r)}</td><td style='text-align:right'>{n:,}</td></tr>"
            for (v, r), n in self._rejections()
        )
        out = f"<h4>pipeline {esc(self.pipeline)}</h4><table>{rows}</table>"
        if rejects:
            out += (
                "<table><thead><tr><th>validator</th><th>rule</th><th>rejected</th></tr></thead>"
                f"<tbody>{rejects}</tbody></table>"
            )
        return out


def by_count(counts: Counter[tuple[str, str]]) -> list[tuple[tuple[str, str], int]]:
    """(validator, rule) counts, the most frequent first, then by name."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def counts_as_dicts(counts: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
    """(validator, rule) counts as ``--json`` gives them: ``{"validator", "rule", "count"}``, most frequent first."""
    return [{"validator": v, "rule": r, "count": n} for (v, r), n in by_count(counts)]


def counts_lines(heading: str, counts: Counter[tuple[str, str]]) -> list[str]:
    """(validator, rule) counts under ``heading``, as a summary prints them; nothing when there are none."""
    if not counts:
        return []
    return [f"  {heading}"] + [f"    {n:>9,}  {v} / {r}" for (v, r), n in by_count(counts)]


def summary_lines(title: str, rows: list[tuple[str, str]]) -> list[str]:
    """``title``, then each (label, value) row with the values aligned."""
    width = max(len(k) for k, _ in rows)
    return [title] + [f"  {k:<{width}}  {v}" for k, v in rows]
