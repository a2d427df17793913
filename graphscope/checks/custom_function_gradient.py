"""custom-function-gradient: a custom ``torch.autograd.Function``'s ``backward`` returned the wrong
number of gradients, or a gradient of the wrong shape.

torch's words (2.2 to 2.13; the node is ``<Class>Backward``)::

    function MyFnBackward returned an incorrect number of gradients (expected 3, got 1)
    Function MyFnBackward returned an invalid gradient at index 1 - got [3, 4] but expected shape
    compatible with [4, 3]

torch raises it inside ``loss.backward()``, but the fix is in the Function's ``backward``: the
finding's line is its ``return`` statement (:class:`~graphscope.model.FunctionSite`, read from
the script), the backward call is ``related``. The hint names forward's inputs, so that the
return gives one gradient per input in order (``None`` for an input that needs none).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphscope.checks import _more_entries
from graphscope.checks.catalogue import Entry, TorchError
from graphscope.model import Events, Finding, FunctionSite, Location

KIND = "custom-function-gradient"

_COUNT = (
    r"[Ff]unction (?P<fn>\w+?)Backward returned an incorrect number of gradients "
    r"\(expected (?P<want>\d+), got (?P<got>\d+)\)"
)
_SHAPE = (
    r"[Ff]unction (?P<fn>\w+?)Backward returned an invalid gradient at index (?P<i>\d+) - got "
    r"(?P<got>\[[^\]]*\]) but expected shape compatible with (?P<want>\[[^\]]*\])"
)
_TYPE = (
    r"[Ff]unction (?P<fn>\w+?)Backward returned an invalid gradient at index (?P<i>\d+) - "
    r"expected (?P<what>dtype|type|device|layout)"
)


def _site(err: TorchError) -> FunctionSite | None:
    site = err.script.site if err.script is not None else None
    fn = err.match["fn"] if err.match else None
    if site is None or fn is None:
        return None
    return next((f for f in site.functions if f.name == fn), None)


def _where(err: TorchError, fs: FunctionSite | None) -> tuple[str | None, int | None, tuple]:  # type: ignore[type-arg]
    if fs is not None and fs.returns:
        raised = Location(err.file, err.line, "backward called here")
        return fs.file, fs.returns[-1], (raised,)
    return err.file, err.line, ()


def _count(events: Events, err: TorchError) -> Iterator[Finding]:
    fs = _site(err)
    m = err.match
    fn = m["fn"] if m else "the Function"
    want, got = (int(m["want"]), int(m["got"])) if m else (0, 0)
    inputs = fs.inputs if fs is not None and len(fs.inputs) == want else ()
    names = f" ({', '.join(inputs)})" if inputs else ""
    ret = f" `{fs.return_text}`" if fs is not None and fs.return_text else ""
    file, line, related = _where(err, fs)
    shape = ", ".join(f"<gradient for {n}>" for n in inputs) if inputs else None
    yield Finding(
        KIND,
        "error",
        f"{fn}.backward returns {got} gradient{'s' if got != 1 else ''}{ret}, but its forward "
        f"takes {want} input{'s' if want != 1 else ''}{names}: backward must return one gradient "
        "per input of forward, in the same order.",
        f"Return {want} values, one per input of forward in order"
        + (f": `return {shape}`" if shape else "")
        + ", with None for an input that needs no gradient (a number, a flag, a tensor that "
        "does not require grad).",
        file,
        line,
        related=related,
    )


def _shape(events: Events, err: TorchError) -> Iterator[Finding]:
    fs = _site(err)
    m = err.match
    fn = m["fn"] if m else "the Function"
    i = int(m["i"]) if m else 0
    name = fs.inputs[i] if fs is not None and i < len(fs.inputs) else f"input {i}"
    got, want = (m["got"], m["want"]) if m else ("?", "?")
    file, line, related = _where(err, fs)
    yield Finding(
        KIND,
        "error",
        f"{fn}.backward returns a gradient of shape {got} for {name} (index {i}), but {name} has "
        f"shape {want}: the gradient for each input must have that input's shape.",
        f"Return, at index {i}, a gradient shaped like {name} {want}: compute it for {name} "
        "(for a matrix product out = a @ b: grad_a = grad @ b.T, grad_b = a.T @ grad), or sum "
        "over the broadcast dimensions.",
        file,
        line,
        related=related,
    )


def _type(events: Events, err: TorchError) -> Iterator[Finding]:
    fs = _site(err)
    m = err.match
    fn = m["fn"] if m else "the Function"
    i = int(m["i"]) if m else 0
    what = m["what"] if m else "dtype"
    name = fs.inputs[i] if fs is not None and i < len(fs.inputs) else f"input {i}"
    file, line, related = _where(err, fs)
    yield Finding(
        KIND,
        "error",
        f"{fn}.backward returns a gradient for {name} (index {i}) of another {what} than "
        f"{name}'s: the gradient for each input must match it.",
        f"Convert it: `grad_{name}.to({name}.{what})` (save {name} or its {what} on ctx in "
        "forward).",
        file,
        line,
        related=related,
    )


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES: tuple[Entry, ...] = (
    Entry(
        KIND,
        (_COUNT,),
        explain=_count,
        example="function MyFnBackward returned an incorrect number of gradients (expected 3, "
        "got 1)",
    ),
    Entry(
        KIND,
        (_SHAPE,),
        explain=_shape,
        example="Function MatmulBackward returned an invalid gradient at index 1 - got [3, 4] but "
        "expected shape compatible with [4, 3]",
    ),
    Entry(
        KIND,
        (_TYPE,),
        explain=_type,
        example="Function MyFnBackward returned an invalid gradient at index 0 - expected dtype "
        "float but got double",
    ),
)

#: more of its messages (graphscope.checks._more_entries)
MESSAGES = (*MESSAGES, *_more_entries.CUSTOM_FUNCTION)
