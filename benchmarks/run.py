"""The benchmark harness: ``python benchmarks/run.py [--messages N] [--runs R] [--only NAME ...]``.

Starts its own Tansu and PostgreSQL, fills a 3-partition topic with N simulated kiosk messages, measures every
variant of :mod:`benchmarks.variants` R times (interleaved: run 1 of each, then run 2 of each, ...), prints a table
with the median, min and max rate, the CPU used and the ratios, writes ``benchmarks/results/latest.json``, and exits
1 if any variant failed or left other row counts than the simulator's truth. See BENCHMARKS.md.

The peers (Quix Streams) run in their own environment, ``benchmarks/.peers-venv``, made before the first timed run
if it is missing (that downloads from the package index); ``--no-peers`` leaves them out.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: `python benchmarks/run.py`
    sys.path.insert(0, str(ROOT))

from benchmarks import data, profiling, report  # noqa: E402 - importable only once ROOT is on the path
from benchmarks.context import Context  # noqa: E402
from benchmarks.measure import Figures  # noqa: E402
from benchmarks.peers.environment import ENV_VAR, ensure_peers_python, peer_versions  # noqa: E402
from benchmarks.servers import running_servers  # noqa: E402
from benchmarks.variants import VARIANTS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[1])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages in the topic (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each variant (default 3)")
    parser.add_argument(
        "--partitions", type=int, default=data.PARTITIONS, help=f"the topic's partitions (default {data.PARTITIONS})"
    )
    (parser.add_argument("--processes", type=int, default=2, help="lmnh-pipes processes of scale_n (default 2)"),)
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), metavar="NAME", help="measure only these")
    parser.add_argument(
        "--cap", type=int, default=20_000, help="messages (rows) for the one-at-a-time variants (default 20,000)"
    )
    parser.add_argument(
        "--executemany-cap", type=int, default=200_000, help="rows for sink_executemany (default 200,000)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json", help="where to write the JSON")
    parser.add_argument("--profile", action="store_true", help="also profile one lmnh-pipes run with py-spy")
    parser.add_argument(
        "--no-peers", action="store_true", help="leave out the peers (other libraries, in their own environment)"
    )
    parser.add_argument(
        "--peers-python",
        metavar="PATH",
        help=f"the peers' interpreter (default: ${ENV_VAR}, else benchmarks/.peers-venv, made if missing)",
    )
    args = parser.parse_args(argv)
    for name in ("messages", "runs", "partitions", "processes", "cap", "executemany_cap"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.no_peers and args.only and any(VARIANTS[n].peer for n in args.only):
        parser.error("--only names a peer, and --no-peers leaves the peers out")
    return args


def selected(args: argparse.Namespace) -> list[str]:
    """The variants to measure, in VARIANTS' order: those of --only, else all but the peers if --no-peers."""
    if args.only is not None:
        return [n for n in VARIANTS if n in args.only]
    return [n for n, v in VARIANTS.items() if not (args.no_peers and v.peer)]


