"""The peers' virtual environment: ``benchmarks/.peers-venv``, made on first use, or one a user names.

Quix Streams 3.28.1 pins confluent-kafka < 2.13 and lmnh-pipes uses 2.16, so the peers never share the project's
environment, and lmnh-pipes is not installed in theirs: the worker finds ``lmnh_pipes``, ``lmnh_pipes_kiosk`` and
``benchmarks`` through ``PYTHONPATH`` (:func:`worker_env`), with what their import needs (attrs, cattrs, pluggy,
PyYAML, smart-open, msgspec) installed beside Quix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = ["DEFAULT_VENV", "ENV_VAR", "REQUIREMENTS", "ensure_peers_python", "peer_versions", "worker_env"]

ROOT: Final = Path(__file__).resolve().parents[2]
DEFAULT_VENV: Final = ROOT / "benchmarks" / ".peers-venv"
#: Names an interpreter that has the peers installed (the same as --peers-python).
ENV_VAR: Final = "LMNH_BENCH_PEERS_PYTHON"
REQUIREMENTS: Final = (
    "quixstreams[postgresql]==3.28.1",  # the extra brings psycopg2-binary, for its PostgreSQLSink
    "bytewax[kafka]==0.21.1",
    "psycopg[binary]>=3.2",  # the COPY sink, and the exhibition look-up
    "msgspec>=0.18",
    # What the kiosk validator needs from lmnh-pipes' own dependencies:
    "attrs>=23.1",
    "cattrs>=23.2",
    "pluggy>=1.5",
    "PyYAML>=6.0",
    "smart-open>=7.0",  # the validator opens its catalogue with it
)
#: Written once every requirement is installed: a folder without it (an interrupted install) is installed again.
_STAMP: Final = ".lmnh-peers-ready"
_VERSIONS: Final = ("quixstreams", "bytewax", "confluent-kafka", "psycopg2-binary", "psycopg", "msgspec")
#: Run with the catalogue's path: what the worker imports, and the validator opening its catalogue.
_CHECK: Final = (
    "import sys, quixstreams, quixstreams.sinks.community.postgresql, bytewax.connectors.kafka, psycopg, msgspec\n"
    "from lmnh_pipes_kiosk import KioskValidator\n"
    "KioskValidator(catalogue=sys.argv[1]).open()\n"
)


def worker_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: ``base`` (this process's) with the repository and ``plugins/`` first on
    ``PYTHONPATH``."""
    env = dict(os.environ if base is None else base)
    paths = [str(ROOT), str(ROOT / "plugins")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_peers_python(given: str | None = None, venv: Path = DEFAULT_VENV) -> Path:
    """The interpreter that runs the peers: ``given`` (``--peers-python``), else ``$LMNH_BENCH_PEERS_PYTHON``, else
    ``venv``'s, which is made and filled first if it is not complete (that needs the package index, and prints what
    it does). Raises RuntimeError if the interpreter cannot import the peers."""
    named = given or os.environ.get(ENV_VAR)
    if named:
        python = Path(named)
    else:
        python = _python_of(venv)
        stamp = venv / _STAMP
        wanted = "\n".join(REQUIREMENTS) + "\n"
        if not stamp.is_file() or stamp.read_text() != wanted:
            print(f"peers: making {venv} (quixstreams and its confluent-kafka, apart from the project's)", flush=True)
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            done = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"pip could not install the peers: {done.stderr.strip()[-2000:]}")
            stamp.write_text(wanted)
            print(f"peers: {venv} is ready", flush=True)
    done = subprocess.run(
        [str(python), "-c", _CHECK, str(ROOT / "examples" / "lmnh" / "exhibitions")],
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{python} cannot run the peers: {done.stderr.strip()[-2000:]}")
    return python


def peer_versions(python: Path) -> dict[str, str]:
    """The versions of the peers' libraries (and librdkafka) in ``python``'s environment."""
    script = (
        "import json, importlib.metadata as m, confluent_kafka as ck\n"
        "out = {}\n"
        f"for name in {list(_VERSIONS)!r}:\n"
        "    try:\n"
        "        out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "out['librdkafka'] = ck.libversion()[0]\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=60, check=True)
    versions: dict[str, str] = json.loads(done.stdout)
    return versions
