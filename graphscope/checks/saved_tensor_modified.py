"""saved-tensor-modified: a tensor saved for backward was modified in place afterwards.

Reads the graph: op nodes whose ``saved`` entries have status ``"stale"`` (saved at one version,
now at a later one). ``entry["writes"]`` holds indexes into ``events.inplace`` of the writes that
moved it on; the last one is the line reported. The op that saved the tensor is ``related``.

A write made by an optimizer step between a backward call that kept the graph and a later one
through it (an actor-critic's ``opt_c.step()`` between its two losses' backward calls) is
reported at the ``step()``, with "step after both backward calls" as the fix
(:mod:`graphscope.checks._step_between`).

When that step came between two batches of a recurrent model whose state was carried without
``.detach()`` (the previous batch's graph kept by ``retain_graph=True``), the stale weights have
one cause: one finding at the line that carries the state, naming them, with "detach it" as the
fix (:mod:`graphscope.checks._carried_step`). Seen at the step itself (``--pdb`` traces the graph
there, before the later call), the step's stale weights make one finding too
(:mod:`graphscope.checks._kept_step`).

A write made inside a module (``nn.ReLU(inplace=True)`` after ``nn.Sigmoid()``) is described by
the modules' paths and classes (``model.2`` (ReLU(inplace=True)) wrote over the output of
``model.1`` (Sigmoid)), with ``inplace=False`` as the fix.

An entry marked ``silent`` was written through an alias that does not share the saved tensor's
version counter (``.data``, ``set_``, a NumPy array, a storage): torch raises nothing there and
backward silently computes a wrong gradient. ``entry["exports"]`` points into
``events.exports`` when the write went through a NumPy array or a storage (the write itself is
not seen; the line is where the alias was handed out).

:func:`from_error` explains the error when no stale entry was captured: from a backward call
that raised "modified by an inplace operation" (a repeated graph is not traced again, so its
stale entries are not seen) or from the script's own exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphscope.checks._carried_step import Carried, carried_finding, carried_step
from graphscope.checks._kept_step import KeptStep, kept_finding, kept_step
from graphscope.checks._rewrite import out_of_place, source_line
from graphscope.checks._step_between import step_between
from graphscope.checks.catalogue import Entry
from graphscope.model import (
    SAVED_STALE,
    AliasExport,
    AutogradGraph,
    Events,
    Finding,
    InplaceWrite,
    Location,
)

KIND = "saved-tensor-modified"

MARK = "modified by an inplace operation"
_VERSIONS = re.compile(r"is at version (?P<cur>\d+); expected version (?P<exp>\d+) instead")
HINT = (
    "Do not change a tensor in place after using it: write `{t} = {t} + 1` (a new tensor) instead "
    "of `{t}.add_(1)`, or make the change before the operation that uses it."
)


def _constructor_line(write: InplaceWrite) -> int | None:
    """The line of ``ReLU(inplace=True)`` in the statement that made the module: the statement's
    first line, or a later line of it (``nn.Sequential(`` over several lines)."""
    line = write.module_line
    cls = (write.module_text or "").split("(")[0]
    if line is None or not cls:
        return line
    for k in range(line, line + 12):  # a multi-line constructor call
        text = source_line(write.module_file, k)
        if f"{cls}(inplace=True)" in text:
            return k
        if k > line and not text.strip():
            break
    return line


def _hint(t: str, write: InplaceWrite | None) -> str:
    """The generic hint, in the user's own operation: ``write `h = h * 2` (a new tensor) instead
    of `h.mul_(2)```."""
    if write is None:
        return HINT.format(t=t)
    before, after = out_of_place(t, write.api, source_line(write.file, write.line))
    return (
        f"Do not change a tensor in place after using it: write `{after}` (a new tensor) instead "
        f"of `{before}`, or make the change before the operation that uses it."
    )


def check(graph: AutogradGraph, events: Events) -> Iterator[Finding]:
    """One finding per stale saved tensor of an op node; one for all the parameters an
    optimizer step updated under a recurrent model's kept graph (:mod:`._carried_step`), or
    under a kept graph no backward call went through again yet (:mod:`._kept_step`)."""
    writes = {w.index: w for w in events.inplace}
    exports = {x.index: x for x in events.exports}
    gid = graph.graph.get("id")
    grouped: dict[Carried | KeptStep, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {}
    for node in graph.op_nodes():
        d = graph.nodes[node]
        for entry in d.get("saved") or ():
            if entry.get("status") != SAVED_STALE:
                continue
            culprits = [writes[i] for i in entry.get("writes") or () if i in writes]
            if entry.get("silent"):
                via = [exports[i] for i in entry.get("exports") or () if i in exports]
                yield _silent(graph, node, d, entry, culprits[-1] if culprits else None, via, gid)
                continue
            last = culprits[-1] if culprits else None
            cause = carried_step(graph, last, events) or kept_step(graph, last, events)
            if cause is not None:
                grouped.setdefault(cause, []).append((node, d, entry))
                continue
            by_step = step_between(graph, node, d, entry, last, events)
            yield by_step or _finding(graph, node, d, entry, last, gid)
    for cause, stale in grouped.items():
        if isinstance(cause, Carried):
            yield carried_finding(graph, cause, stale)
        else:
            yield kept_finding(graph, cause, stale)


def from_error(events: Events) -> Iterator[Finding]:
    """Findings for 'modified by an inplace operation' errors no stale entry explained."""
    sources: list[tuple[str, str | None, int | None]] = [
        (c.error, c.file, c.line) for c in events.backward if c.error and MARK in c.error
    ]
    if events.error is not None and MARK in events.error.message:
        sources.append((events.error.message, events.error.file, events.error.line))
    seen: set[tuple[Any, ...]] = set()
    for text, file, line in sources:
        f = _from_text(text, file, line, events.inplace)
        if f.key() not in seen:
            seen.add(f.key())
            yield f


def _finding(
    graph: AutogradGraph,
    node: str,
    d: dict[str, Any],
    entry: dict[str, Any],
    write: InplaceWrite | None,
    gid: str | None,
) -> Finding:
    tensor = entry.get("tensor_name") or (write.name if write is not None else None)
    if not tensor and entry.get("tensor") in graph:
        tensor = graph.nodes[entry["tensor"]].get("name")
    who = _op_text(d)
    saved, now = entry.get("version_saved"), entry.get("version_now")
    versions = (
        f" (saved at version {saved}, now {now})" if saved is not None and now is not None else ""
    )
    what = tensor or f"the input `{entry.get('name')}`"
    hint = _hint(tensor or "x", write)
    extra: list[Location] = []
    if write is not None and write.module_text:
        message, hint = _module_message(graph, d, entry, write, versions)
        file, line = write.file, write.line
        if write.module_line is not None:  # the fix goes where the module is made
            file, line = write.module_file, _constructor_line(write)
            extra.append(Location(write.file, write.line, "the module wrote in place here"))
    elif write is not None:
        where = f" at line {write.line}" if write.line is not None else ""
        message = (
            f"{what} was modified in place by {write.api}(){where} after {who} saved it for "
            f"backward{versions}, so backward would use a value the forward pass never saw."
        )
        file, line = write.file, write.line
    else:
        message = (
            f"{what} was modified in place after {who} saved it for backward{versions}, so backward "
            "would use a value the forward pass never saw."
        )
        file, line = d.get("file"), d.get("line")
    badge = (
        f"saved v{saved}, now v{now}"
        if saved is not None and now is not None
        else "saved value changed"
    )
    if write is not None and write.line is not None:
        badge += f" ← line {write.line}"
    related: tuple[Location, ...] = tuple(extra)
    if d.get("line") is not None:
        related += (
            Location(d.get("file"), d.get("line"), f"saved by {d.get('label') or d.get('name')}"),
        )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=hint,
        file=file,
        line=line,
        node=node,
        graph=gid,
        related=related,
        badge=badge,
    )


def _module_message(
    graph: AutogradGraph,
    d: dict[str, Any],
    entry: dict[str, Any],
    write: InplaceWrite,
    versions: str,
) -> tuple[str, str]:
    """Message and hint for a write made by a module's forward (``nn.ReLU(inplace=True)``)."""
    writer = (
        f"`{graph.spelled(write.module)}` ({write.module_text})"
        if write.module
        else write.module_text
    )
    saver_op = d.get("op") or d.get("label") or "the operation before it"
    if write.producer_module:
        saver = f"`{graph.spelled(write.producer_module)}`"
        saver += f" ({write.producer_text})" if write.producer_text else ""
        what = f"the output of {saver}"
    else:
        saver = f"{saver_op}()"
        what = f"the tensor `{entry.get('name')}` that {saver} saved"
    where = f" at line {write.line}" if write.line is not None else ""
    message = (
        f"{writer} overwrote {what} in place{where}, but {saver} needs that output for its "
        f"backward{versions}: backward would use values the forward pass never produced."
    )
    cls = (write.module_text or "").split("(")[0] or "the module"
    at = _constructor_line(write)
    made = source_line(write.module_file, at).strip()
    if f"{cls}(inplace=True)" in made:  # the constructor as the user wrote it, made out of place
        fixed = made.replace(f"{cls}(inplace=True)", f"{cls}()").rstrip(",")
        hint = (
            f"Make {writer} out of place: write `{fixed}` at line {at} (nn.{cls}() "
            "is out of place by default): an in-place layer may only follow one that does not "
            "need its own output for backward."
        )
    else:
        hint = (
            f"Create {writer} with inplace=False (nn.{cls}() is out of place by default): an "
            "in-place layer may only follow one that does not need its own output for backward."
        )
    return message, hint


def _silent(
    graph: AutogradGraph,
    node: str,
    d: dict[str, Any],
    entry: dict[str, Any],
    write: InplaceWrite | None,
    via: list[AliasExport],
    gid: str | None,
) -> Finding:
    """A saved tensor changed through an alias torch does not track: no error, wrong gradient."""
    tensor = _saved_tensor_name(graph, node, entry)
    what = (
        f"{tensor}, which {_op_text(d)} saved for backward,"
        if tensor
        else (f"the tensor `{entry.get('name')}` that {_op_text(d)} saved for backward")
    )
    how, file, line = _silent_how(what, d, write, via)
    message = (
        f"{how}: torch will not warn, and backward silently computes the gradient from the "
        "changed values."
    )
    related: tuple[Location, ...] = ()
    if d.get("line") is not None:
        related = (
            Location(d.get("file"), d.get("line"), f"saved by {d.get('label') or d.get('name')}"),
        )
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=_silent_hint(graph, tensor),
        file=file,
        line=line,
        node=node,
        graph=gid,
        related=related,
        badge=f"saved value changed silently ← line {line}"
        if line is not None
        else "saved value changed silently",
    )