def prepare_peers(
    args: argparse.Namespace, names: list[str], errors: dict[str, str]
) -> tuple[Path | None, dict[str, str] | None]:
    """The peers' interpreter and library versions, if a peer is selected: made now, before any timed run. If that
    fails, every peer is marked failed (the others still run)."""
    peers = [n for n in names if VARIANTS[n].peer]
    if not peers:
        return None, None
    try:
        python = ensure_peers_python(args.peers_python)
        versions = peer_versions(python)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        for name in peers:
            errors[name] = f"the peers' environment: {type(exc).__name__}: {exc}"
        print(f"peers: FAILED, left out: {exc}", flush=True)
        return None, None
    print(f"peers: {python} (" + ", ".join(f"{k} {v}" for k, v in versions.items()) + ")", flush=True)
    return python, versions


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; return 0 if every variant produced figures and the right row counts, else 1."""
    args = parse_args(argv)
    names = selected(args)
    figures = {n: Figures(name=n, unit=VARIANTS[n].unit, note=VARIANTS[n].note) for n in names}
    errors: dict[str, str] = {}
    source = report.source_state()
    peers_python, peer_libraries = prepare_peers(args, names, errors)
    with running_servers() as servers, tempfile.TemporaryDirectory(prefix="lmnh-bench-files-") as tmp:
        machine = report.machine(servers, peer_libraries)
        print(
            f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB, "
            f"Python {machine['python']}, PostgreSQL {machine['postgresql']}, load {machine['load_average_at_start']}"
        )
        data.create_schema(servers.dsn)
        started = time.perf_counter()
        topic = data.fill_topic(servers.bootstrap, "kiosk-bench", args.messages, args.partitions)
        print(
            f"topic: {topic.size:,} messages in {topic.partitions} partitions, simulated and produced in "
            f"{time.perf_counter() - started:.1f} s (producing {topic.produce_seconds:.1f} s); truth: {topic.truth}"
        )
        ctx = Context(
            servers=servers,
            topic=topic,
            workdir=Path(tmp),
            cap=args.cap,
            executemany_cap=args.executemany_cap,
            peers_python=peers_python,
            processes=args.processes,
        )
        for run in range(1, args.runs + 1):
            for name in names:
                if name in errors:
                    continue
                try:
                    sample = VARIANTS[name].run(ctx)
                except Exception as exc:
                    errors[name] = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc()
                    print(f"run {run} {name:<22} FAILED: {errors[name]}", flush=True)
                    continue
                figures[name].samples.append(sample)
                check = "ok" if sample.correct else f"WRONG: {sample.got} != truth {sample.want}"
                extra = "".join(f", {k} {v:.2f}" for k, v in sorted(sample.extra.items()))
                print(
                    f"run {run} {name:<22} {sample.rate:>10,.0f} {VARIANTS[name].unit:<6} ({sample.count:,} in "
                    f"{sample.timing.wall:.2f} s, cpu {sample.timing.cpu:.2f} s, servers' cpu "
                    f"{sample.timing.server_cpu:.2f} s{extra}) rows {check}",
                    flush=True,
                )
        profile = profiling.profile_lmnh(ctx, args.output.parent) if args.profile else None
    source = {"at_start": source, "at_end": report.source_state()}
    return _finish(args, {**machine, "source": source}, topic, figures, errors, profile)


def _finish(
    args: argparse.Namespace,
    machine: dict[str, object],
    topic: data.Topic,
    figures: dict[str, Figures],
    errors: dict[str, str],
    profile: str | None,
) -> int:
    ratios = report.ratios(figures)
    source = machine["source"]
    assert isinstance(source, dict)
    if source["at_start"] != source["at_end"]:
        print(f"\nwarning: the library changed during the run: {source['at_start']} -> {source['at_end']}")
    print()
    print(report.table(figures))
    print()
    for name, value in ratios.items():
        print(f"{name:<36} {value:10.2f}x")
    if "naive" in figures:
        print(
            f"(naive and sink_insert_per_row ran on the first {min(args.cap, topic.size):,} messages/rows only; "
            f"sink_executemany on {args.executemany_cap:,} rows at most)"
        )
    if profile is not None:
        print("\nprofile of one lmnh-pipes run (py-spy):\n" + profile)
    wrong = [n for n, f in figures.items() if f.samples and not f.correct]
    ok = not errors and not wrong
    print(
        f"\ncheck: {'every variant wrote the truth' if ok else 'FAILED'}; truth {topic.truth}"
        + "".join(f"\n  {n}: {e}" for n, e in errors.items())
        + "".join(
            f"\n  {n}: rows {f.samples[-1].got} != truth {f.samples[-1].want}" for n, f in figures.items() if n in wrong
        )
    )
    report.write_json(
        args.output,
        {
            "machine": {**machine, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
            "config": {
                "messages": topic.size,
                "runs": args.runs,
                "cap": args.cap,
                "executemany_cap": args.executemany_cap,
                "partitions": topic.partitions,
                "processes": args.processes,
                "truth": {
                    "ratings": topic.truth.ratings,
                    "requests": topic.truth.requests,
                    "rejects": topic.truth.rejects,
                },
            },
            "ratios": ratios,
            "variants": {n: f.as_json() for n, f in figures.items()},
            "errors": errors,
            "ok": ok,
        },
    )
    print(f"wrote {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
