"""Translate an :class:`AutogradGraph` into DOT and lay it out: SVG, PNG, PDF, DOT, JSON or HTML.

The only room that imports graphviz. Styling is :mod:`graphscope.style`'s; this module builds
the DOT text (byte-identical for the same graph) and runs a layout engine:

* ``dot``: the system Graphviz, when ``dot`` is on PATH;
* ``embedded``: ``graphviz-pure`` (PyPI), a Rust port of Graphviz with dot's flags, installed
  with graphscope, so a plain ``pip install`` renders without system packages.

``engine="auto"`` takes the system ``dot`` when present, else the embedded one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import graphviz

from graphscope import style
from graphscope.errors import RenderError, UsageError
from graphscope.model import (
    FORMATS,
    GROUP,
    OP,
    ROLE_PARAM,
    SAVED_STALE,
    TENSOR,
    AutogradGraph,
    Finding,
    Options,
    iter_findings_for,
    sorted_findings,
)

__all__ = ["to_dot", "render_graph", "render", "find_engine", "Engine", "Rendered", "layout"]

LAYOUT_TIMEOUT = 600  # seconds; a collapsed graph lays out in well under one
_EMBEDDED = "graphviz-pure"


@dataclass(frozen=True)
class Engine:
    """A layout program: ``name`` is ``dot`` or ``embedded``; ``path`` the executable."""

    name: str
    path: str
    formats: tuple[str, ...]


@dataclass
class Rendered:
    """What :func:`render_graph` wrote."""

    path: Path
    engine: str | None  # None for dot/json output (no layout ran)
    nodes: int  # nodes drawn (after collapsing)
    collapsed: bool = False
    extra: list[Path] = field(default_factory=list)  # drill-down files


def _embedded_path() -> str | None:
    found = shutil.which(_EMBEDDED)
    if found:
        return found
    # installed into the same environment as we are, but that bin/ may not be on PATH
    for d in (
        os.path.dirname(sys.executable),
        os.path.join(sys.prefix, "bin"),
        os.path.join(sys.prefix, "Scripts"),
    ):
        for name in (_EMBEDDED, _EMBEDDED + ".exe"):
            p = os.path.join(d, name)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    return None


def find_engine(name: str = "auto") -> Engine:
    """The layout engine to use: ``auto``, ``dot`` or ``embedded``."""
    if name not in ("auto", "dot", "embedded"):
        raise UsageError(f"--engine must be auto, dot or embedded (got {name!r})")
    if name in ("auto", "dot"):
        dot = shutil.which("dot")
        if dot:
            return Engine("dot", dot, ("svg", "png", "pdf"))
        if name == "dot":
            raise RenderError(
                "--engine dot: the Graphviz 'dot' program is not on PATH. Install Graphviz "
                "(apt-get install graphviz, brew install graphviz) or use --engine embedded."
            )
    path = _embedded_path()
    if path is None:
        raise RenderError(
            "no layout engine: neither Graphviz 'dot' nor the embedded 'graphviz-pure' was found. "
            "Reinstall graphscope (pip install graphscope installs graphviz-pure) or install Graphviz."
        )
    return Engine("embedded", path, ("svg", "png", "pdf"))


# -- DOT ----------------------------------------------------------------------------------------


def _prepare(graph: AutogradGraph, options: Options) -> tuple[AutogradGraph, bool]:
    """The graph to draw: collapsed when over budget or when depth/expand ask for it."""
    if len(graph) <= options.max_nodes and options.depth is None and not options.expand:
        return graph, False
    from graphscope.collapse import collapse  # only needed for big graphs

    return collapse(
        graph, max_nodes=options.max_nodes, depth=options.depth, expand=options.expand
    ), True


def to_dot(graph: AutogradGraph, options: Options | None = None) -> str:
    """DOT text for ``graph`` (already collapsed, if it needed to be). Byte-identical per graph."""
    options = options or Options()
    dot = graphviz.Digraph(
        name="autograd",
        graph_attr=style.graph_attrs(options),
        node_attr=style.default_node_attrs(),
        edge_attr=style.default_edge_attrs(),
    )
    stale_tensors: set[str] = set()
    for n, d in graph.nodes(data=True):
        for s in d.get("saved") or ():
            if s.get("status") == SAVED_STALE and s.get("tensor"):
                stale_tensors.add(s["tensor"])
                stale_tensors.add(f"{s['tensor']}->{n}")
    tree = _module_tree(graph) if options.show_modules else None
    placed: set[str] = set()
    if tree:
        _emit_clusters(dot, graph, options, tree, "", placed)
    for n, d in graph.nodes(data=True):
        if n not in placed:
            dot.node(_dot_id(n), **style.node_style(d, options, list(iter_findings_for(graph, n))))
    for u, v, d in graph.edges(data=True):
        dot.edge(_dot_id(u), _dot_id(v), **style.edge_style(d, stale=f"{u}->{v}" in stale_tensors))
    if options.show_legend and len(graph):
        keys = style.legend_keys(d for _, d in graph.nodes(data=True)) | style.finding_keys(
            graph.findings
        )
        legend = style.legend_node(keys)
        if legend is not None:
            dot.node("legend_table", **legend)
    return dot.source


MAX_CLUSTERS = 60  # more module boxes than this make the layout slow and the picture busy


def _module_tree(graph: AutogradGraph) -> dict[str, list[str]] | None:
    """``{module path: [node ids directly in it]}`` plus every ancestor path (empty lists), in
    order of first appearance; None when there is nothing (or too much) to group."""
    members: dict[str, list[str]] = {}
    for n, d in graph.nodes(data=True):
        kind = d.get("kind")
        if kind == OP or (kind == TENSOR and d.get("role") == ROLE_PARAM):
            mod = d.get("module")
            if mod:
                members.setdefault(str(mod), []).append(n)
    if not members:
        return None
    tree: dict[str, list[str]] = {}
    for path in members:
        parts = path.split(".")
        for i in range(1, len(parts)):
            tree.setdefault(".".join(parts[:i]), [])
        tree.setdefault(path, [])
    for path, nodes in members.items():
        tree[path].extend(nodes)
    if len(tree) > MAX_CLUSTERS:
        return None
    return tree


def _emit_clusters(
    dot: Any,
    graph: AutogradGraph,
    options: Options,
    tree: dict[str, list[str]],
    parent: str,
    placed: set[str],
) -> None:
    """Nested ``cluster_`` subgraphs for the module paths under ``parent``."""
    depth = parent.count(".") + 1 if parent else 0
    children = [
        p for p in tree if (p.count(".") == depth) and (not parent or p.startswith(parent + "."))
    ]
    for path in children:
        with dot.subgraph(name="cluster_" + _dot_id(path)) as sub:
            sub.attr(
                label=style.esc(path.rpartition(".")[2] if parent else path),
                **style.cluster_attrs(),
            )
            for n in tree[path]:
                d = graph.nodes[n]
                sub.node(
                    _dot_id(n), **style.node_style(d, options, list(iter_findings_for(graph, n)))
                )
                placed.add(n)
            _emit_clusters(sub, graph, options, tree, path, placed)


def _dot_id(node: str) -> str:
    """A node id DOT reads as one name: ``a:b`` in an edge would mean node ``a``, port ``b``."""
    return node.replace(":", "__")


# -- layout ---------------------------------------------------------------------------------------


def layout(source: str, fmt: str, engine: Engine) -> bytes:
    """Run ``engine`` on DOT ``source`` and return the ``fmt`` output (svg, png or pdf)."""
    if fmt == "pdf" and engine.name == "embedded":
        from graphscope.pdf import svg_to_pdf  # optional extra, loaded only for a PDF

        return svg_to_pdf(layout(source, "svg", engine))
    try:
        proc = subprocess.run(
            [engine.path, f"-T{fmt}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=LAYOUT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise RenderError(
            f"the {engine.name} layout did not finish in {LAYOUT_TIMEOUT} s; lower --max-nodes "
            "or use --depth to collapse more"
        ) from err
    except OSError as err:
        raise RenderError(
            f"could not run the {engine.name} layout engine ({engine.path}): {err}"
        ) from err
    if proc.returncode != 0 or not proc.stdout:
        errors = [
            ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if not _harmless(ln)
        ]
        detail = "; ".join(errors[:3]) or f"exit status {proc.returncode}"
        raise RenderError(f"the {engine.name} layout engine failed: {detail}")
    return proc.stdout


def _harmless(line: str) -> bool:
    # graphviz-pure measures non-ASCII glyphs with the space's width: exact for monospaced Cousine
    return "no value for width of non-ASCII character" in line or not line.strip()


# -- files ------------------------------------------------------------------------------------------


def _with_suffix(path: Path, fmt: str) -> Path:
    suffix = ".gv" if fmt == "dot" else f".{fmt}"
    if path.suffix.lower() in {f".{f}" for f in FORMATS} | {".gv"}:
        return path
    return path.with_name(path.name + suffix)


def render_graph(
    graph: AutogradGraph,
    path: str | os.PathLike[str],
    options: Options | None = None,
    *,
    engine: Engine | None = None,
) -> Rendered:
    """Write ``graph`` to ``path`` in ``options.format``; returns what was written and how."""
    options = options or Options()
    out = _with_suffix(Path(path), options.format)
    fmt = options.format
    if fmt == "json":
        _write(out, json.dumps(graph.to_data(), indent=1, sort_keys=True).encode("utf-8"))
        return Rendered(out, None, len(graph))
    shown, collapsed = _prepare(graph, options)
    extra: list[Path] = []
    if collapsed:
        shown, extra = _drilldown(graph, shown, out, options, engine)
    source = to_dot(shown, options)
    if fmt == "dot":
        _write(out, source.encode("utf-8"))
        return Rendered(out, None, len(shown), collapsed, extra)
    engine = engine or find_engine(options.engine)
    if fmt == "html":
        svg = layout(source, "svg", engine)
        _write(out, html_page(shown, svg.decode("utf-8"), title=out.stem).encode("utf-8"))
        return Rendered(out, engine.name, len(shown), collapsed, extra)
    _write(out, layout(source, fmt, engine))
    return Rendered(out, engine.name, len(shown), collapsed, extra)


def _drilldown(
    graph: AutogradGraph, shown: AutogradGraph, out: Path, options: Options, engine: Engine | None
) -> tuple[AutogradGraph, list[Path]]:
    """Write one file per collapsed group (linked from the overview); returns the overview."""
    from graphscope.collapse import plan_drilldown

    if options.format not in ("svg", "html", "dot"):
        return shown, []
    plans = plan_drilldown(graph, shown)
    shown = shown.copy()
    shown.findings = tuple(getattr(shown, "findings", ()))
    written: list[Path] = []
    sub_options = replace(options, depth=None, expand=(), show_legend=False)
    for gid, sub in plans.items():
        if shown.nodes[gid].get("kind") != GROUP:
            continue
        safe = "".join(
            c if c.isalnum() or c in "._-" else "_"
            for c in str(shown.nodes[gid].get("name") or gid)
        )
        target = out.with_name(f"{out.stem}.{safe}{out.suffix}")
        shown.nodes[gid]["link"] = target.name
        written.append(render_graph(sub, target, sub_options, engine=engine).path)
    return shown, written


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise RenderError(f"cannot write {path}: {err.strerror or err}") from err


# -- HTML viewer --------------------------------------------------------------------------------

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
for (const g of document.querySelectorAll('g.node')) {{
  g.addEventListener('click', () => {{
    const n = byId[g.querySelector('title').textContent];
    document.getElementById('detail').textContent = n ? JSON.stringify(n, null, 1) : '';
  }});
}}
</script></body></html>
"""


