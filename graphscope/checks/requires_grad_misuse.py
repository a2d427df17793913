"""requires-grad-misuse: ``requires_grad`` asked of a tensor that cannot have it.

torch's words (2.2 to 2.13)::

    Only Tensors of floating point and complex dtype can require gradients
    only Tensors of floating point dtype can require gradients      (requires_grad_())
    you can only change requires_grad flags of leaf variables. If you want to use a computed
    variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().

An integer tensor has no gradient (``torch.tensor([1, 2, 3], requires_grad=True)``): the fix is a
floating point dtype where it is made. A computed tensor's flag cannot be switched off
(``h.requires_grad = False``): the fix is ``h = h.detach()``, a new leaf without history.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from graphscope.checks import _more_entries
from graphscope.checks import _statement as st
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import Events, Finding, Location

KIND = "requires-grad-misuse"

_DTYPE = r"[Oo]nly Tensors of floating point (?:and complex )?dtype can require gradients"
_LEAF = r"you can only change requires_grad flags of leaf variables"
_RETAIN = r"can't retain_grad on Tensor that has requires_grad=False"


def _dtype(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    stmt = st.parse(text)
    factory = _factory_with_requires_grad(stmt)
    if factory is not None and text is not None:
        made = st.with_keyword(text, factory, "dtype", "torch.float32")
        fixed = text.replace(st.segment(text, factory), made, 1)
        yield Finding(
            KIND,
            "error",
            f"`{st.segment(text, factory)}` makes an integer tensor (its values are whole "
            "numbers) and asks it to require grad: only floating point and complex tensors can "
            "have gradients.",
            f"Make it floating point: `{fixed}` (or write the numbers as 1.0, 2.0, ...); if it "
            "holds indices or labels, it needs no gradient: drop requires_grad=True.",
            err.file,
            err.line,
        )
        return
    target = _flag_target(stmt, text)
    named = st.tensor(site, target) if target else None
    if target is not None and named is not None:
        where = f" (made at line {named.line})" if named.line is not None else ""
        hint = (
            f"Make {target} floating point before it asks for gradients: "
            f"`{target} = {target}.float()` before this line (or dtype=torch.float32 where it is "
            "made); if it holds indices or labels, it needs no gradient: leave requires_grad off."
        )
        yield Finding(
            KIND,
            "error",
            f"{target} is a tensor of {named.dtype}{where}, and only floating point and complex "
            "tensors can require grad.",
            hint,
            err.file,
            err.line,
            related=(Location(named.file, named.line, f"{target} is made here"),)
            if named.line is not None
            else (),
        )
        return
    yield Finding(
        KIND,
        "error",
        "A tensor of an integer (or bool) dtype was asked to require grad: only floating point "
        "and complex tensors can have gradients.",
        "Make it floating point (`x = x.float()`, or dtype=torch.float32 where it is made); if it "
        "holds indices or labels, it needs no gradient.",
        err.file,
        err.line,
    )


def _leaf(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    target = _flag_target(st.parse(text), text)
    named = st.tensor(site, target) if target else None
    name = target or "the tensor"
    how = f"computed (grad_fn {named.grad_fn})" if named is not None and named.grad_fn else ""
    made = f" at line {named.line}" if named is not None and named.line is not None else ""
    message = (
        f"`{text}` changes the requires_grad flag of {name}, which was {how or 'computed'}{made} "
        "from tensors that require grad: only a leaf's flag can change."
    )
    if named is not None and named.line is not None and named.text:
        yield Finding(
            KIND,
            "error",
            message,
            f"If nothing should train through {name}, compute it without a graph: put line "
            f"{named.line} under `with torch.no_grad():` (`with torch.no_grad(): {named.text}`); "
            f"{name} is then a leaf and this line is allowed. To keep the graph for other uses, "
            f"take a detached copy instead: `{name} = {name}.detach()`.",
            named.file,
            named.line,
            related=(Location(err.file, err.line, "requires_grad changed here"),),
        )
        return
    yield Finding(
        KIND,
        "error",
        message,
        f"To use its value without a graph, detach it: `{name} = {name}.detach()`, or compute it "
        "under `torch.no_grad()`.",
        err.file,
        err.line,
    )


def _retain(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    calls = [c for c in st.calls_to(text, "retain_grad") if isinstance(c.func, ast.Attribute)]
    name = st.segment(text, calls[0].func.value) if calls and text else None  # type: ignore[attr-defined]
    named = st.tensor(site, name) if name else None
    message = (
        f"{name}.retain_grad() asks to keep {name}'s gradient, but {name} does not require grad: "
        "backward never computes a gradient for it."
        if name
        else "retain_grad() was called on a tensor that does not require grad: backward never "
        "computes a gradient for it."
    )
    if named is not None and named.line is not None and name is not None:
        fixed = st.with_requires_grad(named.text, name)
        yield Finding(
            KIND,
            "error",
            message,
            f"To get the gradient with respect to {name}, make it require grad where it is "
            + (f"made: `{fixed}`" if fixed else f"made (line {named.line})")
            + "; a leaf that requires grad keeps its .grad without retain_grad().",
            named.file,
            named.line,
            related=(Location(err.file, err.line, "retain_grad() called here"),),
        )
        return
    yield Finding(
        KIND,
        "error",
        message,
        "Make the tensor require grad where it is made (requires_grad=True), or drop "
        "retain_grad(): only tensors that require grad get gradients.",
        err.file,
        err.line,
    )


def _factory_with_requires_grad(stmt: ast.stmt | None) -> ast.Call | None:
    """A call on the statement that passes ``requires_grad=True`` (``torch.tensor(...)``)."""
    if stmt is None:
        return None
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and any(
            k.arg == "requires_grad"
            and not (isinstance(k.value, ast.Constant) and k.value.value is False)
            for k in node.keywords
        ):
            return node
    return None


def _flag_target(stmt: ast.stmt | None, text: str | None) -> str | None:
    """The tensor whose flag the statement sets: ``h.requires_grad = ...`` or
    ``h.requires_grad_(...)``."""
    if stmt is None or text is None:
        return None
    if isinstance(stmt, ast.Assign):
        for t in stmt.targets:
            if isinstance(t, ast.Attribute) and t.attr == "requires_grad":
                return st.segment(text, t.value)
    for call in st.calls_to(text, "requires_grad_"):
        if isinstance(call.func, ast.Attribute):
            return st.segment(text, call.func.value)
    return None


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES: tuple[Entry, ...] = (
    Entry(
        KIND,
        (_DTYPE,),
        explain=_dtype,
        example="Only Tensors of floating point and complex dtype can require gradients",
    ),
    Entry(
        KIND,
        (_RETAIN,),
        explain=_retain,
        example="can't retain_grad on Tensor that has requires_grad=False",
    ),
    Entry(
        KIND,
        (_LEAF,),
        explain=_leaf,
        example="you can only change requires_grad flags of leaf variables. If you want to use a "
        "computed variable in a subgraph that doesn't require differentiation use var_no_grad = "
        "var.detach().",
    ),
)

#: more of its messages (graphscope.checks._more_entries)
MESSAGES = (*MESSAGES, *_more_entries.REQUIRES_GRAD)
