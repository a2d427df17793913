"""The rooms of DESIGN.md: who may import whom, checked on the source (AST).

An import counts wherever it is written: at the top of a module, inside a function, or inside a
string of Python code that the module runs in a child interpreter (``python -c CODE``).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "graphscope"

#: room -> the rooms of ours it may import (a room is a top-level module or package of graphscope)
ALLOWED: dict[str, set[str]] = {
    # the vocabulary: nothing of ours
    "_version": set(),
    "errors": set(),
    "options": set(),
    "model": set(),
    # pure rooms
    "checks": {"model"},
    "style": {"model", "options"},
    "report": {"model", "_version", "suppress", "memory"},
    "memory": {"model"},  # what the graphs hold for backward, checkpointing advice
    "explorer": {"model", "options", "errors", "_version", "dot", "overview", "memory"},
    "overview": {"model", "errors", "_gc", "options"},  # options: the default budget
    "_gc": set(),
    "suppress": {"model"},  # # graphscope: ignore[KIND] comments
    "ci": {"model", "report", "_version"},  # GitHub annotations and SARIF
    # drawing
    "dot": {"style", "model", "options"},
    "layout": {"errors", "options", "pdf", "_child"},
    "_child": {"errors"},
    "pdf": {"errors"},
    "draw": {"dot", "layout", "overview", "model", "options", "errors", "explorer", "tracer"},
    # the torch rooms
    "_tensors": {"model"},
    # the names resolver: the user's names for modules, parameters and tensors
    "names": {"_tensors", "model"},
    "tracer": {"_tensors", "names", "_gc", "errors", "model"},
    "recorder": {"_tensors", "names", "model"},
    # errors: watch() answers bad arguments with a UsageError
    "watcher": {
        "_tensors",
        "names",
        "_gc",
        "model",
        "tracer",
        "recorder",
        "checks",
        "report",
        "errors",
        "suppress",
        "memory",
    },
    "script": {"_tensors", "errors", "model", "watcher", "preflight"},
    # the checks made before a script runs (no torch)
    "preflight": {"errors"},
    "scenarios": {"errors", "model", "tracer"},
    # running a script and reporting; the gallery; the command line
    "runner": {
        "_gc",
        "_child",
        "errors",
        "options",
        "report",
        "layout",
        "pdf",
        "draw",
        "script",
        "watcher",
        "preflight",
    },
    "docs": {
        "errors",
        "model",
        "options",
        "report",
        "scenarios",
        "script",
        "runner",
        "draw",
        "layout",
        "watcher",
    },
    # torchrun: per-rank captures and the merged report (no torch)
    "distributed": {"checks", "errors", "model", "options", "report", "runner"},
    # [tool.graphscope] reading and the terminal's colour: small rooms of the command line
    "config": {"errors"},
    "terminal": set(),
    "cli": {
        "_version",
        "errors",
        "options",
        "runner",
        "scenarios",
        "docs",
        "config",
        "terminal",
        "model",  # FINDING_KINDS, imported only when --select/--ignore is given
        "report",  # Policy, imported when a script runs
        "ci",  # --output-format github|sarif
        "distributed",  # under torchrun
        "preflight",  # the script checked before torch is imported
    },
    # how a notebook shows graphs and scopes: registered by __init__ under IPython
    "notebook": {"draw", "explorer"},
    "__init__": {
        "_version",
        "errors",
        "options",
        "model",
        "watcher",
        "tracer",
        "draw",
        "overview",
        "notebook",
    },
    "__main__": {"cli"},
}
TORCH_ROOMS = {"_tensors", "names", "tracer", "recorder", "watcher", "script", "scenarios"}


def _room(module: str) -> str:
    """``graphscope.watcher.session`` -> ``watcher``; ``graphscope`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports_in(tree: ast.AST, package: str) -> set[str]:
    """Every module imported in ``tree`` (absolute names; relative imports resolved against
    ``package``), including those in strings of code a child interpreter runs."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            out.add(base)
            if base == "graphscope":
                out.update(f"graphscope.{a.name}" for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.update(_imports_in_code(node.value, package))
    return out


def _imports_in_code(text: str, package: str) -> set[str]:
    if "import" not in text:
        return set()
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    return _imports_in(tree, package)


def _modules() -> dict[str, set[str]]:
    """``{dotted module: {modules it imports}}`` for every module of the package."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out[name] = _imports_in(ast.parse(path.read_text(encoding="utf-8")), package)
    return out


MODULES = _modules()


def _ours(imports: set[str]) -> set[str]:
    """Our modules among ``imports`` (``from graphscope import x`` counts as ``graphscope.x``)."""
    return {i for i in imports if i.startswith("graphscope.")}


def _uses(imports: set[str], lib: str) -> bool:
    return any(i == lib or i.startswith(lib + ".") for i in imports)


def test_every_module_belongs_to_a_room() -> None:
    rooms = {_room(m) for m in MODULES}
    assert rooms <= set(ALLOWED), f"rooms not in the list: {sorted(rooms - set(ALLOWED))}"
    assert {"model", "tracer", "watcher", "recorder", "draw", "report", "runner", "cli"} <= rooms


def test_each_room_imports_only_the_rooms_it_may() -> None:
    wrong = []
    for name, imports in MODULES.items():
        room = _room(name)
        for imp in _ours(imports):
            target = _room(imp)
            if target != room and target not in ALLOWED[room]:
                wrong.append(f"{name} imports {imp}")
    assert wrong == []


def _room_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of rooms (``[a, b, a]``) in ``{room: rooms it imports}``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(room: str) -> list[str] | None:
        state[room] = 1
        path.append(room)
        for nxt in sorted(edges.get(room, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[room] = 2
        return None

    for room in sorted(edges):
        if room not in state:
            found = visit(room)
            if found:
                return found
    return None


def test_the_rooms_imports_form_no_cycle() -> None:
    """Not even through an import inside a function: the vocabulary shows nothing itself
    (graphscope.notebook registers the display from above), the report reads a scope through
    a protocol, the explorer lays nothing out."""
    edges: dict[str, set[str]] = {}
    for name, imports in MODULES.items():
        room = _room(name)
        edges.setdefault(room, set()).update(
            t for t in (_room(i) for i in _ours(imports)) if t != room
        )
    assert _room_cycle(edges) is None, " -> ".join(_room_cycle(edges) or [])
    assert _room_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _room_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_vocabulary_imports_nothing_of_ours_anywhere() -> None:
    for name, imports in MODULES.items():
        if _room(name) == "model":
            assert {_room(i) for i in _ours(imports)} <= {"model"}, name


def test_checks_import_only_the_model() -> None:
    checks = {n: i for n, i in MODULES.items() if n.startswith("graphscope.checks")}
    assert len(checks) >= 10  # the package and one module per finding kind
    for name, imports in checks.items():
        assert not _uses(imports, "torch") and not _uses(imports, "graphviz"), name


def test_dot_is_the_only_graphviz_room_and_style_is_pure() -> None:
    users = {n for n, i in MODULES.items() if _uses(i, "graphviz")}
    assert users == {"graphscope.dot"}
    assert not _uses(MODULES["graphscope.style"], "torch")


def test_only_the_runtime_rooms_import_torch() -> None:
    for name, imports in MODULES.items():
        if _room(name) not in TORCH_ROOMS:
            assert not _uses(imports, "torch"), f"{name} imports torch"


def test_nothing_imports_the_cli() -> None:
    for name, imports in MODULES.items():
        if name not in ("graphscope.cli", "graphscope.__main__"):
            assert "graphscope.cli" not in imports, name


def test_a_hidden_import_in_child_code_counts() -> None:
    code = 'import subprocess\nsubprocess.run(["python", "-c", "from graphscope.cli import main"])'
    assert "graphscope.cli" in _imports_in(ast.parse(code), "graphscope.docs")


@pytest.mark.slow
def test_importing_graphscope_and_asking_its_version_load_no_torch() -> None:
    probe = (
        "import sys, graphscope\n"
        "assert graphscope.__version__\n"
        "from graphscope.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('torch', 'networkx', 'graphviz', 'numpy') if m in sys.modules))\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("graphscope ") and "torch" in lines[0]
    assert lines[-1] == "[]"
