"""The journal of a replay out of a rejects file: what undoes a batch cut short, and what finishes a settled one.

One small JSON file beside the rejects file, always replaced whole (:func:`durable.write_file`), in two states:

- ``begun``: holds the sink's mark, written before the batch's rows. A crash leaves it so until the settlement is
  committed: the next replay cuts the sink back to the mark and runs the batch again.
- ``committed``: the settlement's new rejects files are written and fsynced beside the old ones; this record is
  the commit. Each is then renamed over its old file, and the journal removed. A crash after the commit is
  finished (the renames done) by the next replay, holding the files' locks.

So a settlement that spans several files (``split_by``) is one step, and deciding what happened never depends
on comparing files that something else may have appended to since.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from lmnh_pipes import RunError

from . import durable
from .durable import Fingerprint

__all__ = ["ReplayJournal", "Swap"]


@attrs.frozen
class Swap:
    """One rejects file of a settlement: its new content at ``temporary``, to be renamed over ``path`` while
    ``path`` is still as it was (``before``)."""

    path: str
    temporary: str
    before: Fingerprint


@attrs.define
class ReplayJournal:
    """The journal at ``path``."""

    path: str

    def _read(self) -> dict[str, Any] | None:
        try:
            with open(self.path, encoding="utf-8") as file:
                data = json.load(file)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError) as exc:
            raise RunError(f"cannot read the replay journal {self.path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("state") not in ("begun", "committed"):
            raise RunError(f"the replay journal {self.path} is not one that lmnh-pipes wrote")
        return data

    def state(self) -> str | None:
        """``begun``, ``committed``, or None when there is no journal."""
        data = self._read()
        return None if data is None else str(data["state"])

    def unfinished(self) -> Mapping[str, Any] | None:
        """The mark of a batch begun and never committed; None when there is none (or it was committed)."""
        data = self._read()
        if data is None or data["state"] != "begun":
            return None
        mark = data.get("mark")
        return mark if isinstance(mark, dict) else {}

    def begin(self, mark: Mapping[str, Any]) -> None:
        """Journal a batch's mark, before its rows are written."""
        self._write({"state": "begun", "mark": dict(mark)})

    def commit(self, swaps: Sequence[Swap]) -> None:
        """Commit a settlement whose new files are written and fsynced; then :meth:`finish` puts them in place."""
        files = [{"path": s.path, "temporary": s.temporary, "before": s.before.to_json()} for s in swaps]
        self._write({"state": "committed", "files": files})

    def finish(self) -> None:
        """Put a committed settlement's files in place and remove the journal; nothing when none was committed."""
        data = self._read()
        if data is None or data["state"] != "committed":
            return
        for item in data["files"]:
            path, temporary = str(item["path"]), str(item["temporary"])
            if not os.path.exists(temporary):
                continue  # renamed already
            if durable.fingerprint(path) != Fingerprint.from_json(item["before"]):
                raise RunError(
                    f"{path} changed after a replay had settled it, before the settlement was put in place: "
                    f"compare it with {temporary} (the settled file), keep one, and remove {self.path}"
                )
            durable.replace(temporary, path)
        self.end()

    def end(self) -> None:
        """Remove the journal."""
        durable.remove(self.path)

    def _write(self, data: dict[str, Any]) -> None:
        durable.write_file(self.path, json.dumps(data, sort_keys=True).encode("utf-8"))
