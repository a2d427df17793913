"""The explorer page: one self-contained HTML file per graph (no server, no network).

The page is a static shell, the vendored svg-pan-zoom, the data (``<script type=
"application/json" id="gs-data">``, see :mod:`graphscope.explorer._data`), one JSON string per
level's SVG (``gs-svg-K``, parsed only when the level is opened) and ``explorer.js``. Inside
every ``<script>`` block ``<``, ``>`` and ``&`` never appear raw in data: JSON escapes them as
``\\u003c``, ``\\u003e``, ``\\u0026``, so no user text can close the block or open a comment.
A Content-Security-Policy allows only the page's own two scripts (by hash) and no network.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from graphscope._version import __version__
from graphscope.errors import RenderError
from graphscope.explorer._data import PROFILE, Tables, node_columns
from graphscope.explorer._level import Level
from graphscope.explorer._memory import memory_data
from graphscope.explorer._place import hierarchy, place_columns
from graphscope.explorer._sources import CONTEXT, graph_findings
from graphscope.explorer._svg import clean_svg
from graphscope.model import AutogradGraph, Finding, sorted_findings

__all__ = ["explorer_page", "script_json"]


def script_json(value: Any) -> str:
    """JSON text safe inside a ``<script>`` block: ``<``, ``>``, ``&``, U+2028/9 escaped.

    >>> script_json({"m": "</script><!--&"})
    '{"m":"\\\\u003c/script\\\\u003e\\\\u003c!--\\\\u0026"}'
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def explorer_page(
    graph: AutogradGraph,
    levels: Sequence[Level],
    *,
    title: str,
    sources: Mapping[str, Mapping[int, str]],
) -> str:
    """The explorer for ``graph``: every level in ``levels`` (``levels[0]`` the overview), its
    findings, and the source lines in ``sources`` (``{file: {line: text}}``)."""
    data = page_data(graph, levels, title=title, sources=sources)
    svgs = [clean_svg(lv.svg, where=f"level {lv.id} ({lv.title})") for lv in levels]
    return _assemble(title, script_json(data), [script_json(s) for s in svgs])


def page_data(
    graph: AutogradGraph,
    levels: Sequence[Level],
    *,
    title: str,
    sources: Mapping[str, Mapping[int, str]],
) -> dict[str, Any]:
    """The JSON-ready data of the page (what ``explorer.js`` reads as ``D``)."""
    index = {n: i for i, n in enumerate(graph.nodes)}
    tables = Tables()
    nodes = node_columns(graph, index, tables)
    out_levels, groups, places = hierarchy(graph, levels, index, tables)
    findings = [_finding(f, index) for f in sorted_findings(list(graph_findings(graph)))]
    return {
        "version": __version__,
        "title": title,
        "meta": {
            "graph": graph.graph.get("id"),
            "calls": list(graph.graph.get("calls") or ()),
            "edges": graph.number_of_edges(),
        },
        "n": len(index),
        "nodes": nodes,
        "profile": list(PROFILE),
        "place": place_columns(places),
        "levels": out_levels,
        "groups": groups,
        "findings": findings,
        "memory": memory_data(graph, index),
        "sources": {
            str(f): {str(k): str(v) for k, v in lines.items()} for f, lines in sources.items()
        },
        "context": CONTEXT,
        "S": tables.strings,
        "V": tables.values,
    }


def _finding(f: Finding, index: Mapping[str, int]) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "severity": f.severity,
        "message": f.message,
        "hint": f.hint,
        "file": f.file,
        "line": f.line,
        "node": index.get(f.node, -1) if f.node is not None else -1,
        "nodes": [index[n] for n in f.marked if n in index],
        "related": [[r.file, r.line, r.what] for r in f.related],
        "badge": f.badge,
    }


@cache
def _asset(name: str) -> str:
    """A package file of the page (static/ or vendor/), as text."""
    try:
        return resources.files("graphscope.explorer").joinpath(name).read_text(encoding="utf-8")
    except OSError as err:
        raise RenderError(
            f"the explorer's {name} is missing from the installed package ({err}); reinstall "
            "graphscope"
        ) from err


def _csp_hash(code: str) -> str:
    digest = hashlib.sha256(code.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


_SHELL = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="generator" content="graphscope {version}">
<title>{title}</title>
<style>{css}</style>
</head><body>
<header id="gs-bar">
<span id="gs-title">{title}</span>
<nav id="gs-crumbs" aria-label="levels"></nav>
<div id="gs-search-box"><input id="gs-search" type="search" autocomplete="off" spellcheck="false"
 placeholder="search names, ops, modules, lines  ( / )" aria-label="search">
<ol id="gs-results" hidden></ol></div>
<label>colour <select id="gs-overlay" aria-label="colour nodes by">
<option value="">by kind</option><option value="grad">gradient norm</option>
<option value="mem">saved memory</option><option value="module">module</option></select></label>
<button id="gs-fit" type="button" title="fit to window (0)">fit</button>
</header>
<main>
<div id="gs-view" tabindex="0" aria-label="graph"></div>
<div id="gs-legend" hidden></div>
<aside id="gs-side"><nav id="gs-tabs" role="tablist"><button type="button" role="tab" data-tab="findings"
 aria-selected="true">findings</button><button type="button" role="tab" data-tab="memory"
 aria-selected="false">memory</button></nav><section id="gs-findings"></section>
<section id="gs-memory" hidden></section><section id="gs-inspector"></section></aside>
</main>
"""


def _assemble(title: str, data: str, svgs: Sequence[str]) -> str:
    vendor = _asset("vendor/svg-pan-zoom.min.js")
    app = _asset("static/explorer.js")
    for name, code in (("svg-pan-zoom", vendor), ("explorer.js", app)):
        if "<script" in code.lower() or "</script" in code.lower() or "<!--" in code:
            raise RenderError(
                f"the explorer's {name} cannot be inlined (it holds <script, </script or <!--)"
            )
    csp = (
        "default-src 'none'; script-src "
        + " ".join((_csp_hash(vendor), _csp_hash(app)))
        + "; style-src 'unsafe-inline'; img-src data:"
    )
    parts = [
        _SHELL.format(
            csp=csp,
            version=html.escape(__version__),
            title=html.escape(title),
            css=_asset("static/explorer.css"),
        ),
        f"<script>{vendor}</script>\n",
        f'<script type="application/json" id="gs-data">{data}</script>\n',
    ]
    parts.extend(
        f'<script type="application/json" id="gs-svg-{k}">{s}</script>\n'
        for k, s in enumerate(svgs)
    )
    parts.append(f"<script>{app}</script>\n</body></html>\n")
    return "".join(parts)
