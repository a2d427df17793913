"""nonleaf-grad-access: ``.grad`` of a non-leaf tensor read without ``retain_grad()``.

Reads ``events.grad_reads`` (``watch`` records a read that returned None on a non-leaf that does
not retain its gradient). One warning per reading line and tensor.

When the tensor was meant to be a parameter (``events.made_from_leaf``: it was made, on one line,
from an unnamed leaf that requires grad: ``W = torch.randn(3, 1, requires_grad=True) * 0.01``),
the cause is that line: ``related`` points at it and the hint rewrites it so that ``W`` itself is
the leaf (``W = (torch.randn(3, 1) * 0.01).requires_grad_()``), instead of ``W.retain_grad()``.

The same mistake makes an optimizer refuse the tensor: ``torch.optim.SGD([W, b])`` raises
"can't optimize a non-leaf Tensor". That message is this kind's too: the finding is at the line
that made ``W`` (a non-leaf tensor named on the optimizer's line), with the same rewrite.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import AutogradGraph, Events, Finding, GradRead, Location, MadeFromLeaf

KIND = "nonleaf-grad-access"


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per ``.grad`` read of a non-leaf tensor."""
    seen: set[tuple[object, ...]] = set()
    made = {m.name: m for m in events.made_from_leaf}
    for r in events.grad_reads:
        node = graph.by_name(r.name) if r.name else None
        origin = made.get(r.name) if r.name else None
        f = _leaf_lost(r, origin, node, graph) if origin else _plain(r, node, graph)
        if f.key() not in seen:
            seen.add(f.key())
            yield f


def _plain(r: GradRead, node: str | None, graph: AutogradGraph) -> Finding:
    name = r.name
    what = name or "this tensor"
    made = " (it was computed by an operation)" if r.grad_fn else ""
    message = (
        f"{what}.grad is None: {what} is not a leaf{made}, and only leaf tensors keep "
        ".grad after backward."
        if name
        else f"This .grad is None: the tensor is not a leaf{made}, and only leaf tensors keep "
        ".grad after backward."
    )
    return Finding(
        kind=KIND,
        severity="warning",
        message=message,
        hint=(
            f"Call {f'`{name}.retain_grad()`' if name else 'retain_grad() on it'} before "
            "backward to keep its gradient, "
            "or read the .grad of a leaf (a tensor created with requires_grad=True)."
        ),
        file=r.file,
        line=r.line,
        node=node,
        graph=graph.graph.get("id") if node is not None else None,
        badge=".grad is None (not a leaf)",
    )


def _leaf_lost(r: GradRead, m: MadeFromLeaf, node: str | None, graph: AutogradGraph) -> Finding:
    op = f" ({m.op})" if m.op else ""
    message = (
        f"{m.name}.grad is None: {m.name} is not a leaf. Line {m.line} made it{op} from a tensor "
        f"created with requires_grad=True, so that unnamed tensor is the leaf that gets the "
        f"gradient, and {m.name} is only a result computed from it."
    )
    update = self_update(m.text, m.name)
    if update is not None:
        # ``w = w - lr * w.grad``: a hand-written step that rebinds the parameter to a result
        message = (
            f"{m.name}.grad is None: {m.name} is not a leaf any more. Line {m.line} "
            f"(`{update}`) rebinds {m.name} to a new tensor computed from the old one, and "
            f"autograd records that computation: the new {m.name} is a result, not a leaf, so "
            "the next backward call gives it no .grad (the gradient goes to the first "
            f"{m.name}, through every update made since)."
        )
        fresh = f"{m.name} = ({_value(m.text)}).detach().requires_grad_()"
        hint = (
            f"Update the parameter without recording it: `{fresh}` (a fresh leaf each step), "
            f"or in place under no_grad: `with torch.no_grad(): {m.name} -= ...` then "
            f"`{m.name}.grad = None`."
        )
    else:
        fixed = leaf_fix(m.text, m.name)
        example = f"`{fixed}`" if fixed else f"`{m.name} = (<its value>).requires_grad_()`"
        hint = (
            f"Make {m.name} itself the leaf: compute its value first, then ask for gradients: "
            f"{example}."
        )
    return Finding(
        kind=KIND,
        severity="warning",
        message=message,
        hint=hint,
        file=r.file,
        line=r.line,
        node=node,
        graph=graph.graph.get("id") if node is not None else None,
        related=(Location(m.file, m.line, f"{m.name} stopped being a leaf here"),),
        badge=".grad is None (not a leaf)",
    )


