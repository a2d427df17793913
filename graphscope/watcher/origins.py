"""Named tensors that are not the leaves their user thinks: :class:`~graphscope.model.MadeFromLeaf`.

``W = torch.randn(3, 1, requires_grad=True) * 0.01`` binds ``W`` to the product: the leaf that
gets the gradient is the unnamed ``randn`` tensor, and ``W.grad`` stays None. In a new capture,
a named non-leaf tensor whose producing op, and the ops of the same source line before it, take
only unnamed leaves that require grad is one of those; its line and source text (for the hint)
are recorded.
"""

from __future__ import annotations

import linecache

from graphscope.model import OP, ROLE_NAMED, TENSOR, AutogradGraph, MadeFromLeaf

__all__ = ["made_from_leaf"]


def made_from_leaf(graph: AutogradGraph) -> list[MadeFromLeaf]:
    """The named tensors of ``graph`` made on one line from unnamed leaves that require grad."""
    out = []
    for node, d in graph.nodes(data=True):
        if d.get("kind") != TENSOR or d.get("role") != ROLE_NAMED or not d.get("name"):
            continue
        makers = [p for p in graph.predecessors(node) if graph.nodes[p].get("kind") == OP]
        if len(makers) != 1:
            continue
        op = graph.nodes[makers[0]]
        file, line = op.get("file"), op.get("line")
        if line is None or not _only_unnamed_leaves(graph, makers[0], (file, line)):
            continue
        text = linecache.getline(file, line).strip() if file else ""
        out.append(MadeFromLeaf(str(d["name"]), file, line, op.get("op"), text or None))
    return out


def _only_unnamed_leaves(graph: AutogradGraph, start: str, site: tuple[object, object]) -> bool:
    """Do the ops of ``site`` from ``start`` upwards take unnamed leaves that require grad, and
    no other tensor of the graph?"""
    stack, seen, found = [start], {start}, False
    while stack:
        for p in graph.predecessors(stack.pop()):
            d = graph.nodes[p]
            if d.get("kind") == OP:
                if (d.get("file"), d.get("line")) != site:
                    return False
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
            elif d.get("is_leaf") and d.get("requires_grad") and not d.get("name"):
                found = True
            else:
                return False
    return found
