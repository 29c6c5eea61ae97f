"""House rules that keep the code readable: typed, documented public API; imports flow one way."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "ibkr_pipelines").rglob("*.py")) + sorted((ROOT / "assets").rglob("*.py"))


def _public_callables(tree: ast.Module) -> list[ast.FunctionDef]:
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            found.append(node)
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            found.extend(n for n in node.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_"))
    return found


def test_public_functions_have_type_hints_and_a_docstring() -> None:
    problems = []
    for path in SOURCES:
        for fn in _public_callables(ast.parse(path.read_text())):
            args = [a for a in fn.args.args + fn.args.kwonlyargs if a.arg not in ("self", "cls")]
            unannotated = [a.arg for a in args if a.annotation is None]
            if not ast.get_docstring(fn) or unannotated or fn.returns is None:
                problems.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}")
    assert problems == []


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_imports_flow_one_way() -> None:
    """assets -> ibkr_pipelines; client knows no datasets; nothing but the CLI bridge and tests use the simulator."""
    simulator_users = {"ibkr_pipelines.connection", "ibkr_pipelines.cli"}
    dagster_bridges = {"ibkr_pipelines.ingest_command", "ibkr_pipelines.run_control"}
    problems = []
    for path in SOURCES:
        module = _package_of(path)
        imports = _imports(path)
        if module.startswith("ibkr_pipelines") and module not in dagster_bridges:
            problems += [f"{module} imports {i}" for i in imports if i == "assets" or i.startswith("assets.")]
            problems += [f"{module} imports {i}" for i in imports if i.split(".")[0] == "dagster"]
        if module.startswith("ibkr_pipelines.client"):
            problems += [
                f"{module} imports {i}"
                for i in imports
                if i.startswith(("ibkr_pipelines.extract", "ibkr_pipelines.land", "ibkr_pipelines.simulator"))
            ]
        if module.startswith("ibkr_pipelines.land"):
            problems += [f"{module} imports {i}" for i in imports if i.startswith("ibkr_pipelines.extract")]
        if module.startswith("ibkr_pipelines.flex."):  # the flex/ parser: it fetches, stages and lands nothing
            problems += [
                f"{module} imports {i}"
                for i in imports
                if i.startswith(("ibkr_pipelines.client", "ibkr_pipelines.extract", "ibkr_pipelines.land",
                                 "ibkr_pipelines.staging", "ibkr_pipelines.sources"))
            ]
        if not module.startswith("ibkr_pipelines.simulator") and module not in simulator_users:
            problems += [f"{module} imports {i}" for i in imports if i.startswith("ibkr_pipelines.simulator")]
    assert problems == []


def test_the_simulator_takes_nothing_from_the_client() -> None:
    """The simulator models IBKR from the reference; sharing the client's limits or settings would hide its mistakes."""
    problems = []
    for path in sorted((ROOT / "ibkr_pipelines" / "simulator").rglob("*.py")):
        for name in _imports(path):
            if name.startswith(("ibkr_pipelines.client", "ibkr_pipelines.config", "ibkr_pipelines.extract")):
                problems.append(f"{_package_of(path)} imports {name}")
    assert problems == []
