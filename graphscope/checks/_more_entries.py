"""More of torch's messages for kinds whose modules hold the rest of their entries: the kind's
module adds these to its ``MESSAGES`` (``view_inplace``, ``requires_grad_misuse``,
``custom_function_gradient``). Each explanation reads the statement that raised
(:class:`~graphscope.model.ErrorSite`) and sits at the line to change.

torch's words (2.2 to 2.13)::

    Can't detach views in-place. Use detach() instead. ...          (for s in h_n: s.detach_())
    unsupported operation: more than one element of the written-to tensor refers to a single
    memory location. Please clone() the tensor before performing the operation.
                                                                  (+= into an expand()ed tensor)
    cannot register a hook on a tensor that doesn't require gradient
    trying to differentiate twice a function that was marked with @once_differentiable
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from graphscope.checks import _statement as st
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import Events, Finding, Location, Named

__all__ = ["VIEW_INPLACE", "REQUIRES_GRAD", "CUSTOM_FUNCTION"]


def _site_name(err: TorchError, name: str | None) -> Named | None:
    site = err.script.site if err.script is not None else None
    return st.tensor(site, name) if name else None


def _text(err: TorchError) -> str | None:
    site = err.script.site if err.script is not None else None
    return site.text if site is not None else None


def _receiver(text: str | None, method: str) -> str | None:
    """``s`` in ``s.detach_()``, ``x`` in ``x.register_hook(...)``."""
    for call in st.calls_to(text, method):
        f = call.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            return f.value.id
    return None


def _detach_view(events: Events, err: TorchError) -> Iterator[Finding]:
    text = _text(err)
    name = _receiver(text, "detach_")
    named = _site_name(err, name)
    loop = st.parse(named.text) if named is not None else None
    whole = None
    if isinstance(loop, ast.For) and named is not None and named.text:
        whole = st.segment(named.text, loop.iter)
    if name and whole and named is not None:
        yield Finding(
            "view-inplace",
            "error",
            f"{name}.detach_() detaches in place {name}, one slice of {whole} (line {named.line}: "
            f"`{named.text}`): a view of {whole} cannot be detached in place.",
            f"Detach the whole tensor at once, which makes a new tensor without history: "
            f"`{whole} = {whole}.detach()` in place of the loop at line {named.line}.",
            named.file,
            named.line,
            related=(Location(err.file, err.line, "detach_() raised here"),),
        )
        return
    who = name or "the tensor"
    yield Finding(
        "view-inplace",
        "error",
        f"{who}.detach_() tries to detach a view (a slice, an element of a loop over a tensor, "
        "a gradient DDP keeps in its buckets) in place, which torch forbids.",
        f"Use the out-of-place form: `{who} = {who}.detach()` (or detach the tensor the view was "
        "taken from).",
        err.file,
        err.line,
    )


def _overlap(events: Events, err: TorchError) -> Iterator[Finding]:
    text = _text(err)
    target = st.inplace_target(text)
    name = target[0] if target else None
    named = _site_name(err, name)
    made = named.text if named is not None else None
    calls = st.calls_to(made, "expand", "expand_as", "broadcast_to")
    if name and named is not None and made and calls:
        call = calls[0]
        seg = st.segment(made, call)
        fixed = made.replace(seg, f"{seg}.clone()", 1)
        yield Finding(
            "view-inplace",
            "error",
            f"{name} was made by {_func_name(call)}() at line {named.line} "
            f"(`{made}`): many of its elements share one memory location, so the in-place write "
            f"at line {err.line} (`{text}`) cannot write them one by one.",
            f"Give {name} memory of its own where it is made: `{fixed}` (or write out of place "
            f"at line {err.line}: `{st.out_of_place(text) or name + ' = ' + name + ' + ...'}`).",
            named.file,
            named.line,
            related=(Location(err.file, err.line, "in-place write raised here"),),
        )
        return
    yield Finding(
        "view-inplace",
        "error",
        "An in-place write went to a tensor whose elements share memory (made by expand(), "
        "broadcast_to() or a stride-0 view): torch cannot write them one by one.",
        "clone() the tensor where it is made (`x = x.expand(...).clone()`), or write out of "
        "place (`x = x + y`).",
        err.file,
        err.line,
    )


def _func_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else "expand"


def _hook(events: Events, err: TorchError) -> Iterator[Finding]:
    text = _text(err)
    name = _receiver(text, "register_hook")
    named = _site_name(err, name)
    if name and named is not None and named.is_leaf and named.line is not None:
        made = f" (`{named.text}`)" if named.text else ""
        yield Finding(
            "requires-grad-misuse",
            "error",
            f"{name}.register_hook(...) at line {err.line} hooks the gradient of {name}, which "
            f"does not require grad: it was made at line {named.line}{made} without "
            "requires_grad, so backward never computes a gradient for it.",
            f"If you want the gradient of {name} (a saliency map, an input's gradient), make it "
            f"require grad before it is used: `{name}.requires_grad_()` after line {named.line} "
            f"(or requires_grad=True where it is made); otherwise do not hook it.",
            named.file,
            named.line,
            related=(Location(err.file, err.line, "register_hook raised here"),),
        )
        return
    who = name or "the tensor"
    how = (
        f" ({who} was computed without a graph: grad_fn None)"
        if named is not None and not named.is_leaf
        else ""
    )
    yield Finding(
        "requires-grad-misuse",
        "error",
        f"register_hook on {who}, which does not require grad{how}: backward never computes its "
        "gradient, so there is nothing to hook.",
        f"Hook a tensor the loss depends on through the graph (compute {who} with gradients on), "
        f"or register the hook only when `{who}.requires_grad` is True.",
        err.file,
        err.line,
    )


def _once(events: Events, err: TorchError) -> Iterator[Finding]:
    site = err.script.site if err.script is not None else None
    fns = site.functions if site is not None else ()
    fn = fns[0] if fns else None
    if fn is not None and fn.backward_line is not None:
        yield Finding(
            "custom-function-gradient",
            "error",
            f"The backward of {fn.name} is marked @once_differentiable, and this backward "
            f"(create_graph=True before it: a gradient penalty, a Hessian) differentiates it a "
            "second time.",
            f"Remove the @once_differentiable above {fn.name}.backward (line {fn.backward_line}) and "
            "write it with torch operations, so that autograd can differentiate it; or keep "
            "the second-order term away from this Function.",
            fn.file,
            fn.backward_line,
            related=(Location(err.file, err.line, "backward raised here"),),
        )
        return
    yield Finding(
        "custom-function-gradient",
        "error",
        "A custom autograd.Function whose backward is marked @once_differentiable was "
        "differentiated a second time (create_graph=True before: a gradient penalty, a Hessian).",
        "Remove @once_differentiable from that Function's backward and write the backward with "
        "torch operations, so that autograd can differentiate it.",
        err.file,
        err.line,
    )


VIEW_INPLACE = (
    Entry(
        "view-inplace",
        (r"Can't detach views in-place",),
        explain=_detach_view,
        example="Can't detach views in-place. Use detach() instead.",
    ),
    Entry(
        "view-inplace",
        (r"more than one element of the written-to tensor refers to a single memory location",),
        explain=_overlap,
        example="unsupported operation: more than one element of the written-to tensor refers to "
        "a single memory location. Please clone() the tensor before performing the operation.",
    ),
)
REQUIRES_GRAD = (
    Entry(
        "requires-grad-misuse",
        (r"cannot register a hook on a tensor that doesn't require gradient",),
        explain=_hook,
        example="cannot register a hook on a tensor that doesn't require gradient",
    ),
)
CUSTOM_FUNCTION = (
    Entry(
        "custom-function-gradient",
        (r"trying to differentiate twice a function that was marked with @once_differentiable",),
        explain=_once,
        example="trying to differentiate twice a function that was marked with "
        "@once_differentiable",
    ),
)
