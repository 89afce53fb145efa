"""Paths and helpers shared by the tests of deploy/."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
EXAMPLES = ROOT / "examples" / "lmnh"
UNIT = DEPLOY / "systemd" / "lmnh-pipes@.service"
ENV_EXAMPLE = DEPLOY / "systemd" / "lmnh-pipes.env.example"

#: The museum's .env names, which examples/lmnh/pipeline.yaml reads.
MUSEUM_NAMES = frozenset(
    {"BOOTSTRAP_SERVERS", "SECURITY_PROTOCOL", "SASL_MECHANISM", "USERNAME", "PASSWORD", "TOPIC", "G_ID"}
    | {"DB_HOST", "DB_NAME", "DB_USERNAME", "DB_PASSWORD"}
)


def need(tool: str, install: str) -> str:
    """The tool's path; skip when it is missing, except under CI, which must have installed it."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: CI must install it ({install})")
        pytest.skip(f"{tool} is not installed ({install})")
    return path


def pipeline_variables(path: Path) -> set[str]:
    """The names of the ``${VAR}`` references in a pipeline file."""
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", path.read_text()))
