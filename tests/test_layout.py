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
            elif isinstance(node, ast.ImportFrom) and node.module:  # a submodule named, or the module itself
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
                targets = subs if len(subs) == len(node.names) else [node.module, *subs]
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


ARCHITECTURE = REPO / "docs" / "architecture.md"


def documented_layers() -> list[str]:
    """The layers, bottom to top, as docs/architecture.md's table lists them: "" for the top-level
    modules, else a folder of lstm_ae/ (its first column: `model/`)."""
    section = ARCHITECTURE.read_text().split("## Layers, bottom to top", 1)[1].split("\n## ", 1)[0]
    layers = []
    for line in section.splitlines():
        cell = line.split("|")[1].strip() if line.startswith("|") else ""
        if cell.startswith("`lstm_ae/"):
            layers.append(cell.strip("`").removeprefix("lstm_ae/").rstrip("/"))
    return layers


def layer_of(module: str) -> str:
    """A module's layer: the folder under lstm_ae/ it lives in ("" for the top-level modules)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else ""


def test_every_folder_of_the_package_is_a_documented_layer():
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert sorted(folders | {""}) == sorted(documented_layers())


def test_the_top_level_holds_few_modules():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 6, top


def test_imports_flow_down_through_the_layers():
    rank = {layer: i for i, layer in enumerate(documented_layers())}
    graph = import_graph()
    upward = [
        f"{m} ({layer_of(m) or 'top level'}) imports {t} ({layer_of(t) or 'top level'})"
        for m in sorted(graph)
        if m != "lstm_ae"
        for t in sorted(graph[m])
        if rank[layer_of(t)] > rank[layer_of(m)]
    ]
    assert not upward, "; ".join(upward)


def test_dataset_modules_import_only_the_top_level_and_themselves():
    graph = import_graph()
    data_modules = [m for m in graph if layer_of(m) == "data"]
    assert {"lstm_ae.data.base", "lstm_ae.data.snp500", "lstm_ae.data.toy", "lstm_ae.data.mnist"} <= set(data_modules)
    for module in data_modules:
        extra = sorted(t for t in graph[module] if layer_of(t) not in ("", "data"))
        assert not extra, f"{module} imports {extra}"


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


def test_readme_lists_every_status_a_result_can_have():
    from lstm_ae.files import RunStatus

    row = next(line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("| `result.json`"))
    missing = [s.value for s in RunStatus if s is not RunStatus.RUNNING and f"`{s.value}`" not in row]
    assert not missing, f"README's result.json row lacks {missing}"


def test_the_tests_mirror_the_layers():
    """tests/<layer>/ holds the tests of lstm_ae/<layer>/ (tests/examples/: apps and data the tests use)."""
    folders = {p.name for p in (REPO / "tests").iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert folders - {"examples"} <= set(documented_layers()) - {""}, folders
