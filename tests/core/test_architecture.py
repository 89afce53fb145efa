"""The core's layering: no import cycle among its modules (annotation-only imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "lmnh_pipes"


def core_imports() -> dict[str, set[str]]:
    """Module name -> the core modules it imports, anywhere in it (under ``TYPE_CHECKING`` and in functions too)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(CORE.glob("*.py")):
        name = path.stem
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lmnh_pipes."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("lmnh_pipes."))
        graph[name] = found - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_core_has_no_import_cycle():
    graph = core_imports()
    assert {"runner", "pipeline", "plan", "delivery", "interfaces"} <= set(graph)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_runner_knows_components_and_the_plan_not_the_pipeline():
    graph = core_imports()
    assert "pipeline" not in graph["runner"]
    assert "config" not in graph["runner"]


#: The core's layers, bottom first, as ARCHITECTURE.md draws them: a module imports from its own layer or below.
LAYERS: dict[str, tuple[str, ...]] = {
    "foundations": (
        "records",
        "errors",
        "values",
        "decoding",
        "timestamps",
        "timeofday",
        "jsonfiles",
        "options",
        "environ",
        "logs",
        "tuning",
        "retry",
        "batching",
        "breaker",
    ),
    "contracts": (
        "interfaces",
        "capabilities",
        "delivery",
        "replaying",
        "positioning",
        "auditing",
        "registry",
        "hookspecs",
    ),
    "deciding and reporting": ("conformance", "plan", "report", "metrics", "http"),
    "running": ("validation", "stopping", "writer", "runner", "replay", "audit"),
    "assembling": ("pipeline", "plugins", "yamlfile", "config", "schema", "testing", "testfiles"),
    "commands": ("cli", "tap", "offsets", "progress", "describe", "pipetest", "pytest_plugin", "__init__", "__main__"),
}


def test_each_module_imports_only_from_its_layer_or_below():
    level = {module: i for i, modules in enumerate(LAYERS.values()) for module in modules}
    graph = core_imports()
    assert set(graph) == set(level), f"place these in LAYERS and ARCHITECTURE.md: {set(graph) ^ set(level)}"
    upward = [f"{m} -> {i}" for m, imports in graph.items() for i in imports if level[i] > level[m]]
    assert upward == []


def test_the_cores_messages_use_no_plugin_vocabulary():
    """Strings the core may show a user (not docstrings) speak of sources, sinks and positions, never of what a
    plug-in calls them: the plug-in supplies those words (see ``lmnh_pipes.delivery.NamedPositions``)."""
    import re

    # (``topic``, ``partition`` and ``offset`` are the core's own: a record's ``meta`` has them for every source.)
    words = re.compile(r"\b(kafka|librdkafka|postgres|postgresql|psycopg|csv|append)\b", re.IGNORECASE)
    found = []
    for path in sorted(CORE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        found += [
            f"{path.name}:{node.lineno}: {node.value[:60]!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and words.search(node.value)
        ]
    assert found == []
