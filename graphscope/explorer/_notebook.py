"""The explorer inside a notebook: an ``<iframe srcdoc>`` per graph, and a text repr of a scope.

The page runs in its own sandboxed frame (``allow-scripts`` only), so its script, style and
ids stay apart from the notebook's; front-ends that strip scripts fall back to ``_repr_svg_``.
"""

from __future__ import annotations

import html
from typing import Any

from graphscope.model import AutogradGraph

FRAME_HEIGHT = 640  # pixels


def notebook_html(
    page: str, *, height: int = FRAME_HEIGHT, title: str = "graphscope explorer"
) -> str:
    """``page`` (a whole explorer page) as HTML for a notebook cell: a sandboxed iframe."""
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" sandbox="allow-scripts" '
        f'title="{html.escape(title, quote=True)}" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #d5d9e0"></iframe>'
    )


def graph_repr_html(graph: AutogradGraph) -> str:
    """``AutogradGraph._repr_html_``: the graph's explorer, inline."""
    from graphscope.explorer._levels import html_page  # lays out: needs the drawing code

    gid = graph.graph.get("id")
    page, _ = html_page(graph, title=f"graph {gid}" if gid else "autograd graph")
    return notebook_html(page)


def scope_repr_html(scope: Any) -> str:
    """``Scope._repr_html_``: its report, then one explorer per distinct graph."""
    parts = [f"<pre>{html.escape(scope.report())}</pre>"]
    for g in scope.graphs():
        parts.append(graph_repr_html(g))
    return "\n".join(parts)
