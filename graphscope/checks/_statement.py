"""Reading the user's statement that raised (``ErrorSite.text``) with :mod:`ast`, for hints in
the user's own names: which tensor an in-place statement writes, the arguments of a call, the
statement rewritten. Pure: source text in, text out; ``None`` when the text does not parse."""

from __future__ import annotations

import ast

from graphscope.model import ErrorSite, Named

__all__ = [
    "parse",
    "inplace_target",
    "out_of_place",
    "calls_to",
    "with_keyword",
    "segment",
    "tensor",
    "with_requires_grad",
]

_OPS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
}


def parse(text: str | None) -> ast.stmt | None:
    """The statement ``text`` holds (a compound statement's header parses with ``pass``)."""
    if not text:
        return None
    for src in (text, text.rstrip() + " pass" if text.rstrip().endswith(":") else None):
        if src is None:
            continue
        try:
            body = ast.parse(src).body
        except SyntaxError:
            continue
        if body:
            return body[0]
    return None


def segment(text: str, node: ast.AST) -> str:
    """The source of ``node`` in ``text``, as written (falls back to ``ast.unparse``)."""
    got = ast.get_source_segment(text, node)
    return got if got is not None else ast.unparse(node)


def inplace_target(text: str | None) -> tuple[str, str] | None:
    """``(tensor, how)`` of an in-place statement: ``q *= s`` -> ``("q", "*=")``, ``q.mul_(s)``
    -> ``("q", "mul_")``, ``q[0] = 1`` -> ``("q", "[]=")``."""
    stmt = parse(text)
    if text is None or stmt is None:
        return None
    if isinstance(stmt, ast.AugAssign):
        op = _OPS.get(type(stmt.op))
        return (segment(text, stmt.target), f"{op}=") if op else None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        t = stmt.targets[0]
        if isinstance(t, ast.Subscript):
            return segment(text, t.value), "[]="
    call = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
        name = call.func.attr
        if name.endswith("_") and not name.startswith("_"):
            return segment(text, call.func.value), name
    return None


def out_of_place(text: str | None) -> str | None:
    """The statement without its in-place write: ``q *= s`` -> ``q = q * s``, ``q.mul_(s)`` ->
    ``q = q.mul(s)``; None for an item assignment or anything else."""
    stmt = parse(text)
    if text is None or stmt is None:
        return None
    if isinstance(stmt, ast.AugAssign):
        op = _OPS.get(type(stmt.op))
        if op is None:
            return None
        target = segment(text, stmt.target)
        value = segment(text, stmt.value)
        if _needs_parens(stmt.value, type(stmt.op)):
            value = f"({value})"
        return f"{target} = {target} {op} {value}"
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        if isinstance(call.func, ast.Attribute) and call.func.attr.endswith("_"):
            target = segment(text, call.func.value)
            args = ", ".join(
                [segment(text, a) for a in call.args]
                + [f"{k.arg}={segment(text, k.value)}" for k in call.keywords if k.arg]
            )
            return f"{target} = {target}.{call.func.attr[:-1]}({args})"
    return None


_RANK: dict[type, int] = {
    ast.Pow: 6,
    ast.Mult: 5,
    ast.Div: 5,
    ast.FloorDiv: 5,
    ast.Mod: 5,
    ast.MatMult: 5,
    ast.Add: 4,
    ast.Sub: 4,
    ast.LShift: 3,
    ast.RShift: 3,
    ast.BitAnd: 2,
    ast.BitXor: 1,
    ast.BitOr: 0,
}


def _needs_parens(value: ast.expr, op: type) -> bool:
    """Whether ``x = x <op> value`` needs ``value`` in parentheses to mean ``x <op>= value``."""
    if isinstance(value, (ast.BoolOp, ast.Compare, ast.IfExp, ast.Lambda, ast.NamedExpr)):
        return True
    if isinstance(value, ast.UnaryOp):
        return op is ast.Pow
    if isinstance(value, ast.BinOp):
        return _RANK.get(type(value.op), 0) <= _RANK.get(op, 0) and type(value.op) is not ast.Pow
    return False


def calls_to(text: str | None, *names: str) -> list[ast.Call]:
    """The calls on the statement whose function is named one of ``names`` (``grad`` matches
    ``torch.autograd.grad`` and ``grad``), outermost first."""
    stmt = parse(text)
    if stmt is None:
        return []
    out = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call):
            f = node.func
            fname = (
                f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            )
            if fname in names:
                out.append(node)
    return out


def argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    """The argument of ``call`` at ``position`` or named ``keyword``."""
    if len(call.args) > position and not isinstance(call.args[position], ast.Starred):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def with_keyword(
    text: str, call: ast.Call, keyword: str, value: str, position: int | None = None
) -> str:
    """``call``'s source with ``keyword=value`` added (or replacing the one given, also when it
    is given as the positional argument at ``position``)."""
    args = [segment(text, a) for a in call.args]
    if position is not None and position < len(args):
        args[position] = value
        kws = [f"{k.arg}={segment(text, k.value)}" for k in call.keywords if k.arg]
        kws += [f"**{segment(text, k.value)}" for k in call.keywords if k.arg is None]
        return f"{segment(text, call.func)}({', '.join([*args, *kws])})"
    kws = [f"{k.arg}={segment(text, k.value)}" for k in call.keywords if k.arg != keyword]
    kws += [f"**{segment(text, k.value)}" for k in call.keywords if k.arg is None]
    kws = [k for k in kws if not k.startswith("None=")]
    return f"{segment(text, call.func)}({', '.join([*args, *kws, f'{keyword}={value}'])})"


def tensor(site: ErrorSite | None, name: str) -> Named | None:
    """What ``name`` held on the statement that raised, when it was a tensor."""
    if site is None:
        return None
    n = site.named(name)
    return n if n is not None and n.what == "tensor" else None


_FACTORIES = {
    "randn",
    "rand",
    "zeros",
    "ones",
    "empty",
    "full",
    "tensor",
    "linspace",
    "arange",
    "randn_like",
    "rand_like",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "eye",
    "as_tensor",
}


def with_requires_grad(text: str | None, name: str) -> str | None:
    """``x = torch.randn(3)`` -> ``x = torch.randn(3, requires_grad=True)``; another
    assignment ``x = f(y)`` -> ``x = f(y).requires_grad_()``; None when it is no assignment."""
    stmt = parse(text)
    if text is None or not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
        return None
    target = segment(text, stmt.targets[0])
    if target != name:
        return None
    value = stmt.value
    if isinstance(value, ast.Call):
        f = value.func
        fname = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if fname in _FACTORIES:
            return f"{target} = {with_keyword(text, value, 'requires_grad', 'True')}"
    return f"{target} = ({segment(text, value)}).requires_grad_()"
