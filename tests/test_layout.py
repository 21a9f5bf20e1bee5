"""The package's shape: imports flow one way (no circle, lazy imports inside functions included), and
the library never imports the benchmarks."""

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "lstm_ae"


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> lstm_ae modules it imports anywhere in its file."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and t != "lstm_ae":
                    graph[name].add(t)
    return graph


def test_no_import_circle_in_the_package():
    graph = import_graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(n) :] + [n]))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


ABOVE_DATA = ("lstm_ae.plots", "lstm_ae.forecast", "lstm_ae.tasks", "lstm_ae.trainer", "lstm_ae.pipeline")


def test_dataset_modules_import_nothing_above_them():
    """lstm_ae/data/* sits at the bottom: it may use lstm_ae.errors, lstm_ae.artifacts, lstm_ae.charts and
    itself, never what consumes datasets (figures of runs, forecasts, tasks, the trainer, the pipeline)."""
    graph = import_graph()
    data_modules = [m for m in graph if m.startswith("lstm_ae.data")]
    assert {"lstm_ae.data.base", "lstm_ae.data.snp500", "lstm_ae.data.toy", "lstm_ae.data.mnist"} <= set(data_modules)
    for module in data_modules:
        above = sorted(t for t in graph[module] if any(t == a or t.startswith(a + ".") for a in ABOVE_DATA))
        assert not above, f"{module} imports {above}"
    # ... and nothing outside what it is allowed (a new upper module would otherwise slip through)
    allowed = ("lstm_ae.data", "lstm_ae.errors", "lstm_ae.artifacts", "lstm_ae.charts")
    for module in data_modules:
        extra = sorted(t for t in graph[module] if not any(t == a or t.startswith(a + ".") for a in allowed))
        assert not extra, f"{module} imports {extra}"


# docs/architecture.md: the rooms of the package, bottom to top; a module imports only its own room or lower ones.
ROOMS = [
    ("foundation", ["errors", "artifacts", "config", "process", "allocator", "charts"]),
    ("data", ["data"]),
    ("model", ["kernel", "recurrence", "model"]),
    ("evaluation", ["baselines", "plots", "forecast"]),
    ("training", ["tasks", "trainer", "tracking"]),
    ("sweeping and reporting", ["sweep", "report"]),
    ("run pipeline", ["pipeline", "app", "crossval", "evaluate"]),
    ("entry points", ["cli", "api", "study"]),
]


def _room(module: str) -> int | None:
    rest = module.removeprefix("lstm_ae.")
    for rank, (_, members) in enumerate(ROOMS):
        if any(rest == m or rest.startswith(m + ".") for m in members):
            return rank
    return None


def test_imports_flow_down_through_the_rooms():
    graph = import_graph()
    unplaced = sorted(m for m in graph if m != "lstm_ae" and _room(m) is None)
    assert not unplaced, f"give these modules a room in ROOMS and docs/architecture.md: {unplaced}"
    upward = [
        f"{m} ({ROOMS[_room(m)][0]}) imports {t} ({ROOMS[_room(t)][0]})"
        for m in sorted(graph)
        if m != "lstm_ae"
        for t in sorted(graph[m])
        if _room(t) is not None and _room(t) > _room(m)
    ]
    assert not upward, "; ".join(upward)


def test_the_library_does_not_import_the_benchmarks():
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            assert not any(n == "benchmarks" or n.startswith("benchmarks.") for n in names), path


def test_readme_stays_short_and_free_of_issue_numbers():
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) <= 12_000
    assert "Issue " not in readme and "issue #" not in readme.lower()
