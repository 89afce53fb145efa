"""Profile one ``lmnh-pipes run`` of the benchmarked pipeline with py-spy, and rank the functions it sampled.

``run.py --profile`` writes the raw folded stacks to ``results/profile-lmnh_pipes.folded`` (for a flame graph) and
the ranking to ``results/profile-lmnh_pipes.txt``: by own time (the sampled frame itself) and by total time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Final

from .context import Context
from .data import reset_tables
from .lmnh import write_pipeline

__all__ = ["profile_lmnh", "rank"]

_LINE: Final = re.compile(r":\d+\)$")


def _frame(frame: str) -> str:
    """``func (path/file.py:123)`` -> ``func (path/file.py)``: rank functions, not lines."""
    return _LINE.sub(")", frame.strip())


def _file(frame: str) -> str:
    return frame[frame.rfind("(") + 1 : -1] if frame.endswith(")") else frame


def rank(folded: str, top: int = 15) -> str:
    """A text ranking of py-spy's raw (folded) stacks: samples per thread, functions and files by own samples, and
    functions by total samples (leaving out, per thread, the chain of callers on nearly every one of its stacks).

    With ``py-spy record --threads`` each stack starts with a ``thread (id): name`` frame.
    """
    own: Counter[str] = Counter()
    files: Counter[str] = Counter()
    total: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    per_thread: dict[str, Counter[str]] = {}
    samples = 0
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        thread = "all"
        if frames[0].startswith("thread ("):
            thread = frames.pop(0).split(": ", 1)[-1]
        if not frames:
            continue
        samples += n
        threads[thread] += n
        own[frames[-1]] += n
        files[_file(frames[-1])] += n
        mine = per_thread.setdefault(thread, Counter())
        for f in set(frames):
            mine[f] += n
    if not samples:
        return "no samples"
    for thread, counts in per_thread.items():
        total.update({f: n for f, n in counts.items() if n < 0.95 * threads[thread]})

    def lines(counter: Counter[str]) -> list[str]:
        return [f"  {100 * n / samples:5.1f}%  {f}" for f, n in counter.most_common(top)]

    return "\n".join(
        [
            f"{samples} samples (py-spy, 100 a second of each running Python thread)",
            "by thread: " + ", ".join(f"{t} {100 * n / samples:.1f}%" for t, n in threads.most_common()),
            "",
            f"top {top} functions by own time:",
            *lines(own),
            "",
            f"top {top} files by own time:",
            *lines(files),
            "",
            f"top {top} functions by total time (itself and what it calls; a thread's callers on >= 95% of its "
            "stacks left out):",
            *lines(total),
        ]
    )


def profile_lmnh(ctx: Context, results: Path) -> str:
    """Run the benchmarked pipeline once under ``py-spy record`` with ``--limit`` = every message; return the
    ranking (also written beside the folded stacks in ``results``)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return "py-spy is not installed: pip install py-spy"
    reset_tables(ctx.servers.dsn)
    path = write_pipeline(ctx, name=ctx.fresh("profile"), group=ctx.fresh("profile-group"))
    folded = results / "profile-lmnh_pipes.folded"
    results.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "lmnh_pipes", "run", str(path), "--limit", str(ctx.topic.size)]
    subprocess.run(
        [spy, "record", "--rate", "100", "--threads", "--format", "raw", "--output", str(folded), "--", *command],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ranking = rank(folded.read_text())
    (results / "profile-lmnh_pipes.txt").write_text(ranking + "\n")
    return ranking