def html_page(graph: AutogradGraph, svg: str, *, title: str) -> str:
    """A self-contained page: the SVG, the findings and a node inspector (no network)."""
    import html as _html

    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    items = (
        "".join(
            f'<li class="{f.severity}">{_html.escape(f.kind)} '
            f"{_html.escape(os.path.basename(f.file or '?'))}:{f.line}: {_html.escape(f.message)}</li>"
            for f in sorted_findings(list(graph.findings))
        )
        or "<li>none</li>"
    )
    data = json.dumps(graph.to_data(), sort_keys=True)
    data = data.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return _HTML.format(title=_html.escape(title), svg=svg, findings=items, data=data)


# -- the public entry point ---------------------------------------------------------------------


def render(
    graph_or_roots: AutogradGraph | Any,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    engine: str = "auto",
    params: Any = None,
    names: dict[str, Any] | None = None,
    findings: Iterable[Finding] = (),
    **options: Any,
) -> Path:
    """Draw an autograd graph to ``path``: ``graphscope.render(loss, "loss.svg")``.

    ``graph_or_roots`` is an :class:`AutogradGraph` or one tensor / a sequence of tensors (traced
    here, named after your variables; ``params=model`` names the parameters). ``format`` defaults
    to the path's suffix, else svg. Other keywords are :class:`~graphscope.model.Options` fields
    (``depth=2``, ``expand=["encoder.layers.0"]``, ``show_attrs=True``, ``max_nodes=500``).
    Returns the path written.
    """
    p = Path(path)
    if format is None:
        suffix = p.suffix.lower().lstrip(".")
        format = "dot" if suffix == "gv" else suffix if suffix in FORMATS else "svg"
    if "expand" in options:
        options["expand"] = tuple(options["expand"])
    try:
        opts = Options(format=format, engine=engine, **options)
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from err
    if isinstance(graph_or_roots, AutogradGraph):
        graph = graph_or_roots
    else:
        from graphscope.trace import trace

        roots: Sequence[Any] = (
            graph_or_roots if isinstance(graph_or_roots, (list, tuple)) else (graph_or_roots,)
        )
        graph = trace(*roots, params=params, names=names)
    findings = tuple(findings)
    if findings:
        graph = graph.with_findings(findings)
    return render_graph(graph, p, opts).path


def _repr_svg_(self: AutogradGraph) -> str:
    """Jupyter shows an AutogradGraph as its picture."""
    opts = Options(show_legend=False)
    shown, _ = _prepare(self, opts)
    return layout(to_dot(shown, opts), "svg", find_engine("auto")).decode("utf-8")


AutogradGraph._repr_svg_ = _repr_svg_  # type: ignore[attr-defined]
