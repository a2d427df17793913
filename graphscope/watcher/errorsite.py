"""The evidence at the statement that raised the script's exception, for the catalogue of torch's
errors (:mod:`graphscope.checks.catalogue`): the statement's source, what each tensor and module
named on it held (shape, dtype, requires_grad, leaf or not, grad_fn, inference), where each name
was last assigned, and the custom ``autograd.Function`` classes torch's message names.

It runs once, after the script raised (nothing on the hot path), reads the frames of the
exception's traceback and the script's source, keeps plain values only (no tensor), and gives
up quietly (``None`` or fewer names) on anything it cannot read.
"""

from __future__ import annotations

import ast
import inspect
import io
import linecache
import textwrap
import tokenize
from types import FrameType, TracebackType
from typing import Any

import torch

from graphscope._tensors import BORROWED, CALL_SITE, is_internal
from graphscope.model import ErrorSite, FunctionSite, Named

__all__ = ["error_site"]

_MAX_NAMES = 12


def error_site(ex: BaseException) -> ErrorSite | None:
    """The :class:`ErrorSite` of ``ex``: its innermost frame of the user's code, or None."""
    try:
        frames = _user_frames(ex.__traceback__)
        if not frames:
            return None
        frame, lineno = frames[-1]
        file = frame.f_code.co_filename
        tree = _parse(file)
        stmt = _statement(tree, lineno) if tree is not None else None
        text = _source(file, stmt) if stmt is not None else linecache.getline(file, lineno).strip()
        names: list[Named] = []
        if stmt is not None and tree is not None:
            scope = _scope(tree, stmt)
            for name in _names_in(stmt)[:_MAX_NAMES]:
                n = _named(name, frame, file, tree, scope, stmt.lineno)
                if n is not None:
                    names.append(n)
        functions = _functions(str(ex), [f for f, _ in frames])
        first = stmt.lineno if stmt is not None else lineno
        return ErrorSite(file, first, text or None, tuple(names), tuple(functions))
    except Exception:  # evidence is a bonus: never let reading it fail the report
        return None


def _user_frames(tb: TracebackType | None) -> list[tuple[FrameType, int]]:
    out = []
    while tb is not None:
        code = tb.tb_frame.f_code
        # the recorder's call-site trampolines carry the user's file name but not its locals
        if not is_internal(code.co_filename) and code not in BORROWED and code.co_name != CALL_SITE:
            out.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return out


_trees: dict[str, ast.Module | None] = {}


def _parse(file: str) -> ast.Module | None:
    if file not in _trees:
        try:
            _trees[file] = ast.parse("".join(linecache.getlines(file)))
        except (SyntaxError, ValueError):
            _trees[file] = None
    return _trees[file]


def _statement(tree: ast.Module, lineno: int) -> ast.stmt | None:
    """The innermost statement spanning ``lineno`` (a compound statement's header counts)."""
    best: ast.stmt | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        end = node.end_lineno or node.lineno
        if node.lineno <= lineno <= end and (
            best is None or (end - node.lineno) <= ((best.end_lineno or best.lineno) - best.lineno)
        ):
            best = node
    if best is not None and _is_compound(best):
        return _header(best)
    return best


def _is_compound(node: ast.stmt) -> bool:
    return hasattr(node, "body") and isinstance(getattr(node, "body", None), list)


def _header(node: ast.stmt) -> ast.stmt:
    """A compound statement cut to its header (``with torch.no_grad():``, ``for x in xs:``)."""
    import copy

    head = copy.copy(node)
    for field in ("body", "orelse", "finalbody", "handlers"):
        if hasattr(head, field):
            setattr(head, field, [])
    body = getattr(node, "body", [])
    if body:
        head.end_lineno = max(node.lineno, body[0].lineno - 1)
    return head


def _source(file: str, stmt: ast.stmt) -> str:
    """The statement's source, dedented, without its comments."""
    lines = linecache.getlines(file)[stmt.lineno - 1 : (stmt.end_lineno or stmt.lineno)]
    text = textwrap.dedent("".join(lines))
    return _without_comments(text).strip()


def _without_comments(text: str) -> str:
    cuts: dict[int, int] = {}  # line (1-based) -> column where its comment starts
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                cuts[tok.start[0]] = tok.start[1]
    except (tokenize.TokenError, SyntaxError):
        return text
    lines = text.splitlines()
    for n, col in cuts.items():
        lines[n - 1] = lines[n - 1][:col].rstrip()
    return "\n".join(line for line in lines if line.strip())


def _scope(tree: ast.Module, stmt: ast.stmt) -> ast.AST:
    """The function (or the module) whose body holds ``stmt``."""
    best: ast.AST = tree
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            end = node.end_lineno or node.lineno
            if node.lineno <= stmt.lineno <= end and node.lineno >= getattr(best, "lineno", 0):
                best = node
    return best


def _names_in(stmt: ast.stmt) -> list[str]:
    """Names (``q``) and ``self.x`` attributes on ``stmt``, in source order, once each."""
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name):
            found.append((node.lineno, node.col_offset, node.id))
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            found.append((node.lineno, node.col_offset, f"self.{node.attr}"))
    out: list[str] = []
    for _, _, name in sorted(found):
        if name not in out:
            out.append(name)
    return out


def _value(name: str, frame: FrameType) -> Any:
    if name.startswith("self."):
        owner = frame.f_locals.get("self")
        return getattr(owner, name[5:], None) if owner is not None else None
    if name in frame.f_locals:
        return frame.f_locals[name]
    return frame.f_globals.get(name)


