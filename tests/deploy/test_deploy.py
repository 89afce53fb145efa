"""The systemd unit, its environment file, the container recipe and the operators' README in deploy/.

The unit is checked by systemd itself (``systemd-analyze verify`` and ``security``). The container recipe is
not built (no Docker engine runs here): its instructions are read as text, which is weak; its build context is
reproduced from Dockerfile.dockerignore and pip builds the wheel from it, and its health check runs against a
local HTTP server. The Terraform module has its own file, test_terraform.py.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

import lmnh_pipes
from lmnh_pipes import cli
from lmnh_pipes.cli import EXIT_CONFIG
from lmnh_pipes.environ import read_env_file
from lmnh_pipes_postgres.sink import PostgresSink

from .common import DEPLOY, ENV_EXAMPLE, EXAMPLES, MUSEUM_NAMES, ROOT, UNIT, need, pipeline_variables

DOCKERFILE = DEPLOY / "container" / "Dockerfile"
SYSTEMD = "apt-get install -y systemd"


def museum_pipeline() -> lmnh_pipes.Pipeline:
    return lmnh_pipes.load(
        EXAMPLES / "pipeline.yaml", env_file=ENV_EXAMPLE, environ={"CATALOGUE": str(EXAMPLES / "exhibitions")}
    )


# -- systemd --


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_runs_the_pipeline_of_its_instance_and_stops_it_with_sigterm() -> None:
    s = unit_settings()
    assert s["ExecStart"] == [
        "/opt/lmnh-pipes/venv/bin/lmnh-pipes run /etc/lmnh-pipes/%i.yaml --env-file /etc/lmnh-pipes/%i.env"
    ]
    assert s["Restart"] == ["on-failure"]
    assert s["RestartPreventExitStatus"] == [str(EXIT_CONFIG)]  # a configuration error would only repeat
    assert s["KillSignal"] == ["SIGTERM"]
    # A clean stop may ride out the retries of its last write (run's shutdown timeout), and little more.
    stop = int(s["TimeoutStopSec"][0].removesuffix("s"))
    shutdown = next(p.default for p in cli.run.params if p.name == "shutdown_timeout")
    assert shutdown < stop <= shutdown + 60
    assert s["User"] == ["lmnh-pipes"]
    assert s["NoNewPrivileges"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"]
    assert s["ReadWritePaths"] == ["/var/lib/lmnh-pipes/%i"] == ["/var/lib/" + s["StateDirectory"][0]]
    assert s["StandardOutput"] == ["journal"]


@pytest.fixture
def unit_instance(tmp_path: Path) -> Path:
    """The unit as lmnh-pipes@museum.service, its ExecStart pointed at this environment's lmnh-pipes."""
    binary = Path(sys.executable).parent / "lmnh-pipes"
    assert binary.is_file(), f"{binary} is missing: pip install -e . first"
    text = UNIT.read_text().replace("ExecStart=/opt/lmnh-pipes/venv/bin/lmnh-pipes", f"ExecStart={binary}")
    assert text != UNIT.read_text()
    path = tmp_path / "lmnh-pipes@museum.service"
    path.write_text(text)
    return path