def _saved_tensor_name(graph: AutogradGraph, node: str, entry: dict[str, Any]) -> str | None:
    """The user's name of the saved tensor: recorded, its tensor node's, or the op's output's."""
    tensor = entry.get("tensor_name")
    if not tensor and entry.get("tensor") in graph:
        tensor = graph.nodes[entry["tensor"]].get("name")
    if not tensor and entry.get("name") == "result":  # the op's own output: the tensor after it
        outs = [graph.nodes[s].get("name") for s in graph.successors(node)]
        tensor = next((n for n in outs if n), None)
    return tensor


def _silent_how(
    what: str, d: dict[str, Any], write: InplaceWrite | None, via: list[AliasExport]
) -> tuple[str, str | None, int | None]:
    """How the saved value changed (a .data/set_ write, a NumPy or storage alias), and where."""
    if write is not None:
        how = (
            f"{write.api}() at line {write.line} wrote into {what} through an alias with a "
            "version counter of its own (.data, set_(), a view of its storage)"
        )
        return how, write.file, write.line
    if via:
        x = via[-1]
        alias = "the NumPy array" if x.api == "numpy" else "the storage"
        how = (
            f"{what} was changed through {alias} that .{x.api}() handed out at line {x.line}, "
            "whose writes no version counter sees"
        )
        return how, x.file, x.line
    return (
        f"{what} was changed through an alias that autograd does not track",
        d.get("file"),
        d.get("line"),
    )


