"""``lmnh-pipes offsets``: see a pipeline's positions beside its source's watermarks, and move them.

A position is read and moved where the pipeline keeps it: in the sink, beside the rows, for an exactly-once
pipeline (:class:`~lmnh_pipes.positioning.PositionMover`); in the source's group otherwise
(:class:`~lmnh_pipes.positioning.PositionedSource`). Nothing here joins the group, and nothing moves while it has
an active member, which would overwrite the move with its next commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import attrs

from .delivery import Positions, PositionStore
from .errors import ConfigError, RunError
from .pipeline import Pipeline
from .positioning import PositionAdmin, PositionedSource, PositionMover

__all__ = ["Move", "MoveReport", "OffsetsView", "PartitionRow", "Target", "move_offsets", "show_offsets"]

#: Where to move: the low or the high watermark, an offset, or the first record at or after a time.
Target = Literal["earliest", "latest"] | int | datetime

#: Who keeps a partition's position: the sink (beside its rows) or the source's group.
Keeper = Literal["sink", "group"]


@attrs.frozen(kw_only=True)
class PartitionRow:
    """One partition: its stored position (None: none yet), who keeps it, and its watermarks."""

    topic: str
    partition: int
    stored: int | None
    kept_by: Keeper | None
    low: int
    high: int

    @property
    def lag(self) -> int | None:
        """The high watermark minus the stored position; None when nothing is stored."""
        return None if self.stored is None else self.high - self.stored

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "lag": self.lag}


@attrs.frozen(kw_only=True)
class OffsetsView:
    """Every partition of a pipeline's source."""

    pipeline: str
    in_sink: bool
    rows: list[PartitionRow]

    def lines(self) -> list[str]:
        where = "in the sink, beside the rows" if self.in_sink else "in the source's group"
        out = [f"pipeline {self.pipeline}: positions kept {where}"]
        out += _table(
            ["topic", "partition", "stored", "low", "high", "lag"],
            [[r.topic, r.partition, _dash(r.stored), r.low, r.high, _dash(r.lag)] for r in self.rows],
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"pipeline": self.pipeline, "in_sink": self.in_sink, "partitions": [r.to_dict() for r in self.rows]}


@attrs.frozen(kw_only=True)
class Move:
    """One partition's position, before and after."""

    topic: str
    partition: int
    old: int | None
    new: int


@attrs.frozen(kw_only=True)
class MoveReport:
    """What a move did (or, for a dry run, would do)."""

    pipeline: str
    in_sink: bool
    dry_run: bool
    moves: list[Move]

    def lines(self) -> list[str]:
        verb = "would move (dry run: nothing changed)" if self.dry_run else "moved"
        where = "in the sink" if self.in_sink else "in the source's group"
        out = [f"pipeline {self.pipeline}: {verb} {len(self.moves)} position(s) {where}"]
        out += _table(
            ["topic", "partition", "old", "new"], [[m.topic, m.partition, _dash(m.old), m.new] for m in self.moves]
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "in_sink": self.in_sink,
            "dry_run": self.dry_run,
            "moves": [attrs.asdict(m) for m in self.moves],
        }


def show_offsets(pipeline: Pipeline) -> OffsetsView:
    """Each partition's stored position, where the pipeline keeps it, and its watermarks. Reads only."""
    source, store = _parts(pipeline)
    with source.position_admin() as admin:
        partitions = admin.partitions()
        return OffsetsView(
            pipeline=pipeline.name, in_sink=store is not None, rows=_rows(pipeline, admin, store, partitions)
        )


def move_offsets(
    pipeline: Pipeline, target: Target, partitions: Sequence[int] = (), *, dry_run: bool = False
) -> MoveReport:
    """Move the positions of ``partitions`` (default: all) of every topic to ``target``, where the pipeline
    keeps them; with ``dry_run``, only say what would move.

    Raises :class:`~lmnh_pipes.errors.RunError` (nothing moved) while the group has active members, and
    :class:`~lmnh_pipes.errors.ConfigError` for a partition that the source's topics do not have."""
    if isinstance(target, int) and target < 0:
        raise ConfigError(f"an offset is 0 or more, found {target}")
    source, store = _parts(pipeline)
    if store is not None and not isinstance(store, PositionMover):
        raise ConfigError("the sink keeps this pipeline's positions but cannot move them")
    with source.position_admin() as admin:
        every = admin.partitions()
        unknown = sorted(set(partitions) - {p for _, p in every})
        if unknown:
            raise ConfigError(
                f"no partition {', '.join(map(str, unknown))}: the partitions are {', '.join(_numbers(every))}"
            )
        chosen = [tp for tp in every if not partitions or tp[1] in partitions]
        members = admin.active_members()
        if members:
            raise RunError(
                "the group has active members; stop them before moving its positions (nothing was changed): "
                + "; ".join(members)
            )
        rows = _rows(pipeline, admin, store, chosen)
        new = _targets(admin, rows, target)
        moves = [
            Move(topic=r.topic, partition=r.partition, old=r.stored, new=new[(r.topic, r.partition)]) for r in rows
        ]
        if not dry_run:
            if store is not None:
                assert isinstance(store, PositionMover)
                store.move_positions(pipeline.name, new)
            else:
                admin.commit_group_positions(new)
    return MoveReport(pipeline=pipeline.name, in_sink=store is not None, dry_run=dry_run, moves=moves)


def _parts(pipeline: Pipeline) -> tuple[PositionedSource, PositionStore | None]:
    """The source, and the sink when it keeps the positions."""
    source = pipeline.source
    if not isinstance(source, PositionedSource):
        raise ConfigError(
            f"the source ({type(source).__name__}) keeps no positions that can be read from outside a run"
        )
    store = pipeline.sink if pipeline.plan().positions_in_sink else None
    assert store is None or isinstance(store, PositionStore)
    return source, store


def _rows(
    pipeline: Pipeline, admin: PositionAdmin, store: PositionStore | None, partitions: list[tuple[str, int]]
) -> list[PartitionRow]:
    marks = admin.watermarks(partitions)
    group = admin.group_positions(partitions)
    # A partition that the sink holds no position for yet starts at the group's commit: that is where the
    # next run resumes from, so it is what is shown.
    kept = store.stored_positions(pipeline.name, partitions) if store is not None else {}
    rows = []
    for tp in partitions:
        stored, keeper = (kept[tp], "sink") if tp in kept else (group.get(tp), "group")
        low, high = marks[tp]
        rows.append(
            PartitionRow(
                topic=tp[0],
                partition=tp[1],
                stored=stored,
                kept_by=keeper if stored is not None else None,  # type: ignore[arg-type]  # one of Keeper
                low=low,
                high=high,
            )
        )
    return rows


def _targets(admin: PositionAdmin, rows: list[PartitionRow], target: Target) -> Positions:
    partitions = [(r.topic, r.partition) for r in rows]
    if target == "earliest":
        return {(r.topic, r.partition): r.low for r in rows}
    if target == "latest":
        return {(r.topic, r.partition): r.high for r in rows}
    if isinstance(target, datetime):
        return admin.offsets_for_time(partitions, target)
    assert isinstance(target, int)
    return dict.fromkeys(partitions, target)


def _numbers(partitions: list[tuple[str, int]]) -> list[str]:
    return [str(p) for p in sorted({p for _, p in partitions})]


def _dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header, *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
        for row in cells
    ]
