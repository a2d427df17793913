"""Small pieces the checks share. Imports only the vocabulary."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from graphscope.model import AutogradGraph, Events, Finding

_INDEXED = re.compile(r"""\[(['"]?)([^\]'"]*)\1\]""")  # [2], ['aux'] -> .2, .aux


def error_finding(
    events: Events, kind: str, mark: str, message: str, hint: str
) -> Iterator[Finding]:
    """The finding for the script's own exception when its message holds ``mark``."""
    err = events.error
    if err is None or mark not in err.message:
        return
    yield Finding(
        kind=kind, severity="error", message=message, hint=hint, file=err.file, line=err.line
    )


def ddp_error(events: Events, mark: str) -> str | None:
    """The text of DDP's error holding ``mark``: the script's exception (whole message) or, when
    the script caught it, the failed backward call's first line; ``None`` when neither holds it."""
    if events.error is not None and mark in events.error.message:
        return events.error.message
    for c in events.backward:
        if c.error is not None and mark in c.error:
            return c.error
    return None


def natural(names: Iterable[str]) -> list[str]:
    """``names`` sorted as people count: ``layer.2`` before ``layer.10``."""
    return sorted(
        names, key=lambda n: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", n)]
    )


def listed(names: Iterable[str], shown: int = 6) -> str:
    """``a, b, c`` for a few names; the first ones, ``…`` and how many for many."""
    ns = natural(names)
    if len(ns) <= shown:
        return ", ".join(ns)
    return ", ".join(ns[: shown - 1]) + f", …, {ns[-1]} ({len(ns)} in all)"


def optimizer_text(name: str | None, cls: str) -> str:
    """How a message names an optimizer: the user's variable (``opt``, ``self.optimizer``,
    ``optimizers[0]``), else, in prose, its class (``the Adam optimizer``: no variable that
    would not run)."""
    return name if name else f"the {cls} optimizer"


def optimizer_call(name: str | None, cls: str, method: str = "step", *, start: bool = False) -> str:
    """``opt.step()`` for an optimizer the user's code names; else, in prose, ``the Adam
    optimizer's step()`` (``The ...`` at the ``start`` of a sentence).

    >>> optimizer_call("opt_d", "Adam", "zero_grad"), optimizer_call(None, "SGD")
    ('opt_d.zero_grad()', "the SGD optimizer's step()")
    """
    if name:
        return f"{name}.{method}()"
    text = f"the {cls} optimizer's {method}()"
    return text[0].upper() + text[1:] if start else text


def module_text(graph: AutogradGraph, node: str) -> str | None:
    """The module of a parameter node as the user writes it: its spelled name without the
    parameter's own attribute (``model.heads['aux']`` for ``model.heads['aux'].weight``: the
    names resolver knew the ModuleDict even when the graph's module table, which lists the
    modules its ops ran in, does not), else the graph's spelling of its module path."""
    d = graph.nodes[node]
    path = d.get("module")
    if not path:
        return None
    head, _, attr = str(d.get("name") or "").rpartition(".")
    if head and attr.isidentifier() and _INDEXED.sub(r".\2", head) == path:
        return head
    return graph.spelled(str(path))


def root_module(graph: AutogradGraph, path: str) -> str:
    """The module the user's code holds that module path ``path`` lies in, as the user writes
    it: the shortest prefix of ``path`` the graph knows as a module (``gan.G`` for
    ``gan.G.0``: ``gan`` is the object holding it, not a module), else its first segment."""
    parts = path.split(".")
    for k in range(1, len(parts) + 1):
        prefix = ".".join(parts[:k])
        if graph.module_class(prefix) is not None:
            return graph.spelled(prefix)
    return parts[0]
