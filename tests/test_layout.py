"""The layout of `mlops/` (docs/layout.md): no import circle, and CLI command modules that do not import each other.

Circles are found two ways: each subpackage is imported alone in a fresh interpreter (an import circle fails there
with a partly initialised module), and the module-level import graph of every mlops module, read from the source,
has no cycle, nor has the graph with the imports inside functions and under `if TYPE_CHECKING:` added.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MLOPS = REPO / "mlops"
CLI_ENTRY = {"mlops.cli", "mlops.cli.main", "mlops.cli.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(MLOPS.rglob("*.py"))}
SUBPACKAGES = sorted(name for name, path in MODULES.items() if path.name == "__init__.py")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(nodes: list[ast.stmt], everywhere: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements run at import time (module level, also inside if/try), or anywhere when `everywhere`
    (function bodies and `if TYPE_CHECKING:` blocks too)."""
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node) and not everywhere:
            continue
        elif everywhere or isinstance(node, (ast.If, ast.Try, ast.With)):
            yield from _imports(
                [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)], everywhere
            )


def imported_modules(name: str, everywhere: bool = False) -> set[str]:
    """The mlops modules `name` imports (a `from package import name` counts as the submodule when it is one)."""
    tree = ast.parse(MODULES[name].read_text())
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _imports(tree.body, everywhere):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        found.update(t for t in targets if t in MODULES and t != name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        return list(exc.args[1])
    return None


def test_the_module_level_import_graph_has_no_cycle() -> None:
    graph = {name: imported_modules(name) for name in MODULES}
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph) or [])}"


def test_no_circle_even_through_deferred_or_type_only_imports() -> None:
    """A circle hidden in a function body or under TYPE_CHECKING still ties two modules into one (the local
    endpoint and its deployment meet through a Protocol instead)."""
    graph = {name: imported_modules(name, everywhere=True) for name in MODULES}
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph) or [])}"


def test_the_graph_reader_sees_a_circle() -> None:
    graph = {name: imported_modules(name) for name in MODULES}
    assert "mlops.local.serving.deployment" in graph["mlops.local.serving.endpoint"]
    graph["mlops.local.serving.deployment"].add("mlops.local.serving.endpoint")
    assert _cycle(graph) is not None


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_each_subpackage_imports_alone_in_a_fresh_interpreter(package: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {package}"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_cli_command_modules_do_not_import_each_other() -> None:
    commands = {name for name in MODULES if name.startswith("mlops.cli.") and name not in CLI_ENTRY}
    commands = {name for name in commands if not name.rpartition(".")[2].startswith("_")}
    assert {"mlops.cli.drift", "mlops.cli.serve", "mlops.cli.demo"} <= commands
    others = {name for name in MODULES if name.startswith("mlops.") and name not in CLI_ENTRY}
    offenders = {
        name: sorted(imported_modules(name, everywhere=True) & (commands - {name}))
        for name in sorted(others)
        if imported_modules(name, everywhere=True) & (commands - {name})
    }
    assert offenders == {}, "only mlops.cli.main may import a command module; shared code goes in mlops.user_input"


# Each folder may import the ones after it in its row, never one before: the CLI drives the twin's story, the
# story drives the emulators, and everything may use the local runs; nothing below reaches up.
LAYERS = {
    "mlops.local": ("mlops.cli", "mlops.twin"),
    "mlops.governance": ("mlops.cli", "mlops.twin", "mlops.local"),
    "mlops.rightsizing": ("mlops.cli", "mlops.twin"),
    "mlops.twin.emulators": ("mlops.cli", "mlops.twin.story"),
    "mlops.twin.story": ("mlops.cli",),
}


@pytest.mark.parametrize(("folder", "above"), LAYERS.items())
def test_no_folder_imports_one_above_it(folder: str, above: tuple[str, ...]) -> None:
    members = [name for name in MODULES if name == folder or name.startswith(folder + ".")]
    assert members, f"{folder} holds no modules"
    reaching_up = {
        name: sorted(d for d in imported_modules(name, everywhere=True) if d.startswith(above))
        for name in members
        if any(d.startswith(above) for d in imported_modules(name, everywhere=True))
    }
    assert reaching_up == {}
