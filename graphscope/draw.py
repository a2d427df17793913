"""Drawing a graph into files: the overview and its drill-downs, in any format.

:func:`render_graph` decides which pictures a graph becomes (a graph over the budget is
collapsed, :mod:`graphscope.overview`, and each group gets a drill-down file linked from the
overview), translates each into DOT (:mod:`graphscope.dot`), lays it out
(:mod:`graphscope.layout`) and writes the files. :func:`render` is the public entry point:
``graphscope.render(loss, "loss.svg")``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from graphscope.dot import dot_id, to_dot
from graphscope.errors import RenderError, UsageError
from graphscope.layout import Engine, find_engine, layout
from graphscope.model import GROUP, AutogradGraph, Finding
from graphscope.options import FORMATS, Options

__all__ = ["render", "render_graph", "Rendered", "shown_graph", "svg_text"]


@dataclass
class Rendered:
    """What :func:`render_graph` wrote."""

    path: Path
    engine: str | None  # None for dot/json output (no layout ran)
    nodes: int  # nodes drawn (after collapsing)
    collapsed: bool = False
    extra: list[Path] = field(default_factory=list)  # drill-down files


def shown_graph(graph: AutogradGraph, options: Options) -> tuple[AutogradGraph, bool]:
    """The graph to draw: collapsed when over budget or when depth/expand ask for it."""
    if len(graph) <= options.max_nodes and options.depth is None and not options.expand:
        return graph, False
    from graphscope.overview import collapse  # only needed for big graphs

    return collapse(
        graph, max_nodes=options.max_nodes, depth=options.depth, expand=options.expand
    ), True


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
    shown, collapsed = shown_graph(graph, options)
    extra: list[Path] = []
    if collapsed:
        shown, extra = _drilldown(graph, shown, out, options, engine)
    source = to_dot(shown, options)
    if fmt == "dot":
        _write(out, source.encode("utf-8"))
        return Rendered(out, None, len(shown), collapsed, extra)
    engine = engine or find_engine(options.engine)
    if fmt == "html":
        from graphscope.html import html_page

        svg = layout(source, "svg", engine)
        ids = {n: dot_id(n) for n in shown}
        page = html_page(shown, svg.decode("utf-8"), title=out.stem, dot_ids=ids)
        _write(out, page.encode("utf-8"))
        return Rendered(out, engine.name, len(shown), collapsed, extra)
    _write(out, layout(source, fmt, engine))
    return Rendered(out, engine.name, len(shown), collapsed, extra)


def _drilldown(
    graph: AutogradGraph, shown: AutogradGraph, out: Path, options: Options, engine: Engine | None
) -> tuple[AutogradGraph, list[Path]]:
    """Write one file per collapsed group (linked from the overview); returns the overview."""
    from graphscope.overview import plan_drilldown

    if options.format not in ("svg", "html", "dot"):
        return shown, []
    plans = plan_drilldown(graph, shown)
    shown = shown.copy()
    written: list[Path] = []
    sub_options = replace(options, depth=None, expand=(), show_legend=False)
    used: set[str] = set()
    for gid, sub in plans.items():
        if shown.nodes[gid].get("kind") != GROUP:
            continue
        target = out.with_name(_file_name(out, str(shown.nodes[gid].get("name") or gid), used))
        shown.nodes[gid]["link"] = target.name
        written.append(render_graph(sub, target, sub_options, engine=engine).path)
    return shown, written


_MAX_PART = 60  # characters of a group's name kept in its file's name


def _file_name(out: Path, name: str, used: set[str] | None = None) -> str:
    """``<stem>.<name><suffix>`` with ``name`` made safe for a file name on any system (ASCII
    letters, digits, ``._-``); a long name is cut and given a stable hash of the whole name, as
    is one that would reuse a name already in ``used`` (``a b`` and ``a_b``)."""
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in name)
    safe = safe.strip(".") or "group"
    taken = used is not None and safe.lower() in used
    if len(safe) > _MAX_PART or taken:
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        safe = f"{safe[: _MAX_PART - 13]}-{digest}"
    if used is not None:
        used.add(safe.lower())
    return f"{out.stem}.{safe}{out.suffix}"


def _with_suffix(path: Path, fmt: str) -> Path:
    suffix = ".gv" if fmt == "dot" else f".{fmt}"
    if path.suffix.lower() in {f".{f}" for f in FORMATS} | {".gv"}:
        return path
    return path.with_name(path.name + suffix)


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise RenderError(f"cannot write {path}: {err.strerror or err}") from err


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
    to the path's suffix, else svg. Other keywords are :class:`~graphscope.options.Options` fields
    (``depth=2``, ``expand=["encoder.layers.0"]``, ``show_attrs=True``, ``max_nodes=500``).
    Returns the path written.
    """
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path} is a directory; give the file to write, e.g. {p / 'graph.svg'}")
    if format is None:
        suffix = p.suffix.lower().lstrip(".")
        format = "dot" if suffix == "gv" else suffix if suffix in FORMATS else "svg"
    if "expand" in options and not isinstance(options["expand"], str):
        options["expand"] = tuple(options["expand"])
    try:
        opts = Options(format=format, engine=engine, **options)
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from err
    if isinstance(graph_or_roots, AutogradGraph):
        graph = graph_or_roots
    else:
        from graphscope.tracer import trace

        roots: Sequence[Any] = (
            graph_or_roots if isinstance(graph_or_roots, (list, tuple)) else (graph_or_roots,)
        )
        graph = trace(*roots, params=params, names=names)
    findings = tuple(findings)
    if findings:
        graph = graph.with_findings(findings)
    return render_graph(graph, p, opts).path


def svg_text(graph: AutogradGraph) -> str:
    """The graph's picture as SVG text (the Jupyter display)."""
    opts = Options(show_legend=False)
    shown, _ = shown_graph(graph, opts)
    return layout(to_dot(shown, opts), "svg", find_engine("auto")).decode("utf-8")
