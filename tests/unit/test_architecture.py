"""The house rules of functions/, read from the imports (docs/architecture.md).

Core is the floor; stages stand side by side on it and never reach into each other's services; the
API room and oms/ sit on top. A stage's logic.py is pure: nothing it imports, however indirectly,
talks to AWS.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
# What a stage may import from another stage: pure modules only (no boto3, no repository).
PURE_PARTS = {"logic", "models"}
# The one module of core allowed to reach up into stages (lazily): cross-stage calls.
FACADE = "functions.core.application"
AWS_MODULES = ("boto3", "botocore", "functions.core.aws", "functions.core.repository")
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in FUNCTIONS.rglob("*.py")}


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module `module` imports, at the top or inside a function."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).rstrip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return frozenset(found)


def reachable(module: str) -> set[str]:
    """`module`'s imports, transitively through functions/ (and the outside modules they name)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in imports_of(todo.pop()):
            if name not in seen:
                seen.add(name)
                if name in MODULES:
                    todo.append(name)
    return seen


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "functions" or parts[1] in {"core", "api"}:
        return None
    return parts[1]


def test_the_walk_sees_the_known_rooms() -> None:
    assert "functions.core.repository.unit_of_work" in MODULES
    assert "functions.core.repository" in imports_of("functions.ship.service")
    assert stage_of("functions.ship.service") == "ship"
    assert stage_of("functions.core.models") is None


def test_no_stage_imports_another_stages_service() -> None:
    crossings = []
    for module in MODULES:
        stage = stage_of(module)
        if stage is None:
            continue
        for name in imports_of(module):
            other = stage_of(name)
            if other is not None and other != stage and name.split(".")[-1] not in PURE_PARTS:
                crossings.append(f"{module} -> {name}")
    assert crossings == [], "cross-stage work goes through core.application, the state machine or the bus"


def test_core_stands_below_the_stages_and_the_api() -> None:
    upward = [
        f"{module} -> {name}"
        for module in MODULES
        if module.startswith("functions.core") and module != FACADE
        for name in imports_of(module)
        if stage_of(name) is not None or name.startswith("functions.api")
    ]
    assert upward == []


def test_stages_never_import_the_api_room() -> None:
    assert [
        f"{module} -> {name}"
        for module in MODULES
        if stage_of(module) is not None
        for name in imports_of(module)
        if name == "functions.api" or name.startswith("functions.api.")
    ] == []


def test_logic_modules_are_pure() -> None:
    impure = {
        module: sorted(n for n in reachable(module) if n.startswith(AWS_MODULES))
        for module in MODULES
        if module.endswith(".logic")
    }
    assert len(impure) >= 10
    assert {module: names for module, names in impure.items() if names} == {}


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
