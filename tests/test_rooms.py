"""The rooms of DESIGN.md: who may import whom, checked on the source (AST)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "graphscope"
TORCH_ROOMS = {"trace", "watch", "script", "recorder", "_tensors"}  # + scenarios/ (user code)


def _modules() -> dict[str, set[str]]:
    """``{dotted module: {imported top-level names, 'graphscope.x.y' for ours}}``."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        imports: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imports.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imports.add(node.module)
                if node.module == "graphscope":
                    imports.update(f"graphscope.{a.name}" for a in node.names)
        out[name] = imports
    return out


MODULES = _modules()


def _ours(imports: set[str]) -> set[str]:
    return {i for i in imports if i.startswith("graphscope.")}


def _uses(imports: set[str], lib: str) -> bool:
    return any(i == lib or i.startswith(lib + ".") for i in imports)


def test_the_rooms_exist() -> None:
    for name in (
        "graphscope.model",
        "graphscope.errors",
        "graphscope.trace",
        "graphscope.watch",
        "graphscope.script",
        "graphscope.style",
        "graphscope.render",
        "graphscope.cli",
    ):
        assert name in MODULES


def test_model_and_errors_import_nothing_of_ours_and_no_torch() -> None:
    for name in ("graphscope.model", "graphscope.errors"):
        assert _ours(MODULES[name]) == set(), name
        assert not _uses(MODULES[name], "torch"), name


def test_checks_import_only_the_model() -> None:
    checks = {n: i for n, i in MODULES.items() if n.startswith("graphscope.checks")}
    assert len(checks) >= 10  # the package and one module per finding kind
    for name, imports in checks.items():
        assert _ours(imports) <= {"graphscope.model"} | {c for c in checks}, name
        assert not _uses(imports, "torch") and not _uses(imports, "graphviz"), name


def test_style_is_pure_and_render_is_the_only_graphviz_room() -> None:
    assert _ours(MODULES["graphscope.style"]) <= {"graphscope.model"}
    assert not _uses(MODULES["graphscope.style"], "torch")
    users = {n for n, i in MODULES.items() if _uses(i, "graphviz")}
    assert users == {"graphscope.render"}


def test_only_the_runtime_rooms_import_torch() -> None:
    for name, imports in MODULES.items():
        short = name.removeprefix("graphscope.")
        if short.startswith("scenarios") or short in TORCH_ROOMS:
            continue
        assert not _uses(imports, "torch"), f"{name} imports torch"


def test_nothing_imports_the_cli() -> None:
    for name, imports in MODULES.items():
        if name != "graphscope.cli":
            assert "graphscope.cli" not in imports, name
