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
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from graphscope.dot import to_dot
from graphscope.errors import LayoutTimeout, RenderError, UsageError
from graphscope.layout import Engine, find_engine, layout
from graphscope.model import AutogradGraph, Finding
from graphscope.options import FORMATS, Options

if TYPE_CHECKING:
    from graphscope.explorer import Level as ExplorerLevel
    from graphscope.overview.levels import Level, Levels

__all__ = [
    "Drawing",
    "Rendered",
    "html_page",
    "level_pictures",
    "render",
    "render_graph",
    "shown_graph",
]

_MAX_FILE_NAME = 120  # characters of a drill-down file's name before it is shortened


@dataclass
class Rendered:
    """What :func:`render_graph` wrote."""

    path: Path
    engine: str | None  # None for dot/json output (no layout ran)
    nodes: int  # nodes drawn in the overview (after collapsing)
    collapsed: bool = False
    extra: list[Path] = field(default_factory=list)  # drill-down files
    notes: list[str] = field(default_factory=list)  # layouts that had to be redone coarser
    largest: int = 0  # nodes of the biggest picture written


def shown_graph(graph: AutogradGraph, options: Options) -> tuple[AutogradGraph, bool]:
    """The graph to draw: collapsed when over budget (or too wide: an op reading many
    parameters) or when depth/expand ask for it."""
    from graphscope.overview import collapse, needs_collapse

    if not needs_collapse(graph, options.max_nodes, options.depth, options.expand):
        return graph, False
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
    """Write ``graph`` to ``path`` in ``options.format``, with one drill-down file per group
    of a collapsed picture (each within ``options.max_nodes``, however deep: see
    :mod:`graphscope.overview.levels`); returns what was written and how.

    A picture whose layout takes longer than ``options.layout_timeout`` is stopped and drawn
    collapsed one level more (``Rendered.notes`` says which)."""
    options = options or Options()
    out = _with_suffix(Path(path), options.format)
    fmt = options.format
    if fmt == "json":
        _write(out, json.dumps(graph.to_data(), indent=1, sort_keys=True).encode("utf-8"))
        return Rendered(out, None, len(graph), largest=len(graph))
    if fmt != "dot":
        engine = engine or find_engine(options.engine)
    done, drawn = _draw_all(graph, out, options, engine)
    if fmt == "html":
        from graphscope.explorer._levels import page_from_levels

        _write(out, page_from_levels(graph, drawn, title=out.stem).encode("utf-8"))
    return done


def level_pictures(
    graph: AutogradGraph, options: Options | None = None, *, engine: Engine | None = None
) -> list[tuple[Level, AutogradGraph, bytes]]:
    """Every level of ``graph`` (the overview, then each drill-down) with the graph drawn
    for it and its SVG: what the explorer page shows."""
    options = replace(options or Options(), format="html")
    engine = engine or find_engine(options.engine)
    return _draw_all(graph, Path("graph.html"), options, engine)[1]


def _draw_all(
    graph: AutogradGraph, out: Path, options: Options, engine: Engine | None
) -> tuple[Rendered, list[tuple[Level, AutogradGraph, bytes]]]:
    """Lay out every level, writing one file each (html: kept, for one page)."""
    from graphscope.overview.levels import Levels

    fmt = options.format
    levels = Levels(graph, max_nodes=options.max_nodes, depth=options.depth, expand=options.expand)
    files = _Files(out)
    done = Rendered(out, engine.name if engine and fmt != "dot" else None, 0)
    drawn: list[tuple[Level, AutogradGraph, bytes]] = []
    queue = [levels.root]
    while queue:
        level = _draw_level(
            levels, levels.levels[queue.pop(0).id], files, options, engine, done, drawn
        )
        if level.parent is None:
            done.nodes, done.collapsed = len(level.graph), level.collapsed
        elif fmt != "html":
            done.extra.append(files.path(level))
        done.largest = max(done.largest, len(level.graph))
        queue.extend(levels.levels[i] for i in level.opens.values())
    if levels.truncated:
        done.notes.append(
            f"{out.name}: more than {levels.max_levels} pictures; the deepest groups open nothing"
        )
    return done, drawn


