"""geo's module structure: every module imports, the import graph of geo/ has no cycle, geo stays pure (no dash,
redis, incidents or dashboard), and every file/database read lives in the I/O boundary ``geo.io``."""

from __future__ import annotations

import ast
import graphlib
import importlib
from pathlib import Path

import pytest

GEO = Path(__file__).resolve().parents[2] / "geo"
MODULES = sorted(
    ".".join(p.relative_to(GEO.parent).with_suffix("").parts).removesuffix(".__init__") for p in GEO.rglob("*.py")
)
FORBIDDEN = ("dash", "redis", "incidents", "dashboard", "plotly")
# Calls that read a file or a database: allowed in geo.io only.
READERS = {"read_dataframe", "read_arrow", "read_info", "list_layers", "read_file", "read_postgis", "read_text",
           "read_bytes", "read_sql", "load"}  # fmt: skip
# A writer that patches its own output (the sample's DBF language byte) is no read of users' data.
READ_ALLOWED = {("geo.user_export", "read_bytes")}


def _path(module: str) -> Path:
    rel = Path(*module.split("."))
    package = GEO.parent / rel / "__init__.py"
    return package if package.exists() else GEO.parent / rel.with_suffix(".py")


def _imports(module: str) -> set[str]:
    """Every module ``module`` imports, at any level (function bodies and TYPE_CHECKING blocks too)."""
    tree = ast.parse(_path(module).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from geo import _names` imports the submodule geo._names
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
    return found


def _geo_graph() -> dict[str, set[str]]:
    return {m: {i for i in _imports(m) if i in MODULES and i != m} for m in MODULES}


def test_modules_are_found() -> None:
    assert {"geo.io", "geo.io.encoding", "geo.sources", "geo.normalise", "geo.model"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_import_graph_has_no_cycle() -> None:
    graph = _geo_graph()
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle in geo/: {' -> '.join(exc.args[1])}")
    assert set(order) == set(MODULES)


def test_the_cycle_check_sees_a_cycle() -> None:
    """The check itself: a graph with a cycle raises (so the test above can fail)."""
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())
    assert "geo.dataset" in _geo_graph()["geo.sources"]  # the walk sees real edges


def test_geo_is_pure() -> None:
    bad = {m: sorted(i for i in _imports(m) if i.split(".")[0] in FORBIDDEN) for m in MODULES}
    assert not {m: i for m, i in bad.items() if i}


def test_reads_only_in_the_io_boundary() -> None:
    outside: list[str] = []
    for module in MODULES:
        if module == "geo.io" or module.startswith("geo.io."):
            continue
        tree = ast.parse(_path(module).read_text(encoding="utf-8"))
        calls = [
            (n.lineno, n.func.attr)
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        ]
        outside += [
            f"{module}:{line} {attr}()"
            for line, attr in calls
            if attr in READERS and (module, attr) not in READ_ALLOWED
        ]
        if "tomllib" in _imports(module):
            outside.append(f"{module}: imports tomllib")
    assert not outside, "reads outside geo.io: " + ", ".join(outside)
