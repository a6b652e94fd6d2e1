"""Every repository path the docs name exists, and ARCHITECTURE.md's newcomer trace stays short and real.

Checked: README.md, ARCHITECTURE.md and docs/*.md (all their text), and the docstrings and comments of the
project's .py files. A reference counts when it is
- a path whose first part is a top-level entry of the repository (`stacks/serving_stack.py`, `docs/cli.md`,
  `pipeline_code/*.py` as a glob that must match something); `<placeholder>` paths are left alone;
- a dotted module name under one of the project's packages (`mlops.twin.emulators.lambdas`, `lambdas.shared.clients`):
  the
  longest prefix that is a module must exist, and the next name must be defined in it;
- a bare upper-case Markdown file name (`ARCHITECTURE.md`), which lives at the top level;
- a relative Markdown link target, resolved from the linking file.
One-letter names and <angle brackets> are placeholders (`tests/x/test_y.py`, `lambdas/<name>/`).
Code moves (issue #18): when it does, this test names every doc line that still points at the old place.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("stacks", "lambdas", "drift_core", "pipeline_code", "mlops")
# Generated or local-only places the docs name on purpose: created by a run, never committed.
GENERATED = {".build", ".mlops", ".venv", ".venv-tools", "cdk.out", "node_modules", ".pytest_cache", ".mypy_cache"}
SKIP_DIRS = GENERATED | {".git", "__pycache__", "__snapshots__"}
MAX_TRACE_FILES = 12

PATH_TOKEN = re.compile(r"(?<![\w./:@$-])\.?[A-Za-z_][\w.-]*(?:/[\w.*<>{}-]+)*/?")
MODULE_TOKEN = re.compile(r"(?<![\w./-])(?:" + "|".join(PACKAGES) + r")(?:\.[A-Za-z_]\w*)+")
UPPER_MD = re.compile(r"(?<![\w./-])[A-Z][A-Z_]*\.md\b")
MD_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _top_level() -> set[str]:
    return {p.name for p in REPO.iterdir()} | GENERATED


def _doc_files() -> list[Path]:
    files = [REPO / "README.md", REPO / "ARCHITECTURE.md", *sorted((REPO / "docs").glob("*.md"))]
    return [f for f in files if f.exists()]


def _py_files() -> Iterator[Path]:
    for path in sorted(REPO.rglob("*.py")):
        parts = path.relative_to(REPO).parts
        # Hidden folders hold environments (.venv, .venv-<image>, .venv-tools) and caches, not the project's code;
        # this file's own examples of dead references are dead on purpose.
        hidden = any(part.startswith(".") for part in parts[:-1])
        if not hidden and not SKIP_DIRS.intersection(parts) and path != Path(__file__).resolve():
            yield path


def _py_prose(path: Path) -> str:
    """The docstrings and comments of a module: where a .py file names other files in words."""
    source = path.read_text(encoding="utf-8")
    parts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                parts.append(doc)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            parts.append(token.string)
    return "\n".join(parts)


def _placeholder(token: str) -> bool:
    """One-letter names (`tests/x/test_y.py`, `pipeline_code.x`) and <angle brackets> stand for any name."""
    return "<" in token or any(len(p) == 1 or re.fullmatch(r"test_[a-z]", p) for p in re.split(r"[/.]", token))


def _path_exists(token: str) -> bool:
    token = token.rstrip(".").rstrip("/")
    if any(c in token for c in "*{"):
        try:
            return any(REPO.glob(token))
        except ValueError:  # not a glob pathlib reads (e.g. `a/**.py`): name the files some other way
            return False
    return (REPO / token).exists()


def _defines(module_file: Path, name: str) -> bool:
    """Whether the module defines or imports `name` at its top level."""
    names = set()
    for node in ast.parse(module_file.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return name in names


def _module_exists(dotted: str) -> bool:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        base = REPO.joinpath(*parts[:end])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if module.is_file() or (end == len(parts) and base.is_dir()):
            if end == len(parts):
                return True
            if module.is_file() and _defines(module, parts[end]):
                return True
            return (base / parts[end]).with_suffix(".py").is_file() or (base / parts[end]).is_dir()
    return False


def dead_references(text: str, where: Path) -> list[str]:
    top = _top_level()
    dead = []
    for match in PATH_TOKEN.finditer(text):
        token = match.group(0)
        first = token.split("/", 1)[0]
        if "/" not in token or first not in top or _placeholder(token) or first in GENERATED:
            continue
        if not _path_exists(token):
            dead.append(token)
    for match in MODULE_TOKEN.finditer(text):
        token = match.group(0).rstrip(".")
        if token.split(".")[-1] in {"py", "md", "json"} or _placeholder(token):  # a file name, or a placeholder
            continue
        if not _module_exists(token):
            dead.append(token)
    for match in UPPER_MD.finditer(text):
        if not (REPO / match.group(0)).exists() and not (where.parent / match.group(0)).exists():
            dead.append(match.group(0))
    if where.suffix == ".md":
        for match in MD_LINK.finditer(text):
            target = match.group(1)
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (where.parent / target).exists():
                dead.append(target)
    return dead


@pytest.mark.parametrize("doc", _doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_path_a_doc_names_exists(doc: Path) -> None:
    assert dead_references(doc.read_text(encoding="utf-8"), doc) == []


def test_every_path_a_docstring_or_comment_names_exists() -> None:
    dead = {}
    for path in _py_files():
        found = dead_references(_py_prose(path), path)
        if found:
            dead[str(path.relative_to(REPO))] = found
    assert dead == {}


def test_the_check_finds_dead_references() -> None:
    """The checker itself: each kind of reference, alive and dead (a check that cannot fail proves nothing)."""
    where = REPO / "docs" / "example.md"
    alive = (
        "stacks/serving_stack.py, `pipeline_code/*.py`, mlops.twin.emulators.lambdas, lambdas.shared.clients, README.md"
    )
    assert dead_references(alive + ", [rules](aws-rules.md), lambdas/<name>/", where) == []
    dead = "mlops/governance/model_card.py, stacks.stage_configs, drift_core.window.nothing_here, NOPE.md"
    assert dead_references(dead + ", [x](missing.md)", where) == [
        "mlops/governance/model_card.py",
        "stacks.stage_configs",
        "drift_core.window.nothing_here",
        "NOPE.md",
        "missing.md",
    ]


def trace_files(architecture: str) -> list[str]:
    """The files of the numbered list under the heading that names the trace, in order."""
    section = re.search(r"^#+ [^\n]*drift alarm triggers retraining[^\n]*$(.*?)(?=^#+ |\Z)", architecture, re.M | re.S)
    assert section is not None, "ARCHITECTURE.md has no section on 'a drift alarm triggers retraining'"
    files = []
    for line in section.group(1).splitlines():
        item = re.match(r"\s*\d+\.\s+`([^`]+)`", line)
        if item:
            files.append(item.group(1))
    return files


def test_the_newcomer_trace_is_at_most_twelve_files_that_exist() -> None:
    files = trace_files((REPO / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    assert 2 <= len(files) <= MAX_TRACE_FILES, files
    assert len(set(files)) == len(files), "a file appears twice in the trace"
    assert [f for f in files if not (REPO / f).is_file()] == []


def test_the_trace_reader_takes_the_numbered_files_of_its_section_only() -> None:
    doc = (
        "# A\n\n1. `x.py`: no\n\n## Newcomer trace: a drift alarm triggers retraining\n\n"
        "1. `a.py`: one\n2. `b.py`\n\n## B\n3. `c.py`\n"
    )
    assert trace_files(doc) == ["a.py", "b.py"]
