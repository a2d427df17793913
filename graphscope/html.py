"""The HTML page of a graph: its picture beside the findings and a node inspector (no network)."""

from __future__ import annotations

import html as _html
import json
from collections.abc import Mapping
from typing import Any

from graphscope.model import AutogradGraph, short_path, sorted_findings

__all__ = ["html_page"]

_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:Cousine,Menlo,monospace;margin:0;display:flex;height:100vh}}
#graph{{flex:3;overflow:auto;border-right:1px solid #ddd}} #side{{flex:1;padding:1em;overflow:auto;font-size:13px}}
.error{{color:#d32f2f}} .warning{{color:#e65100}} .info{{color:#1565c0}} pre{{white-space:pre-wrap}}
g.node{{cursor:pointer}}
</style></head><body>
<div id="graph">{svg}</div>
<div id="side"><h3>{title}</h3><h4>findings</h4><ul>{findings}</ul>
<h4>node</h4><pre id="detail">click a node</pre></div>
<script id="gs-data" type="application/json">{data}</script>
<script>
const data = JSON.parse(document.getElementById('gs-data').textContent);
const byId = {{}}; for (const n of data.nodes) byId[n.id] = n;
const ids = data.dot_ids || {{}};  // DOT name (the SVG title) -> node id
for (const g of document.querySelectorAll('g.node')) {{
  g.addEventListener('click', () => {{
    const t = g.querySelector('title').textContent;
    const n = byId[ids[t] || t];
    document.getElementById('detail').textContent = n ? JSON.stringify(n, null, 1) : '';
  }});
}}
</script></body></html>
"""


def html_page(
    graph: AutogradGraph, svg: str, *, title: str, dot_ids: Mapping[str, str] | None = None
) -> str:
    """A self-contained page: the SVG, the findings and a node inspector (no network).
    ``dot_ids``: node id -> its DOT name (the SVG's ``<title>``), where they differ."""
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    items = (
        "".join(
            f'<li class="{f.severity}">{_html.escape(f.kind)} '
            f"{_html.escape(short_path(f.file, base_only=True))}:{f.line}: {_html.escape(f.message)}</li>"
            for f in sorted_findings(list(graph.findings))
        )
        or "<li>none</li>"
    )
    payload: dict[str, Any] = dict(graph.to_data())
    payload["dot_ids"] = {d: n for n, d in (dot_ids or {}).items() if d != n}
    data = json.dumps(payload, sort_keys=True)
    data = script_json(data)
    return _HTML.format(title=_html.escape(title), svg=svg, findings=items, data=data)


def script_json(text: str) -> str:
    """JSON text made inert inside an HTML ``<script>`` block: ``<``, ``>`` and ``&`` (and the
    two line separators JavaScript rejects) as ``\\u`` escapes, which JSON reads back as the same
    characters."""
    for ch in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text
