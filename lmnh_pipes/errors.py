"""The whole exception tree of lmnh-pipes.

::

    LmnhPipesError                    base; the CLI catches only this
     +-- ConfigError (ValueError)     the pipeline cannot be built; nothing was started (exit 2)
     |    +-- PluginError             a plug-in is broken, or two plug-ins claim one type name
     +-- EndOfInput                   raised by Source.read: the source has nothing more, ever
     +-- TransientError               an outage: retry with back-off, never turn the record into a reject
     +-- RecordRejectedError          a sink refused some records for their content: they become rejects
     +-- RunError (RuntimeError)      the run failed and stopped without committing the batch in hand (exit 1)
          +-- RejectLimitError        more of the latest records were rejected than ``reject_limit`` allows

Bad *data* is never an exception: a validator returns the record with a
:class:`~lmnh_pipes.records.Rejection` attached, and the record flows on to the
rejects sink.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = [
    "ConfigError",
    "EndOfInput",
    "LmnhPipesError",
    "PluginError",
    "Problem",
    "RecordRejectedError",
    "RejectLimitError",
    "RunError",
    "TransientError",
]


class LmnhPipesError(Exception):
    """The base of every error that lmnh-pipes raises on purpose."""


@attrs.frozen(kw_only=True)
class Problem:
    """One thing wrong with a pipeline's configuration, located as precisely as known.

    ``path`` is a key path such as ``validators[2].catalogue``; ``line`` is 1-based.
    """

    message: str
    file: str | None = None
    line: int | None = None
    path: str = ""
    hint: str = ""

    def placed_at(self, origin: Problem) -> Problem:
        """This problem placed at ``origin``'s file, line and key path (its own path below it), unless it already
        names a file: a component's error, located where the component was configured."""
        if self.file is not None:
            return self
        path = f"{origin.path}.{self.path}" if self.path else origin.path
        return attrs.evolve(origin, message=self.message, hint=self.hint, path=path)

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        elif self.line is not None:
            where = f"line {self.line}: "
        key = f"{self.path}: " if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{key}{self.message}{hint}"


class ConfigError(LmnhPipesError, ValueError):
    """The pipeline is misconfigured. Raised before anything is opened or connected.

    Carries every :class:`Problem` found, so that ``lmnh-pipes check`` can report them all at once.
    """

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(message=problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PluginError(ConfigError):
    """A plug-in failed to load or register, or two plug-ins registered the same type name."""


class EndOfInput(LmnhPipesError):  # noqa: N818 -- a signal that the source is done, not an error
    """Raised by ``Source.read`` when the source will never yield another record."""


class TransientError(LmnhPipesError):
    """A fault that may pass (a broker or database outage). The caller retries with back-off."""


class RecordRejectedError(LmnhPipesError):
    """A sink refused some records for what they hold (a constraint, a value out of range), and wrote nothing.

    ``records`` pairs each refused record with the sink's reason (the database's message). The runner turns
    them into rejects (``reject.validator`` is ``sink``, ``reject.rule`` is ``write``), sends them to the rejects
    sink, and writes the rest of the batch again. The sink must have written nothing of the batch when raising.
    """

    def __init__(self, sink: str, records: list[tuple[Any, str]]) -> None:
        self.sink = sink
        self.records = records
        first = records[0][1] if records else ""
        super().__init__(f"{sink} refused {len(records)} record(s): {first}")


class RunError(LmnhPipesError, RuntimeError):
    """The run failed while running, after any retries; the batch in hand was not committed."""


class RejectLimitError(RunError):
    """More than ``reject_limit.max_share`` of the last ``reject_limit.window`` records were rejected. The batch
    that crossed the limit was neither written nor acknowledged, so that a run started after the cause is fixed
    reads it again; the batches before it were written and acknowledged."""
