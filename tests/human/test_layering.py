"""actorflow.human sits beside streams and stores: it never imports flows, stores or the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import actorflow.human

FORBIDDEN = ("actorflow.flow", "actorflow.stores", "actorflow.cli", "actorflow.testing")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_human_package_imports_nothing_above_its_layer() -> None:
    package = Path(actorflow.human.__file__).parent

    bad = {
        f"{path.name}: {name}"
        for path in package.glob("*.py")
        for name in _imports(path)
        if name.startswith(FORBIDDEN)
    }

    assert bad == set()
