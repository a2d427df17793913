"""view-inplace: an in-place write into a view that autograd cannot rewrite.

torch refuses (torch 2.13 wording; earlier versions name the node ``SplitBackward0``)::

    Output 0 of Split is a view and is being modified inplace. This view is the output of a
    function that returns multiple views. ...
    Output 0 of BackwardHookFunction is a view and is being modified inplace. This view was
    created inside a custom Function ...
    A view was created in no_grad mode and is being modified inplace with grad mode enabled.
    Output 0 of Unbind is a view and its base or another view of its base has been modified
    inplace. This view is the output of a function that returns multiple views. ...

The first comes from ``q, k, v = x.chunk(3, -1); q *= scale`` (``chunk``, ``split``,
``unbind``): the finding is at the in-place statement, with its out-of-place form as the fix, and
the line that made the views as ``related``. The second most often comes from an in-place module
(``nn.ReLU(inplace=True)``) inside a module with ``register_full_backward_hook``: the fix goes
where that module is constructed (``self.act = nn.ReLU()``), the line that raised is ``related``.
The fourth comes from a write into the tensor the views were taken from (``mu, logvar =
stats.unbind(-1); stats.mul_(0.5)``), raised later, where a view is used: the finding is at that
write (the recorder's last in-place write into the views' base), its out-of-place form the fix.
The evidence is the failing statement (:class:`~graphscope.model.ErrorSite`): the written
tensor's name, where it was assigned, the modules named there.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from graphscope.checks import _more_entries
from graphscope.checks import _statement as st
from graphscope.checks._rewrite import source_line
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import Events, Finding, InplaceWrite, Location, Named

KIND = "view-inplace"

_MULTI = (
    r"Output (?P<n>\d+) of (?P<fn>\w+) is a view and is being modified inplace\. This view is "
    r"the output of a function that returns multiple views"
)
_CUSTOM = (
    r"Output (?P<n>\d+) of (?P<fn>\w+) is a view and is being modified inplace\. This view was "
    r"created inside a custom Function"
)
_NO_GRAD = (
    r"A view was created in no_grad mode and is being modified inplace with grad mode enabled"
)
_BASE = (
    r"Output (?P<n>\d+) of (?P<fn>\w+) is a view and its base or another view of its base has "
    r"been modified inplace\. This view is the output of a function that returns multiple views"
)
_SPLITTERS = {"Split": "split/chunk", "SplitWithSizes": "split", "Unbind": "unbind"}
#: the methods (and torch functions) that return several views of one tensor
_SPLIT_CALLS = frozenset(
    {"unbind", "split", "chunk", "split_with_sizes", "tensor_split", "unsafe_split"}
)


def _multi(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    target = st.inplace_target(text)
    name = target[0] if target else None
    fn = re.sub(r"Backward\d*$", "", err.match["fn"]) if err.match else "Split"
    made = st.tensor(site, name) if name else None
    related: tuple[Location, ...] = ()
    where = ""
    if made is not None and made.line is not None:
        related = (Location(made.file, made.line, "the views are made here"),)
        where = f" made at line {made.line} (`{made.text}`)" if made.text else ""
    how = _SPLITTERS.get(fn, fn)
    who = f"{name}, one of the views{where or ' that ' + how + ' returned'}" if name else "a view"
    message = (
        f"`{text}` writes in place into {who}: autograd cannot record an in-place change of one "
        f"of several views of a tensor ({how} returns views that share its memory)."
        if text and name
        else f"An in-place write into one of the views that {how} returned: autograd cannot "
        "record an in-place change of one of several views of a tensor."
    )
    fixed = st.out_of_place(text)
    if fixed is not None:
        hint = f"Write it out of place: `{fixed}` (a new tensor; the other views are unchanged)."
    elif name:
        hint = (
            f"Copy the view before writing into it: `{name} = {name}.clone()` just before this "
            "line, or build the new value out of place."
        )
    else:
        hint = "Replace the in-place operation by an out-of-place one (`q = q * s`, not `q *= s`)."
    yield Finding(KIND, "error", message, hint, err.file, err.line, related=related)


def _base(events: Events, err: TorchError) -> Iterator[Finding]:
    """A write into the tensor several views were taken from, found where a view is used."""
    site = err.script.site if err.script is not None else None
    fn = re.sub(r"Backward\d*$", "", err.match["fn"]) if err.match else "Unbind"
    how = _SPLITTERS.get(fn, fn)
    view = _split_view(site.names if site is not None else (), err.match["n"] if err.match else "0")
    base = _split_base(view.text) if view is not None and view.text else None
    write = _base_write(events, view, base)
    if view is None or write is None or write.line is None:
        yield Finding(
            KIND,
            "error",
            f"A tensor was written in place after {how} took several views of it, and a view is "
            "used here: autograd cannot record an in-place change of a tensor that has several "
            "views.",
            f"Write into the tensor before taking the views ({how}), or write out of place "
            "(`x = x * s`, not `x.mul_(s)`).",
            err.file,
            err.line,
        )
        return
    text = source_line(write.file, write.line).strip()
    target = st.inplace_target(text)
    written = target[0] if target else (write.name or base or "the tensor")
    fixed = st.out_of_place(text)
    related = (
        Location(view.file, view.line, "the views are made here"),
        Location(err.file, err.line, "a view is used here: torch raised"),
    )
    views = f"views of {written} ({view.name} among them)"
    message = (
        f"`{text}` writes in place into {written} at line {write.line}, after line {view.line} "
        f"(`{view.text}`) took {views}; line {err.line} then uses {view.name}: autograd cannot "
        f"record an in-place change of a tensor that {how} split into views sharing its memory."
    )
    if fixed is not None:
        hint = (
            f"Write it out of place: `{fixed}` (a new tensor: the views keep the values from "
            f"before the write; if they should see it, take them after it: move line "
            f"{view.line} below this one)."
        )
    else:
        hint = (
            f"Make the write before line {view.line} takes the views, or clone first: "
            f"`{written} = {written}.clone()` just before line {write.line}."
        )
    yield Finding(KIND, "error", message, hint, write.file, write.line, related=related)


def _split_view(names: tuple[Named, ...], output: str) -> Named | None:
    """The tensor on the failing statement that a several-views call made: torch's ``Output
    <output>`` (``logvar`` of ``mu, logvar = stats.unbind(-1)`` for 1) when it is there."""
    views = [
        n
        for n in names
        if n.what == "tensor" and n.line is not None and _split_base(n.text) is not None
    ]
    for v in views:
        stmt = st.parse(v.text)
        targets = stmt.targets[0] if isinstance(stmt, ast.Assign) else None
        if isinstance(targets, ast.Tuple) and output.isdigit() and int(output) < len(targets.elts):
            nth = st.segment(v.text or "", targets.elts[int(output)])
            if any(w.name == nth for w in views):
                return next(w for w in views if w.name == nth)
    return views[0] if views else None


def _split_base(text: str | None) -> str | None:
    """``stats`` of ``mu, logvar = stats.unbind(-1)`` (or of ``torch.chunk(stats, 2)``)."""
    stmt = st.parse(text)
    if text is None or stmt is None:
        return None
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in _SPLIT_CALLS:
            continue
        owner = st.segment(text, node.func.value)
        if owner == "torch" and node.args:
            return st.segment(text, node.args[0])
        return owner
    return None


def _base_write(events: Events, view: Named | None, base: str | None) -> InplaceWrite | None:
    """The last in-place write into the views' base (by name; else the last write after the
    views were made, in their file)."""
    if view is None:
        return None
    writes = [w for w in events.inplace if w.line is not None and w.grad_enabled]
    named = [w for w in writes if base is not None and w.name == base]
    if named:
        return named[-1]
    after = [w for w in writes if w.file == view.file and (w.line or 0) > (view.line or 0)]
    return after[-1] if after else None


def _custom(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    fn = re.sub(r"Backward\d*$", "", err.match["fn"]) if err.match else "a custom Function"
    module = _inplace_module(site.names if site is not None else ())
    hook = fn == "BackwardHookFunction"
    why = (
        "a module with register_full_backward_hook hands its forward a view of its input, "
        if hook
        else f"the custom Function {fn} returned a view (or one of its inputs as it is), "
    )
    raised = (Location(err.file, err.line, "torch raised here"),)
    if module is not None and module.line is not None and module.text:
        fixed = _without_inplace(module.text)
        what = module.module_text or module.name
        yield Finding(
            KIND,
            "error",
            f"{module.name} ({what}) writes in place into its input, but {why}which autograd "
            "cannot let a module change in place.",
            f"Construct it without inplace: `{fixed}` (line {module.line}); the out-of-place "
            "version gives the same values.",
            module.file,
            module.line,
            related=raised,
        )
        return
    yield Finding(
        KIND,
        "error",
        f"An in-place write into the output of {fn}: {why}which autograd cannot let code change "
        "in place.",
        "Make the write out of place (`y = torch.relu(y)`, not `torch.relu_(y)`; "
        "`nn.ReLU()` rather than `nn.ReLU(inplace=True)`), or clone the output first "
        "(`y = y.clone()`).",
        err.file,
        err.line,
    )


def _no_grad(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    text = site.text if site is not None else None
    target = st.inplace_target(text)
    name = target[0] if target else "the view"
    made = st.tensor(site, name) if target else None
    message = (
        f"{name} is a view made under torch.no_grad(), and `{text}` writes into it in place with "
        "gradients on: autograd cannot tell whether the write should be recorded."
        if text
        else "A view made under torch.no_grad() is written in place with gradients on: autograd "
        "cannot tell whether the write should be recorded."
    )
    if made is not None and made.line is not None and made.text:
        yield Finding(
            KIND,
            "error",
            message,
            f"Make the view and the write on the same side: move `{made.text}` (line "
            f"{made.line}) out of the torch.no_grad() block, so that the write is recorded, or "
            "move the write into the block if it must not be.",
            made.file,
            made.line,
            related=(Location(err.file, err.line, "written in place here"),),
        )
        return
    yield Finding(
        KIND,
        "error",
        message,
        "Make the view and the in-place write on the same side of torch.no_grad(): both outside "
        "(the write is recorded) or both inside (it is not).",
        err.file,
        err.line,
    )


def _without_inplace(text: str) -> str:
    """``nn.ReLU(inplace=True)`` -> ``nn.ReLU()``; ``nn.LeakyReLU(0.1, inplace=True)`` ->
    ``nn.LeakyReLU(0.1)``."""
    text = re.sub(r",\s*inplace\s*=\s*True", "", text)
    return re.sub(r"inplace\s*=\s*True\s*,?\s*", "", text)


def _inplace_module(names: tuple[Named, ...]) -> Named | None:
    """The module named on the failing statement that works in place (``ReLU(inplace=True)``),
    or whose construction says ``inplace=True``."""
    for n in names:
        if n.what != "module" or n.name == "self":
            continue
        own = n.module_text is not None and "\n" not in n.module_text
        if (own and "inplace=True" in (n.module_text or "")) or (
            n.text and "inplace=True" in n.text
        ):
            return n
    return None


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES: tuple[Entry, ...] = (
    Entry(
        KIND,
        (_MULTI,),
        explain=_multi,
        example="Output 0 of SplitBackward0 is a view and is being modified inplace. This view is "
        "the output of a function that returns multiple views. Such functions do not allow the "
        "output views to be modified inplace.",
    ),
    Entry(
        KIND,
        (_BASE,),
        explain=_base,
        example="Output 0 of UnbindBackward0 is a view and its base or another view of its base "
        "has been modified inplace. This view is the output of a function that returns multiple "
        "views. Such functions do not allow the output views to be modified inplace. You should "
        "replace the inplace operation by an out-of-place one.",
    ),
    Entry(
        KIND,
        (_CUSTOM,),
        explain=_custom,
        example="Output 0 of BackwardHookFunctionBackward is a view and is being modified "
        "inplace. This view was created inside a custom Function (or because an input was "
        "returned as-is) and the autograd logic to handle view+inplace would override the "
        "custom backward associated with the custom Function, leading to incorrect gradients.",
    ),
    Entry(
        KIND,
        (_NO_GRAD,),
        explain=_no_grad,
        example="A view was created in no_grad mode and is being modified inplace with grad mode "
        "enabled. Given that this use case is ambiguous and error-prone, it is forbidden.",
    ),
)

#: more of its messages (graphscope.checks._more_entries)
MESSAGES = (*MESSAGES, *_more_entries.VIEW_INPLACE)