def _draw_level(
    levels: Levels,
    level: Level,
    files: _Files,
    options: Options,
    engine: Engine | None,
    done: Rendered,
    drawn: list[tuple[Level, AutogradGraph, bytes]],
) -> Level:
    """Lay out and write one level (html: keep its SVG for the page); redrawn coarser while
    its layout is too slow."""
    while True:
        levels.children(level)
        shown = level.graph.copy()
        for gid, child in level.opens.items():
            shown.nodes[gid]["link"] = files.path(levels.levels[child]).name
        opts = options if level.parent is None else replace(options, show_legend=False)
        try:
            data = _picture(shown, opts, engine)
            if options.format == "html":
                drawn.append((level, shown, data))
            else:
                _write(files.path(level), data)
            return level
        except LayoutTimeout as err:
            coarser = levels.redo(level)
            if coarser is None:
                raise RenderError(
                    f"{files.path(level).name}: {err}, even with {len(level.graph)} nodes; "
                    "raise --layout-timeout"
                ) from err
            done.notes.append(
                f"{files.path(level).name}: layout stopped after {options.layout_timeout:g} s; "
                f"drawn collapsed one level more ({len(level.graph)} -> {len(coarser.graph)} nodes)"
            )
            level = coarser


def _picture(shown: AutogradGraph, options: Options, engine: Engine | None) -> bytes:
    """One level as DOT text, or laid out (html: its SVG, for the explorer page)."""
    source = to_dot(shown, options)
    if options.format == "dot" or engine is None:
        return source.encode("utf-8")
    fmt = "svg" if options.format == "html" else options.format
    return layout(source, fmt, engine, timeout=options.layout_timeout)


