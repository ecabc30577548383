"""docs/architecture.md: imports point one way, `raspy.cli` → `raspy.actors` →
`raspy.storage` → the rest of `raspy`. Every import of every module is read (those
inside functions too, which raspy uses to keep start-up light), so that a lazy one
cannot turn the arrow round unseen."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
_FOLDERS = {"raspy": "raspy", "actors": "raspy.actors", "storage": "raspy.storage"}


def _modules() -> dict[str, Path]:
    """Each module's dotted name (as installed: actors/ is raspy.actors) and file."""
    found: dict[str, Path] = {}
    for folder, package in _FOLDERS.items():
        for path in sorted((_ROOT / folder).rglob("*.py")):
            parts = path.relative_to(_ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """The absolute names `path` imports, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _layer(name: str) -> int:
    """cli 3, actors 2, storage 1, the rest of raspy 0; -1 outside raspy."""
    for prefix, layer in (("raspy.cli", 3), ("raspy.actors", 2), ("raspy.storage", 1)):
        if name == prefix or name.startswith(prefix + "."):
            return layer
    return 0 if name == "raspy" or name.startswith("raspy.") else -1


def test_no_module_imports_one_of_a_layer_above_its_own() -> None:
    backwards = sorted(
        f"{name} imports {imported}"
        for name, path in _modules().items()
        for imported in _imports(name, path)
        if _layer(imported) > _layer(name)
    )
    assert backwards == []


@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("raspy.cli.raspyd", 3),
        ("raspy.actors.edge.loop", 2),
        ("raspy.storage", 1),
        ("raspy.rules.engine", 0),
        ("zmq", -1),
        ("raspy", 0),
    ],
)
def test_layers_are_read_from_the_dotted_name(name: str, layer: int) -> None:
    assert _layer(name) == layer