def test_unit_passes_systemd_analyze_verify(unit_instance: Path) -> None:
    done = subprocess.run(
        [need("systemd-analyze", SYSTEMD), "verify", "--man=no", str(unit_instance)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line for line in (done.stdout + done.stderr).splitlines() if "lmnh-pipes" in line] == []


def test_unit_exposure_is_low(unit_instance: Path) -> None:
    # --threshold is on systemd's 0-100 scale: 20 is an exposure of 2.0 (a unit without hardening scores 9.6).
    done = subprocess.run(
        [need("systemd-analyze", SYSTEMD), "security", "--offline=true", "--threshold=20", str(unit_instance)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr


def test_env_example_holds_every_variable_of_the_museum_pipeline() -> None:
    env = read_env_file(ENV_EXAMPLE)
    assert set(env) >= MUSEUM_NAMES
    assert set(env) >= pipeline_variables(EXAMPLES / "pipeline.yaml")
    assert museum_pipeline().name == "kiosk-to-postgres"


# -- the container --


def instructions(path: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions, comments left out and continuation lines joined."""
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
    steps = []
    for line in text.replace("\\\n", " ").splitlines():
        if line.strip():
            op, arg = line.split(None, 1)
            steps.append((op.upper(), arg.strip()))
    return steps


def test_dockerfile_runs_lmnh_pipes_as_a_user_and_stops_it_with_sigterm() -> None:
    """Weak: this reads the recipe's text; no image was built (no Docker engine runs here)."""
    steps = instructions(DOCKERFILE)
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    assert final[0] == ("FROM", "python:3.11-slim")
    last = dict(final)
    assert json.loads(last["ENTRYPOINT"]) == ["lmnh-pipes"]
    assert 'lmnh-pipes = "lmnh_pipes.cli:main"' in (ROOT / "pyproject.toml").read_text()
    assert last["STOPSIGNAL"] == "SIGTERM"
    assert last["USER"].split(":")[0] not in ("root", "0")
    assert last["HEALTHCHECK"].endswith('CMD ["python", "/opt/lmnh-pipes/healthcheck.py"]')
    assert json.loads(last["CMD"]) == ["run", "examples/lmnh/pipeline.yaml"]


def dockerignore_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Dockerfile.dockerignore's lines and their regexes: ``*`` stays within a directory, ``**/`` does not."""
    patterns = []
    for line in (DEPLOY / "container" / "Dockerfile.dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            body = fnmatch.translate(line.lstrip("!").replace("**/", "\0")).replace(".*", "[^/]*")
            patterns.append((line, re.compile(body.replace("\0", "(?:.*/)?"))))
    return patterns


def ignored(rel: str, patterns: list[tuple[str, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    parts = rel.split("/")
    verdict = False
    for line, regex in patterns:
        if any(regex.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            verdict = not line.startswith("!")
    return verdict


def build_context(target: Path) -> None:
    """Copy what Docker would send as the build context of deploy/container/Dockerfile into ``target``."""
    patterns = dockerignore_patterns()
    exceptions = [line[1:] for line, _ in patterns if line.startswith("!")]
    for folder, dirs, files in os.walk(ROOT):
        rel = Path(folder).relative_to(ROOT).as_posix()
        prefix = "" if rel == "." else rel + "/"
        # An ignored folder is walked only if an exception lies inside it (.venv, .git and out/ are not).
        dirs[:] = [
            d
            for d in dirs
            if not ignored(prefix + d, patterns) or any(e.startswith(prefix + d + "/") for e in exceptions)
        ]
        for name in files:
            if not ignored(prefix + name, patterns):
                (target / prefix).mkdir(parents=True, exist_ok=True)
                shutil.copy(Path(folder) / name, target / prefix / name)


@pytest.mark.slow
def test_build_context_holds_what_the_recipe_needs_and_builds_the_wheel(tmp_path: Path) -> None:
    context = tmp_path / "context"
    build_context(context)
    assert {p.name for p in context.iterdir()} == {
        "pyproject.toml",
        "README.md",
        "lmnh_pipes",
        "plugins",
        "examples",
        "deploy",
    }
    assert not [*context.rglob("__pycache__"), *context.rglob("*.egg-info"), *context.rglob(".env")]
    for op, arg in instructions(DOCKERFILE):
        if op == "COPY" and not arg.startswith("--from") and arg != ". .":
            assert (context / arg.split()[0]).is_file(), arg
    assert (context / "examples/lmnh/pipeline.yaml").is_file()  # the default CMD
    wheels = tmp_path / "wheels"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, context],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = wheels.glob("lmnh_pipes-*.whl")  # the name the recipe's pip install expects
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "lmnh-pipes = lmnh_pipes.cli:main" in archive.read(entry_points).decode()
    for package in ("lmnh_pipes", "lmnh_pipes_files", "lmnh_pipes_rules", "lmnh_pipes_kiosk", "lmnh_pipes_kafka"):
        assert f"{package}/__init__.py" in names
        assert f"{package}/py.typed" in names
    assert "lmnh_pipes_postgres/__init__.py" in names


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def healthcheck(url: str) -> subprocess.CompletedProcess[str]:
    script = DEPLOY / "container" / "healthcheck.py"
    env = {**os.environ, "LMNH_PIPES_HEALTH_URL": url}
    return subprocess.run([sys.executable, script], capture_output=True, text=True, env=env, timeout=30)


def test_healthcheck_reports_what_it_asked() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert healthcheck(f"{url}/healthz").returncode == 0
        assert healthcheck(f"{url}/ready").returncode == 1
    finally:
        server.shutdown()
        server.server_close()
    refused = healthcheck(f"{url}/healthz")  # nothing listens there any more
    assert refused.returncode == 1
    assert "http: {address:" in refused.stderr


# -- the operators' README --


def test_readme_replay_names_the_real_pipeline_and_offsets_table() -> None:
    readme = (DEPLOY / "README.md").read_text()
    offsets_table = PostgresSink.__attrs_attrs__.offsets_table.default
    assert f"UPDATE {offsets_table} SET next_offset" in readme
    assert f"pipeline = '{museum_pipeline().name}'" in readme