def self_update(text: str | None, name: str) -> str | None:
    """The statement, when it assigns ``name`` a value computed from ``name`` itself
    (``w = w - lr * w.grad``, ``w -= ...`` is not one: that is in place); else None."""
    stmt = _assignment(text, name)
    if stmt is None or not any(
        isinstance(n, ast.Name) and n.id == name for n in ast.walk(stmt.value)
    ):
        return None
    return (text or "").strip()


def _value(text: str | None) -> str:
    """The source of the assigned value of ``text`` (an assignment)."""
    stmt = ast.parse((text or "").strip()).body[0]
    assert isinstance(stmt, ast.Assign)
    return ast.get_source_segment((text or "").strip(), stmt.value) or ast.unparse(stmt.value)


def _assignment(text: str | None, name: str) -> ast.Assign | None:
    """``text`` parsed, when it is one plain assignment to ``name``."""
    if not text:
        return None
    try:
        tree = ast.parse(text.strip())
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return None
    stmt = tree.body[0]
    if [ast.unparse(t) for t in stmt.targets] != [name]:
        return None
    return stmt


def leaf_fix(text: str | None, name: str) -> str | None:
    """``W = (torch.randn(3, 1) * 0.01).requires_grad_()`` from the line that made ``W``
    (``W = torch.randn(3, 1, requires_grad=True) * 0.01``), or None when it is not a plain
    assignment to ``name``.

    >>> leaf_fix("b = torch.zeros(1, requires_grad=True).to(device)", "b")
    'b = torch.zeros(1).to(device).requires_grad_()'
    """
    stmt = _assignment(text, name)
    if stmt is None:
        return None
    value = _without_requires_grad(stmt.value)
    expr = ast.unparse(value)
    if not isinstance(value, (ast.Call, ast.Attribute, ast.Name, ast.Subscript)):
        expr = f"({expr})"
    return f"{name} = {expr}.requires_grad_()"


def _without_requires_grad(node: ast.expr) -> ast.expr:
    """``node`` with every ``requires_grad=True`` keyword and ``.requires_grad_()`` call taken
    out."""

    class _Strip(ast.NodeTransformer):
        def visit_Call(self, call: ast.Call) -> ast.AST:
            self.generic_visit(call)
            call.keywords = [k for k in call.keywords if k.arg != "requires_grad"]
            f = call.func
            if isinstance(f, ast.Attribute) and f.attr == "requires_grad_" and not call.args:
                return f.value
            return call

    return _Strip().visit(node)  # type: ignore[no-any-return]


def _optimizer(events: Events, err: TorchError) -> Iterator[Finding]:
    """An optimizer given a non-leaf tensor: the line that made it, rewritten as a leaf."""
    site = err.script.site if err.script is not None else None
    names = site.names if site is not None else ()
    made = {m.name: m for m in events.made_from_leaf}
    bad = [n for n in names if n.what == "tensor" and n.is_leaf is False]
    raised = Location(err.file, err.line, "the optimizer refused it here")
    for n in bad:
        origin = made.get(n.name)
        text = n.text or (origin.text if origin is not None else None)
        line = n.line if n.line is not None else (origin.line if origin is not None else None)
        fixed = leaf_fix(text, n.name)
        how = f" (`{text.strip()}`)" if text else ""
        example = f"`{fixed}`" if fixed else f"`{n.name} = (<its value>).requires_grad_()`"
        yield Finding(
            kind=KIND,
            severity="error",
            message=(
                f"The optimizer was given {n.name}, which is not a leaf: line {line}{how} "
                f"computed it from a tensor created with requires_grad=True, so that unnamed "
                f"tensor is the leaf that would get the gradient, and an optimizer can only "
                f"update leaves."
            ),
            hint=(
                f"Make {n.name} itself the leaf: compute its value first, then ask for "
                f"gradients: {example}."
            ),
            file=n.file if line is not None else err.file,
            line=line if line is not None else err.line,
            related=(raised,) if line is not None else (),
        )
    if not bad:
        yield Finding(
            kind=KIND,
            severity="error",
            message=(
                "The optimizer was given a tensor that is not a leaf (one computed from a "
                "tensor that requires grad, such as torch.randn(3, requires_grad=True) * 0.01); "
                "an optimizer can only update leaves."
            ),
            hint=(
                "Create each parameter as a leaf: compute its value, then ask for gradients "
                "(`w = (torch.randn(3, 1) * 0.01).requires_grad_()`), or pass "
                "`t.detach().requires_grad_()`."
            ),
            file=err.file,
            line=err.line,
        )


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES: tuple[Entry, ...] = (
    Entry(
        KIND,
        (r"can't optimize a non-leaf Tensor",),
        explain=_optimizer,
        example="can't optimize a non-leaf Tensor",
    ),
)
