"""A pytest plug-in: every ``*.test.yaml`` file that pytest collects becomes one test item per case.

Installed with lmnh-pipes (the ``pytest11`` entry point ``lmnh_pipes``), so that a team's pipeline tests run in
its own suite: ``pytest tests/ pipelines/``. Paths in the pipeline files are relative to the working directory, as
for ``lmnh-pipes run``. A test file that cannot be read, or whose pipeline cannot be built, is a collection error
naming the file, line and key; a failing case shows what differed and what came out of every input. Turn the
plug-in off with ``pytest -p no:lmnh_pipes``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .testfiles import SUFFIX

if TYPE_CHECKING:
    from .pipetest import CaseResult, Prepared
    from .registry import Registry
    from .testfiles import Case

__all__ = ["CaseFailedError", "PipelineCase", "PipelineTestFile", "pytest_collect_file"]

_REGISTRY = pytest.StashKey["Registry"]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect ``*.test.yaml`` files."""
    if file_path.name.endswith(SUFFIX):
        return PipelineTestFile.from_parent(parent, path=file_path)
    return None


class CaseFailedError(AssertionError):
    """A case's outcome differs from what it expects."""

    def __init__(self, result: CaseResult) -> None:
        self.result = result
        super().__init__(f"{result.title} failed")


class PipelineTestFile(pytest.File):
    """A pipeline test file: its pipeline is built once, and each case is an item."""

    def collect(self) -> list[PipelineCase]:
        # Imported here: pytest loads this plug-in in every session, most of which hold no pipeline test.
        from .pipetest import prepare

        # Named as the user ran pytest: relative to where they ran it, unless above it.
        shown = os.path.relpath(self.path, self.config.invocation_params.dir)
        prepared = prepare(self.path if shown.startswith("..") else shown, self._registry())
        return [
            PipelineCase.from_parent(self, name=case.name, prepared=prepared, case=case)
            for case in prepared.suite.cases
        ]

    def _registry(self) -> Registry:
        # One registry for the session: loading the plug-ins' entry points once is enough.
        registry = self.config.stash.get(_REGISTRY, None)
        if registry is None:
            from .plugins import get_registry

            registry = self.config.stash[_REGISTRY] = get_registry()
        return registry

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override] # Collector's own
        from .errors import ConfigError

        if isinstance(excinfo.value, ConfigError):
            return "\n".join(str(p) for p in excinfo.value.problems)
        return str(super().repr_failure(excinfo))


class PipelineCase(pytest.Item):
    """One case of a pipeline test file."""

    def __init__(self, *, prepared: Prepared, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prepared = prepared
        self.case = case

    def runtest(self) -> None:
        from .pipetest import run_case

        result = run_case(self.prepared, self.case)
        if not result.passed:
            raise CaseFailedError(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from .errors import ConfigError

        if isinstance(excinfo.value, CaseFailedError):
            return "\n".join(excinfo.value.result.lines())
        if isinstance(excinfo.value, ConfigError):
            return "\n".join(str(p) for p in excinfo.value.problems)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.case.line
        return self.path, None if line is None else line - 1, f"case: {self.name}"