def _silent_hint(graph: AutogradGraph, tensor: str | None) -> str:
    """A parameter is changed after the step; anything else out of place."""
    t = tensor or "x"
    node_of = graph.by_name(t) if tensor else None
    if node_of is not None and graph.nodes[node_of].get("role") == "param":
        return (
            f"Change the parameter {t} only after backward() and optimizer.step() (e.g. a "
            "max-norm or clipping constraint: `with torch.no_grad(): p.clamp_(-c, c)` after the "
            "step), never between the forward pass and backward()."
        )
    return (
        f"Do not write into {t} (through .data, NumPy or its storage) between the forward "
        f"pass and backward(): change it out of place (`{t} = {t}.clamp(...)`, a new "
        "tensor)."
    )


def _op_text(d: dict[str, Any]) -> str:
    """``torch.mul at line 22`` / ``MulBackward0``: how to name the op that saved the tensor."""
    at = f" at line {d['line']}" if d.get("line") is not None else ""
    if d.get("op"):
        return f"{d['op']}{at}"
    return f"{d.get('label') or d.get('name') or 'an operation'}{at}"


def _from_text(
    text: str, file: str | None, line: int | None, inplace: list[InplaceWrite]
) -> Finding:
    m = _VERSIONS.search(text)
    versions = ""
    write = None
    related: tuple[Location, ...] = ()
    if m:
        cur, exp = int(m["cur"]), int(m["exp"])
        versions = f" (saved at version {exp}, now {cur})"
        # the write is known only when exactly one recorded write fits the versions
        fits = [
            w
            for w in inplace
            if w.version_before == cur - 1 and w.version_after == cur and cur > exp
        ]
        if len(fits) == 1:
            write = fits[0]
    if write is not None:
        name = write.name or "a tensor"
        message = (
            f"{name} was modified in place by {write.api}() after an operation saved it for "
            f"backward{versions}, so backward cannot compute the gradient."
        )
        related = (Location(file, line, "backward raised here"),)
        file, line = write.file, write.line
        hint = _hint(write.name or "x", write)
    else:
        message = (
            f"A tensor needed by backward was modified in place after it was saved{versions}, so "
            "backward cannot compute the gradient."
        )
        hint = HINT.format(t="x")
    return Finding(
        kind=KIND,
        severity="error",
        message=message,
        hint=hint,
        file=file,
        line=line,
        related=related,
    )


#: torch's messages this kind explains (see :mod:`graphscope.checks.catalogue`)
MESSAGES = (
    Entry(
        KIND,
        (r"modified by an inplace operation",),
        explain=lambda events, err: from_error(events),
        example="one of the variables needed for gradient computation has been modified by an inplace operation: [torch.FloatTensor [3]] is at version 1; expected version 0 instead.",
        caught=True,
    ),
)
