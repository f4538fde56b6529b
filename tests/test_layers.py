"""The house imports one way: the foundation (settings, the store and its keys, queues, the
runtime and the clients it holds) under the domain (inbox, conversations, notifications, sending,
Trading Grid writes, intents) under the surfaces (web, worker, CLI). Read from the source itself,
so a new import that runs back up, or closes a circle, fails here with its file and line."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from app import jobs, queues

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "conversations", "intents")
FOUNDATION = {"app.settings", "app.store", "app.queues", "app.metrics", "app.logs", "app.runtime", "app.jsonsafe",
              "app.signatures", "app.httpsession", "app.localtime", "app.yamldoc", "app.message_templates",
              "app.groupcommit", "app.keeper", "app.directory", "app.embedded_store",
              "app.keyspace", "app.scripts", "app.redisline", "app.oauth", "app.alarms"}
FOUNDATION_PACKAGES = ("app.tradinggrid", "app.whatsapp", "app.events", "app.demo", "app.opentext")
SURFACES = {"app", "app.cli", "app.worker", "app.serving", "app.jobs"}
SURFACE_PACKAGES = ("app.web",)
INNER_IMPORTS_ALLOWED = 3  # outside the CLI, each with its reason beside it


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(), str(path))
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def own(name: str | None, known: set[str]) -> str | None:
    """The project module an import names (`from app import store` names app.store)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imported(node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {m for alias in node.names if (m := own(alias.name, known))}
    base = node.module or ""
    found = {m for alias in node.names if (m := own(f"{base}.{alias.name}", known)) and m != base}
    return found or ({m} if (m := own(base, known)) else set())


def layer(module: str) -> int:
    if module in FOUNDATION or module.startswith(FOUNDATION_PACKAGES):
        return 0
    if module in SURFACES or module.startswith(SURFACE_PACKAGES):
        return 2
    return 1


def top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module loads (not those under `if TYPE_CHECKING:`)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.Try):
            found += [n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return found


def graph() -> dict[str, set[str]]:
    trees = sources()
    known = set(trees)
    return {module: {m for node in top_level_imports(tree) for m in imported(node, known)} - {module}
            for module, tree in trees.items()}


def test_no_import_circle() -> None:
    edges = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (circle := visit(target)):
                return circle
        state[module] = 2
        path.pop()
        return None

    for module in sorted(edges):
        if module not in state:
            assert (circle := visit(module)) is None, " -> ".join(circle or [])


def test_each_layer_imports_only_those_below_it_or_its_own() -> None:
    upward = [f"{module} ({layer(module)}) imports {target} ({layer(target)})"
              for module, targets in graph().items() for target in sorted(targets) if layer(target) > layer(module)]
    assert upward == []


def test_imports_of_our_own_modules_inside_functions_are_few_and_said_why() -> None:
    trees = sources()
    known = set(trees)
    inner = [(module, node.lineno) for module, tree in trees.items() if module != "app.cli"
             for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
             for node in ast.walk(function)
             if isinstance(node, (ast.Import, ast.ImportFrom)) and imported(node, known)]
    assert len(inner) <= INNER_IMPORTS_ALLOWED, inner
    for module, line in inner:
        path = ROOT / (module.replace(".", "/") + ("/__init__.py" if module == "app" else ".py"))
        above = path.read_text().splitlines()[max(0, line - 5):line - 1]
        assert any(text.strip().startswith("#") for text in above), f"{module}:{line} says not why"


@pytest.mark.parametrize("path", queues.JOBS + tuple(f"app.jobs.{name}" for name in jobs.__all__))
def test_every_job_named_by_its_path_is_there(path: str) -> None:
    """Jobs are queued by dotted path (app.queues), and those of earlier versions by app.jobs'
    names: each must name a function RQ can import."""
    module, _, name = path.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