class _Files:
    """One file per level: the overview at ``out``, each drill-down beside it as
    ``<stem>.<group name><suffix>`` (names made safe, numbered when two would collide)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._paths: dict[str, Path] = {}
        self._used: set[str] = {out.name}

    def path(self, level: Level) -> Path:
        got = self._paths.get(level.id)
        if got is None:
            got = self.out if level.parent is None else self._new(level.name)
            self._paths[level.id] = got
        return got

    def _new(self, name: str) -> Path:
        base = _file_name(self.out, name)
        cand, n = base, 1
        while cand in self._used:
            n += 1
            stem, _, suffix = base.rpartition(".")
            cand = f"{stem}_{n}.{suffix}"
        self._used.add(cand)
        return self.out.with_name(cand)


def _file_name(out: Path, name: str) -> str:
    """``<stem>.<name><suffix>`` with ``name`` made safe for a file name (and not too long)."""
    safe = re.sub(r"[^\w.-]+", "_", name, flags=re.ASCII).strip("._") or "group"
    if len(safe) > _MAX_FILE_NAME:
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = f"{safe[: _MAX_FILE_NAME - 9]}_{digest}"
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


@overload
def render(
    graph_or_roots: AutogradGraph | Any,
    path: None = None,
    *,
    format: str | None = None,
    engine: str = "auto",
    params: Any = None,
    names: dict[str, Any] | None = None,
    findings: Iterable[Finding] = (),
    **options: Any,
) -> Drawing: ...


@overload
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
) -> Path: ...


def render(
    graph_or_roots: AutogradGraph | Any,
    path: str | os.PathLike[str] | None = None,
    *,
    format: str | None = None,
    engine: str = "auto",
    params: Any = None,
    names: dict[str, Any] | None = None,
    findings: Iterable[Finding] = (),
    **options: Any,
) -> Path | Drawing:
    """Draw an autograd graph to ``path``: ``graphscope.render(loss, "loss.svg")``; without a
    path, return the :class:`Drawing` (in a notebook, ``graphscope.render(loss)`` as the last
    line of a cell shows the explorer inline, as torchviz's ``make_dot(loss)`` shows its picture).

    ``graph_or_roots`` is an :class:`AutogradGraph` or one tensor / a sequence of tensors (traced
    here, named after your variables; ``params=model`` names the parameters). ``format`` defaults
    to the path's suffix, else svg. Other keywords are :class:`~graphscope.options.Options` fields
    (``depth=2``, ``expand=["encoder.layers.0"]``, ``show_attrs=True``, ``max_nodes=500``).
    Returns the path written (or the drawing).
    """
    p = None if path is None else Path(path)
    if p is not None and p.is_dir():
        raise UsageError(f"{path} is a directory; give the file to write, e.g. {p / 'graph.svg'}")
    if format is None:
        format = "svg" if p is None else _format_of(p)
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
        graph = trace(*roots, params=params, names=names, memory=True)
    findings = tuple(findings)
    if findings:
        graph = graph.with_findings(findings)
    if p is None:
        return Drawing(graph, opts)
    return render_graph(graph, p, opts).path


class Drawing:
    """A graph drawn in memory: what ``graphscope.render(loss)`` returns without a path.

    A notebook shows it as the explorer (``text/html``: the page in a sandboxed iframe) with
    its overview picture as the fallback (``image/svg+xml``, for front-ends that strip scripts),
    both from one layout. :meth:`save` writes it as ``render(loss, path)`` would.
    """

    def __init__(self, graph: AutogradGraph, options: Options | None = None) -> None:
        self.graph = graph
        self.options = options or Options()
        self._levels: list[tuple[Level, AutogradGraph, bytes]] | None = None

    def _drawn(self) -> list[tuple[Level, AutogradGraph, bytes]]:
        if self._levels is None:
            self._levels = level_pictures(self.graph, self.options)
        return self._levels

    def svg(self) -> str:
        """The overview picture (a collapsed overview when the graph is over the budget)."""
        return self._drawn()[0][2].decode("utf-8")

    def html(self, *, title: str | None = None) -> str:
        """The explorer page, as ``--format html`` writes it."""
        from graphscope.explorer._levels import page_from_levels

        gid = self.graph.graph.get("id")
        name = title or (f"graph {gid}" if gid else "autograd graph")
        return page_from_levels(self.graph, self._drawn(), title=name)

    def save(self, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
        """Write the drawing to ``path`` (format from its suffix, as :func:`render`)."""
        p = Path(path)
        fmt = format or _format_of(p)
        try:
            opts = replace(self.options, format=fmt)
        except (TypeError, ValueError) as err:
            raise UsageError(str(err)) from err
        return render_graph(self.graph, p, opts).path

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from graphscope.explorer import notebook_html

        return {
            "text/html": notebook_html(self.html()),
            "image/svg+xml": self.svg(),
            "text/plain": repr(self),
        }

    def __repr__(self) -> str:
        roots = [self.graph.nodes[r].get("label", r) for r in self.graph.roots() if r in self.graph]
        return (
            f"<Drawing of {', '.join(map(str, roots)) or 'a graph'}: {len(self.graph)} nodes; "
            ".save('graph.svg') writes it, .svg() and .html() give its text>"
        )


def html_page(
    graph: AutogradGraph,
    options: Options | None = None,
    *,
    engine: Engine | None = None,
    title: str = "graphscope",
) -> tuple[str, list[ExplorerLevel]]:
    """The explorer page of ``graph`` and the levels it holds (what ``--format html`` writes)."""
    from graphscope.explorer._levels import explorer_levels
    from graphscope.explorer._page import explorer_page
    from graphscope.explorer._sources import collect_sources

    levels = explorer_levels(level_pictures(graph, options, engine=engine))
    page = explorer_page(graph, levels, title=title, sources=collect_sources(graph))
    return page, levels


def _format_of(path: Path) -> str:
    """The format a path's suffix asks for (``.gv``: dot; none: svg); an unknown suffix such
    as ``.jpg`` is a UsageError naming the formats there are."""
    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        return "svg"
    if suffix == "gv" or suffix in FORMATS:
        return "dot" if suffix == "gv" else suffix
    raise UsageError(
        f"{path}: graphscope cannot write .{suffix} files; the formats are "
        f"{', '.join(f'.{f}' for f in FORMATS)} (and .gv for dot): give a path ending in one, "
        "or format='svg' (or another) to add its suffix"
    )