def _named(
    name: str, frame: FrameType, file: str, tree: ast.Module, scope: ast.AST, before: int
) -> Named | None:
    value = _value(name, frame)
    if isinstance(value, torch.Tensor):
        what = "tensor"
    elif isinstance(value, torch.nn.Module):
        what = "module"
    else:
        return None
    if name.startswith("self."):
        line = _attr_assignment(tree, name[5:])
    else:
        line = _assignment(scope, name, before)
    text = linecache.getline(file, line).strip() if line is not None else None
    if what == "module":
        return Named(name, what, file, line, text, module_text=_module_text(value))
    return Named(name, what, file, line, text, **_facts(value))


def _facts(t: torch.Tensor) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    try:
        facts["shape"] = tuple(int(s) for s in t.shape)
        facts["dtype"] = str(t.dtype)
        facts["requires_grad"] = bool(t.requires_grad)
        facts["inference"] = bool(t.is_inference())
        facts["is_leaf"] = bool(t.is_leaf)
        fn = t.grad_fn
        facts["grad_fn"] = fn.name() if fn is not None else None
    except Exception:  # a tensor subclass or a fake tensor: keep what was read
        pass
    return facts


def _module_text(m: torch.nn.Module) -> str | None:
    try:
        text = repr(m)
    except Exception:
        return None
    return text if len(text) <= 200 else text.splitlines()[0]


def _targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return [node.target]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [i.optional_vars for i in node.items if i.optional_vars is not None]
    if isinstance(node, ast.NamedExpr):
        return [node.target]
    return []


def _binds(target: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target))


def _assignment(scope: ast.AST, name: str, before: int) -> int | None:
    """The line of the last assignment to ``name`` in ``scope`` before line ``before``."""
    best: int | None = None
    for node in ast.walk(scope):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not scope:
            continue
        if node is not scope and isinstance(node, ast.arguments):
            continue
        line = getattr(node, "lineno", None)
        if line is None or line >= before:
            continue
        if any(_binds(t, name) for t in _targets(node)) and (best is None or line > best):
            best = line
    if best is None and isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if any(a.arg == name for a in scope.args.args + scope.args.kwonlyargs):
            return scope.lineno  # a parameter: the def
    return best


def _attr_assignment(tree: ast.Module, attr: str) -> int | None:
    """The first ``self.<attr> = ...`` in the file (a module's constructor)."""
    lines = []
    for node in ast.walk(tree):
        for t in _targets(node):
            if (
                isinstance(t, ast.Attribute)
                and t.attr == attr
                and isinstance(t.value, ast.Name)
                and t.value.id == "self"
            ):
                lines.append(t.lineno)
    return min(lines) if lines else None


def _functions(message: str, frames: list[FrameType]) -> list[FunctionSite]:
    """The custom autograd Functions of the user's frames' globals that ``message`` names."""
    out: dict[str, FunctionSite] = {}
    for frame in frames:
        for name, value in list(frame.f_globals.items()):
            if name in out or not isinstance(value, type):
                continue
            if value.__name__ not in message and not _once_differentiable(value, message):
                continue
            if issubclass(value, torch.autograd.Function) and value is not torch.autograd.Function:
                site = _function_site(value)
                if site is not None:
                    out[value.__name__] = site
    return list(out.values())


def _once_differentiable(cls: type, message: str) -> bool:
    """A Function whose backward is marked @once_differentiable, when torch's message (which
    names no Function) is about one."""
    if "@once_differentiable" not in message:
        return False
    backward = getattr(cls, "backward", None)
    return backward is not None and getattr(backward, "__wrapped__", None) is not None


def _unwrap(fn: object) -> object:
    try:
        return inspect.unwrap(fn) if callable(fn) else fn
    except ValueError:
        return fn


def _function_site(cls: type) -> FunctionSite | None:
    """Where ``cls``'s forward and backward are, and backward's return statements (read from
    the file's syntax tree: ``inspect`` cannot find a class of a script run by runpy)."""
    backward = _unwrap(getattr(cls, "backward", None))  # under @once_differentiable
    forward = getattr(cls, "forward", None)
    code = getattr(backward, "__code__", None)
    if code is None or forward is None:
        return None
    file = code.co_filename
    tree = _parse(file)
    if tree is None:
        return None
    node = _def_at(tree, "backward", code.co_firstlineno)
    fcode = getattr(forward, "__code__", None)
    fnode = _def_at(tree, "forward", fcode.co_firstlineno) if fcode is not None else None
    returns = [n.lineno for n in _returns(node)] if node is not None else []
    text = linecache.getline(file, returns[-1]).strip() if returns else None
    try:
        params = list(inspect.signature(forward).parameters)
    except (TypeError, ValueError):
        params = []
    own_setup = getattr(cls, "setup_context", None) is not torch.autograd.Function.setup_context
    inputs = tuple(params if own_setup else params[1:])
    return FunctionSite(
        cls.__name__,
        file,
        fnode.lineno if fnode is not None else None,
        node.lineno if node is not None else None,
        tuple(returns),
        text,
        inputs,
    )


def _def_at(tree: ast.Module, name: str, first: int) -> ast.FunctionDef | None:
    """The ``def name`` whose decorators or ``def`` line is line ``first``."""
    for n in ast.walk(tree):
        if isinstance(n, ast.FunctionDef) and n.name == name:
            lines = [n.lineno, *(d.lineno for d in n.decorator_list)]
            if first in lines:
                return n
    return None


def _returns(tree: ast.AST) -> list[ast.Return]:
    """The return statements of a function, nested functions' excluded, in line order."""
    out: list[ast.Return] = []
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Return):
            out.append(n)
        elif not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(n))
    return sorted(out, key=lambda n: n.lineno)
