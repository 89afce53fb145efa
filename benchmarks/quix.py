"""The Quix Streams peers (issue 17): :mod:`benchmarks.peers.quix_worker` run in the peers' environment.

Timed from starting the worker's interpreter until it exited: its imports (Quix, the kiosk validator), the group
join, every message and the last checkpoint's flush, as ``lmnh_pipes`` is timed from loading its pipeline until
``run`` returned. The worker is a waited-for child, so its CPU is in the sample's (``RUSAGE_CHILDREN``).

Quix is at least once: after the clean stop, ``duplicates`` counts the rows beyond the truth, table by table.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Final

from .context import Context
from .data import CATALOGUE, ROOT, Counts, count_rows, reset_tables
from .measure import Sample
from .peers.environment import worker_env

__all__ = ["duplicates", "run_quix", "worker_command"]

_WORKER: Final = "benchmarks.peers.quix_worker"


def duplicates(got: Counts, want: Counts) -> int:
    """Rows written beyond the truth, table by table (a table short of the truth counts 0 here: the check says
    so)."""
    pairs = ((got.ratings, want.ratings), (got.requests, want.requests), (got.rejects, want.rejects))
    return sum(max(0, g - w) for g, w in pairs)


def worker_command(ctx: Context, *, sink: str, group: str, state_dir: str) -> list[str]:
    """The worker's command line for one run (``ctx.peers_python`` must be set)."""
    if ctx.peers_python is None:
        raise RuntimeError("the peers' interpreter is not prepared: benchmarks/run.py does that before the runs")
    return [
        str(ctx.peers_python),
        "-m",
        _WORKER,
        "--bootstrap",
        ctx.servers.bootstrap,
        "--dsn",
        ctx.servers.dsn,
        "--topic",
        ctx.topic.name,
        "--group",
        group,
        "--messages",
        str(ctx.topic.size),
        "--sink",
        sink,
        "--catalogue",
        str(CATALOGUE),
        "--state-dir",
        state_dir,
    ]


def run_quix(ctx: Context, sink: str) -> Sample:
    """One run of the worker with ``sink`` (``pg`` or ``copy``) over the whole topic, in a fresh consumer group."""
    reset_tables(ctx.servers.dsn)
    n = ctx.topic.size
    name = ctx.fresh(f"quix-{sink}")
    command = worker_command(ctx, sink=sink, group=name, state_dir=str(ctx.workdir / name))
    log = ctx.workdir / f"{name}.log"
    env = worker_env()
    with log.open("w") as stderr, ctx.measure() as timing:
        started = time.time()
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=120 + n / 1_000,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the quix worker exited with {done.returncode}: {log.read_text()[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["processed"] != n:
        raise RuntimeError(f"the quix worker processed {result['processed']} of {n} messages")
    got, want = count_rows(ctx.servers.dsn), ctx.topic.truth
    # worker_cpu_s: what the worker counted itself, a check that the sample's CPU (RUSAGE_CHILDREN) holds it.
    extra = {
        "duplicates": float(duplicates(got, want)),
        "import_s": float(result["import_s"]),
        "worker_cpu_s": float(result["cpu_s"]),
    }
    if result["first_message_at"] is not None:
        extra["join_s"] = float(result["first_message_at"]) - started
    return Sample(count=n, timing=timing, got=got, want=want, extra=extra)
