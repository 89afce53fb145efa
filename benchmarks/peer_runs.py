"""The peers (issue 17): a worker of :mod:`benchmarks.peers` run in the peers' environment, one run each.

Timed from starting the worker's interpreter until it exited: its imports (the library, the kiosk validator), the
group join (Bytewax joins none), every message and the last flush, as ``lmnh_pipes`` is timed from loading its
pipeline until ``run`` returned. The worker is a waited-for child, so its CPU is in the sample's
(``RUSAGE_CHILDREN``); ``worker_cpu_s``, the worker's own count, checks that.

The peers are at least once: after the clean stop, ``duplicates`` counts the rows beyond the truth, table by table.
"""

from __future__ import annotations

import json
import subprocess
import time

from .context import Context
from .data import CATALOGUE, ROOT, Counts, count_rows, reset_tables
from .measure import Sample
from .peers.environment import worker_env

__all__ = ["duplicates", "quix_arguments", "run_bytewax", "run_quix"]


def duplicates(got: Counts, want: Counts) -> int:
    """Rows written beyond the truth, table by table (a table short of the truth counts 0 here: the check says
    so)."""
    pairs = ((got.ratings, want.ratings), (got.requests, want.requests), (got.rejects, want.rejects))
    return sum(max(0, g - w) for g, w in pairs)


def _common(ctx: Context) -> list[str]:
    return [
        *("--bootstrap", ctx.servers.bootstrap, "--dsn", ctx.servers.dsn, "--topic", ctx.topic.name),
        *("--messages", str(ctx.topic.size), "--catalogue", str(CATALOGUE)),
    ]


def quix_arguments(ctx: Context, *, sink: str, group: str, state_dir: str) -> list[str]:
    """The arguments of :mod:`benchmarks.peers.quix_worker` for one run."""
    return [*_common(ctx), "--sink", sink, "--group", group, "--state-dir", state_dir]


def run_quix(ctx: Context, sink: str) -> Sample:
    """One run of the Quix worker with ``sink`` (``pg`` or ``copy``) over the whole topic, in a new consumer
    group."""
    name = ctx.fresh(f"quix-{sink}")
    arguments = quix_arguments(ctx, sink=sink, group=name, state_dir=str(ctx.workdir / name))
    return _run_worker(ctx, name, "benchmarks.peers.quix_worker", arguments)


def run_bytewax(ctx: Context) -> Sample:
    """One run of the Bytewax worker over the whole topic, with a new recovery folder."""
    name = ctx.fresh("bytewax")
    arguments = [*_common(ctx), "--recovery-dir", str(ctx.workdir / name)]
    return _run_worker(ctx, name, "benchmarks.peers.bytewax_worker", arguments)


def _run_worker(ctx: Context, name: str, module: str, arguments: list[str]) -> Sample:
    if ctx.peers_python is None:
        raise RuntimeError("the peers' interpreter is not prepared: benchmarks/run.py does that before the runs")
    reset_tables(ctx.servers.dsn)
    n = ctx.topic.size
    log = ctx.workdir / f"{name}.log"
    env = worker_env()
    command = [str(ctx.peers_python), "-m", module, *arguments]
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
        raise RuntimeError(f"{module} exited with {done.returncode}: {log.read_text()[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["processed"] != n:
        raise RuntimeError(f"{module} processed {result['processed']} of {n} messages")
    got, want = count_rows(ctx.servers.dsn), ctx.topic.truth
    extra = {
        "duplicates": float(duplicates(got, want)),
        "import_s": float(result["import_s"]),
        "worker_cpu_s": float(result["cpu_s"]),
    }
    if result.get("writes"):
        extra["rows_per_write"] = n / result["writes"]
    if result["first_message_at"] is not None:
        extra["join_s"] = float(result["first_message_at"]) - started
    return Sample(count=n, timing=timing, got=got, want=want, extra=extra)
