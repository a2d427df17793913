"""The visual language: node and edge attributes -> graphviz attributes. Pure data, no I/O.

``render`` only translates what this module returns into DOT; every choice of colour, shape and
wording in the picture is made here, so it is tested without Graphviz.

Labels are Graphviz HTML-like labels (``<...>``): every piece of user text (names come from user
code) goes through :func:`esc`.

Fonts: ``Cousine`` (metric-compatible with Courier/Liberation Mono) is measured correctly by both
the system ``dot`` and the embedded ``graphviz-pure``; ``monospace`` is not (box overflow).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from graphscope.model import (
    ERROR,
    GROUP,
    INFO,
    OP,
    ROLE_LEAF,
    ROLE_NAMED,
    ROLE_PARAM,
    ROLE_RETAINED,
    ROLE_ROOT,
    SAVED_FREED,
    SAVED_HOOKED,
    SAVED_STALE,
    SAVED_UNKNOWN,
    TENSOR,
    WARNING,
    AutogradGraph,
    Finding,
    format_number,
    location,
    spelled,
    summary_text,
)
from graphscope.options import Options

FONT = "Cousine"
FONT_SIZE = "11"
SMALL = "9"

#: fill colour, border colour and a word for each tensor role (the legend reads this table).
ROLE_STYLE: Mapping[str, tuple[str, str, str]] = {
    ROLE_PARAM: ("#cfe3f7", "#2b6cb0", "parameter (leaf, requires grad)"),
    ROLE_LEAF: ("#d9f2d0", "#2f855a", "leaf tensor (requires grad)"),
    ROLE_ROOT: ("#fde0b3", "#c05621", "root: backward starts here"),
    ROLE_RETAINED: ("#eadcfb", "#6b46c1", "non-leaf with retain_grad()"),
    ROLE_NAMED: ("#ffffff", "#4a5568", "named non-leaf (no .grad kept)"),
}
OP_FILL, OP_BORDER = "#eef0f3", "#8a94a6"
GROUP_FILL, GROUP_BORDER = "#fff4cc", "#b7791f"
UNREACHED_FILL, UNREACHED_FONT = "#f2f2f2", "#9a9a9a"
SEVERITY_COLOR: Mapping[str, str] = {ERROR: "#d32f2f", WARNING: "#e65100", INFO: "#1565c0"}
STALE_COLOR = SEVERITY_COLOR[ERROR]
STATE_COLOR = "#6b46c1"  # a loop's state edge
BOUNDARY_COLOR, BOUNDARY_FILL = "#8a8a8a", "#f7f7f7"  # a drill-down's neighbours
FREED_COLOR = "#7a7a7a"
MAX_SAVED_LINES = 6
MAX_PARAM_LINES = 4
MAX_TEXT = 60


def esc(text: Any) -> str:
    """Text made safe inside an HTML-like label (``<``, ``>``, ``&``, quotes; no raw newlines)."""
    s = str(text)
    if len(s) > MAX_TEXT:
        s = s[: MAX_TEXT - 1] + "…"
    s = html.escape(s, quote=True).replace("\n", " ").replace("\r", " ")
    return s.replace("\\", "\\\\")  # a lone \N, \G, \L would be Graphviz escapes


def _font(
    text: str, *, color: str | None = None, size: str | None = None, bold: bool = False
) -> str:
    body = f"<B>{text}</B>" if bold else text
    attrs = ""
    if color:
        attrs += f' COLOR="{color}"'
    if size:
        attrs += f' POINT-SIZE="{size}"'
    return f"<FONT{attrs}>{body}</FONT>" if attrs else body


def _label(lines: Sequence[str]) -> str:
    return "<" + "<BR/>".join(lines) + ">"


def shape_text(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def count_text(n: int) -> str:
    """``7``, ``1.2k``, ``3.4M``: a parameter count, short.

    >>> count_text(7), count_text(1234), count_text(3_400_000)
    ('7', '1.2k', '3.4M')
    """
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + unit
    return str(n)


def _where(d: Mapping[str, Any]) -> str | None:
    if not d.get("file"):
        return None
    return location(d["file"], d.get("line"), base_only=True)


def flags_text(d: Mapping[str, Any]) -> list[str]:
    """The three autograd flags, spelled as torch spells them."""
    return [
        f"is_leaf={d.get('is_leaf')} requires_grad={d.get('requires_grad')}",
        f"retains_grad={d.get('retains_grad')}",
    ]


def grad_text(d: Mapping[str, Any]) -> str | None:
    """``grad=[5]``; with a history of 2+ accumulations: ``grad 5 → 10 → 15 → 20``."""
    history = d.get("grad_history") or []
    if len(history) >= 2:
        steps = [summary_text(h) for h in history[-6:]]
        steps = [s[1:-1] if s.startswith("[") and "," not in s else s for s in steps]
        more = "… → " if len(history) > 6 else ""
        return "grad " + more + " → ".join(steps)
    grad = d.get("grad")
    if grad is None:
        return None
    call = d.get("grad_call")
    return "grad=" + summary_text(grad) + (f" (call {call})" if call and call > 1 else "")


def _badges(findings: Sequence[Finding]) -> list[str]:
    out = []
    for f in findings:
        color = SEVERITY_COLOR[f.severity]
        text = f.badge or f.kind
        mark = {ERROR: "(!)", WARNING: "(!)", INFO: "(i)"}[f.severity]  # Cousine has no ⚠
        out.append(_font(esc(f"{mark} {text}"), color=color, size=SMALL, bold=f.severity == ERROR))
    return out


def _worst(findings: Sequence[Finding]) -> str | None:
    for sev in (ERROR, WARNING, INFO):
        if any(f.severity == sev for f in findings):
            return sev
    return None


def tensor_style(
    d: Mapping[str, Any], findings: Sequence[Finding] = (), cluster: str | None = None
) -> dict[str, str]:
    role = d.get("role") or ROLE_NAMED
    fill, border, _ = ROLE_STYLE.get(role, ROLE_STYLE[ROLE_NAMED])
    title = short_name(d.get("name") or d.get("label") or "tensor", cluster)
    lines = [_font(esc(title), bold=True)]
    lines.append(
        _font(esc(f"{shape_text(d.get('shape'))} {d.get('dtype') or ''}".strip()), size=SMALL)
    )
    if d.get("device") not in (None, "cpu"):
        lines.append(_font(esc(f"device={d['device']}"), size=SMALL))
    lines.extend(_font(esc(t), size=SMALL) for t in flags_text(d))
    g = grad_text(d)
    if g is not None:
        lines.append(_font(esc(g), size=SMALL, bold=True))
    attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": fill, "color": border}
    if role == ROLE_ROOT:
        attrs["penwidth"] = "2"
    if role == ROLE_NAMED:
        attrs["style"] = "rounded,filled,dashed"
    if d.get("reached") is False:
        lines.append(_font("not reached by backward", color=UNREACHED_FONT, size=SMALL))
        attrs.update(
            fillcolor=UNREACHED_FILL, fontcolor=UNREACHED_FONT, style="rounded,filled,dashed"
        )
    lines.extend(_badges(findings))
    attrs["label"] = _label(lines)
    attrs["tooltip"] = esc(_tooltip(d))
    _mark(attrs, findings)
    return attrs


def saved_line(s: Mapping[str, Any], cluster: str | None = None) -> str:
    name = short_name(str(s.get("tensor_name") or s.get("name")), cluster)
    status = s.get("status")
    if status == SAVED_STALE:
        return _font(
            esc(f"saved {name}: v{s.get('version_saved')}, now v{s.get('version_now')} (stale)"),
            color=STALE_COLOR,
            size=SMALL,
            bold=True,
        )
    if status == SAVED_FREED:
        return _font(esc(f"saved {name}: freed"), color=FREED_COLOR, size=SMALL)
    if status == SAVED_HOOKED:
        return _font(esc(f"saved {name}: packed by a hook"), size=SMALL)
    if status == SAVED_UNKNOWN:
        return _font(esc(f"saved {name}: unreadable"), color=FREED_COLOR, size=SMALL)
    version = s.get("version_now")
    return _font(esc(f"saved {name} {shape_text(s.get('shape'))} v{version}"), size=SMALL)


def op_style(
    d: Mapping[str, Any],
    options: Options,
    findings: Sequence[Finding] = (),
    cluster: str | None = None,
) -> dict[str, str]:
    lines = [_font(esc(d.get("label") or d.get("name") or "op"), bold=True)]
    if options.show_source:
        where = _where(d)
        module = d.get("module") if d.get("module") != cluster else None  # the box says it
        parts = [p for p in (where, module) if p]
        if parts:
            lines.append(_font(esc(" · ".join(parts)), size=SMALL))
    if options.show_shapes and d.get("shape") is not None:
        lines.append(_font(esc(f"→ {shape_text(d['shape'])}"), size=SMALL))
    saved = d.get("saved") or []
    if options.show_saved and saved:
        if d.get("freed") and all(s.get("status") == SAVED_FREED for s in saved):
            lines.append(_font("saved tensors freed by backward", color=FREED_COLOR, size=SMALL))
        else:
            shown = sorted(saved, key=lambda s: s.get("status") != SAVED_STALE)[:MAX_SAVED_LINES]
            lines.extend(saved_line(s, cluster) for s in shown)
            if len(saved) > MAX_SAVED_LINES:
                lines.append(_font(esc(f"… {len(saved) - MAX_SAVED_LINES} more saved"), size=SMALL))
    if options.show_attrs:
        for k, v in sorted((d.get("attrs") or {}).items()):
            lines.append(_font(esc(f"{k}={v}"), size=SMALL))
    lines.extend(_badges(findings))
    attrs = {"shape": "box", "style": "filled", "fillcolor": OP_FILL, "color": OP_BORDER}
    if d.get("freed"):
        attrs["style"] = "filled,dashed"
    if any(s.get("status") == SAVED_STALE for s in saved):
        attrs.update(color=STALE_COLOR, penwidth="2")
    if d.get("opaque") or d.get("custom"):
        attrs["shape"] = "box3d" if d.get("opaque") else "component"
    attrs["label"] = _label(lines)
    attrs["tooltip"] = esc(_tooltip(d))
    _mark(attrs, findings)
    return attrs


def group_style(d: Mapping[str, Any], findings: Sequence[Finding] = ()) -> dict[str, str]:
    name = d.get("name") or d.get("label") or "group"
    repeat = int(d.get("repeat") or 1)
    title = str(d.get("label") or (f"{name} ×{repeat}" if repeat > 1 else name))
    ops = int(d.get("ops") or 0)
    params = list(d.get("params") or [])
    # a group of parameters only (a bundle: the ones an op reads, from one module) counts them
    what = f"{len(params)} tensors" if not ops and params else f"{ops} ops"
    count = what + (f", {ops // repeat} per copy" if repeat > 1 and ops >= repeat else "")
    cls = d.get("module_class")
    if cls and str(cls) not in title:
        count = f"{cls} · {count}"
    if d.get("param_count"):
        count += f" · {count_text(int(d['param_count']))} params"
    lines = [_font(esc(title), bold=True), _font(esc(count), size=SMALL)]
    module = d.get("module")
    for pname, pshape in params[:MAX_PARAM_LINES]:
        pname = short_name(str(pname), module)
        lines.append(_font(esc(f"{pname} {shape_text(pshape)}"), size=SMALL))
    if len(params) > MAX_PARAM_LINES:
        lines.append(_font(esc(f"… {len(params) - MAX_PARAM_LINES} more parameters"), size=SMALL))
    kinds = list(d.get("finding_kinds") or [])
    for k in kinds:
        lines.append(_font(esc(f"(!) {k} inside"), color=SEVERITY_COLOR[WARNING], size=SMALL))
    lines.extend(_badges(findings))
    attrs = {
        "shape": "box3d" if repeat > 1 else "folder",
        "style": "filled",
        "fillcolor": GROUP_FILL,
        "color": GROUP_BORDER,
        "label": _label(lines),
        "tooltip": esc(f"{title}: {what} collapsed"),
    }
    if d.get("link"):
        # a drill-down file name: ASCII letters, digits and ._- (draw._file_name), never cut
        attrs["URL"] = str(d["link"])
        attrs["target"] = "_self"
    if kinds:
        attrs.update(color=SEVERITY_COLOR[WARNING], penwidth="2.5")
    _mark(attrs, findings)
    return attrs


def short_name(name: str, cluster: str | None) -> str:
    """A name inside the box of module ``cluster``, from that module's own name on:
    ``model.bert.encoder.layer.0.output.dense.weight`` in the box ``...output.dense`` reads
    ``dense.weight`` (the boxes around it say the rest; the tooltip has the full name)."""
    if not cluster:
        return name
    parts = cluster.split(".")
    keep = 2 if len(parts) > 1 and parts[-1].isdigit() else 1  # ``main[0].weight``
    tail = ".".join(parts[-keep:])
    for prefix, shown in ((cluster, tail), (spelled(cluster), spelled(tail))):
        # a parameter of a module is spelled (``model[2].bias``), a name given in a mapping not
        if name.startswith(prefix) and name[len(prefix) : len(prefix) + 1] in (".", "["):
            return shown + name[len(prefix) :]
    return name


def node_style(
    d: Mapping[str, Any],
    options: Options,
    findings: Sequence[Finding] = (),
    cluster: str | None = None,
) -> dict[str, str]:
    """graphviz attributes for one node of an :class:`~graphscope.model.AutogradGraph`;
    ``cluster``: the module box it is drawn in, if any (names inside it are shortened)."""
    kind = d.get("kind")
    if kind == TENSOR:
        attrs = tensor_style(d, findings, cluster)
    elif kind == OP:
        attrs = op_style(d, options, findings, cluster)
    elif kind == GROUP:
        attrs = group_style(d, findings)
    else:
        return {"label": _label([esc(d.get("label") or "?")])}
    if d.get("boundary"):  # a drill-down's neighbour: drawn faint, it is not part of the group
        attrs["style"] = attrs.get("style", "") + ",dashed"
        attrs.update(color=BOUNDARY_COLOR, fontcolor=BOUNDARY_COLOR, fillcolor=BOUNDARY_FILL)
    return attrs


def edge_style(d: Mapping[str, Any], stale: bool = False) -> dict[str, str]:
    attrs: dict[str, str] = {"color": "#4a5568", "arrowsize": "0.7"}
    shape = d.get("shape")
    if shape is not None:
        attrs["tooltip"] = esc(f"{shape_text(shape)} {d.get('dtype') or ''}".strip())
    slots = d.get("slots") or []
    if len(slots) > 1:
        attrs["label"] = esc(f"×{len(slots)}")
    state = list(d.get("state") or [])
    if d.get("recurrent") or "state" in d:  # a loop's state, handed from one step to the next
        attrs.update(color=STATE_COLOR, fontcolor=STATE_COLOR, penwidth="1.6", style="bold")
        attrs["label"] = esc(
            ", ".join(state) if state else "next" if d.get("recurrent") else "state"
        )
        attrs["tooltip"] = esc(
            "each copy hands this to the next" + (f": {shape_text(shape)}" if shape else "")
        )
    if stale:
        attrs.update(color=STALE_COLOR, penwidth="2")
    return attrs


def _mark(attrs: dict[str, str], findings: Sequence[Finding]) -> None:
    worst = _worst(findings)
    if worst is not None:
        attrs["color"] = SEVERITY_COLOR[worst]
        attrs["penwidth"] = "3" if worst != INFO else "2"


def _tooltip(d: Mapping[str, Any]) -> str:
    keys = ("name", "role", "shape", "dtype", "device", "grad_fn", "version", "op", "module")
    parts = [f"{k}={d[k]}" for k in keys if d.get(k) not in (None, "", [])]
    g = d.get("grad")
    if g:
        parts.append("grad " + summary_text(g))
        if g.get("norm") is not None:
            parts.append(f"norm={format_number(g['norm'])}")
    return ", ".join(parts) or str(d.get("label", ""))


def graph_attrs(options: Options) -> dict[str, str]:
    return {
        "rankdir": options.rankdir,
        "fontname": FONT,
        "fontsize": FONT_SIZE,
        "nodesep": "0.25",
        "ranksep": "0.35",
        "bgcolor": "white",
    }


def cluster_attrs() -> dict[str, str]:
    """The box drawn around one module's nodes (its label is the module's name)."""
    return {
        "style": "rounded,dashed",
        "color": "#9aa5b8",
        "fontcolor": "#4a5568",
        "fontname": FONT,
        "fontsize": SMALL,
        "labeljust": "l",
        "margin": "10",
    }


def default_node_attrs() -> dict[str, str]:
    return {"fontname": FONT, "fontsize": FONT_SIZE, "margin": "0.08,0.04"}


def default_edge_attrs() -> dict[str, str]:
    return {"fontname": FONT, "fontsize": SMALL}


_LEGEND_ROWS: tuple[tuple[str, str, str, str, str], ...] = tuple(
    (role, fill, border, "rounded" if role != ROLE_NAMED else "rounded,dashed", words)
    for role, (fill, border, words) in ROLE_STYLE.items()
) + (
    ("op", OP_FILL, OP_BORDER, "", "backward op (grad_fn)"),
    ("stale", OP_FILL, STALE_COLOR, "", "saved tensor changed in place"),
    ("freed", OP_FILL, OP_BORDER, "dashed", "saved tensors freed"),
    ("unreached", UNREACHED_FILL, UNREACHED_FONT, "rounded,dashed", "requires grad, not reached"),
    ("group", GROUP_FILL, GROUP_BORDER, "", "collapsed module (click to open)"),
    ("error", "#ffffff", SEVERITY_COLOR[ERROR], "", "(!) finding: error"),
    ("warning", "#ffffff", SEVERITY_COLOR[WARNING], "", "(!) finding: warning"),
    ("info", "#ffffff", SEVERITY_COLOR[INFO], "", "(i) finding: worth knowing"),
)


def legend_node(present: set[str] | None = None) -> dict[str, str] | None:
    """One node whose label is a table of the samples the graph needs (``present`` keys:
    roles, ``op``, ``stale``, ``freed``, ``unreached``, ``group``, severities); None if none."""
    rows = []
    for key, fill, border, cell_style, words in _LEGEND_ROWS:
        if present is not None and key not in present:
            continue
        st = f' STYLE="{cell_style}"' if cell_style else ""
        rows.append(
            f'<TR><TD BGCOLOR="{fill}" COLOR="{border}" BORDER="2"{st} WIDTH="26"> </TD>'
            f'<TD ALIGN="LEFT" BORDER="0">{_font(esc(words), size=SMALL)}</TD></TR>'
        )
    if not rows:
        return None
    table = (
        '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="4" CELLPADDING="3">'
        f'<TR><TD COLSPAN="2" BORDER="0">{_font("legend", size=SMALL, bold=True)}</TD></TR>'
        + "".join(rows)
        + "</TABLE>"
    )
    return {"shape": "plain", "label": "<" + table + ">"}


MAX_CLUSTERS = 60  # more module boxes than this make the layout slow and the picture busy


def module_tree(graph: AutogradGraph) -> dict[str, list[str]] | None:
    """Which nodes go in which module box: ``{module path: [node ids directly in it]}`` plus
    every ancestor path (empty lists), in order of first appearance; None when there is
    nothing (or too much) to group. Ops and parameters are boxed by their ``module``, groups
    by their ``cluster`` (a fold stays inside the module whose steps it folds), a named
    non-leaf tensor by the ops around it (:func:`_between`)."""
    members: dict[str, list[str]] = {}
    for n, d in graph.nodes(data=True):
        if d.get("boundary"):
            continue
        kind = d.get("kind")
        if kind == OP or (kind == TENSOR and d.get("role") == ROLE_PARAM):
            mod = d.get("module")
        elif kind == GROUP:
            mod = d.get("cluster")
        elif kind == TENSOR and d.get("role") != ROLE_ROOT:
            mod = _between(graph, n)
        else:
            continue
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


def _box_of(d: Mapping[str, Any]) -> str | None:
    """The module box a node is drawn in by its own attributes (an op's ``module``, a
    group's ``cluster``), or None."""
    if d.get("boundary"):
        return None
    kind = d.get("kind")
    mod = d.get("module") if kind == OP else d.get("cluster") if kind == GROUP else None
    return str(mod) if mod else None


def _between(graph: AutogradGraph, n: str) -> str | None:
    """The box of a non-leaf tensor that sits between ops (``out.logits`` between the
    classifier and the loss's ``view``): the innermost module holding the op that made it and
    every op that reads it, so it is drawn beside them rather than outside every box (which
    drags the ops after it out and around the picture); None when one of them is in no box.
    A root stays outside: it is what the picture is about."""
    around = [*graph.predecessors(n), *graph.successors(n)]
    boxes = [_box_of(graph.nodes[m]) for m in around]
    if not around or any(b is None for b in boxes):
        return None
    common = str(boxes[0]).split(".")
    for b in boxes[1:]:
        parts = str(b).split(".")
        k = 0
        while k < min(len(common), len(parts)) and common[k] == parts[k]:
            k += 1
        common = common[:k]
    return ".".join(common) or None


def cluster_label(graph: AutogradGraph, path: str, parent: str) -> str:
    """A module box's label: its name under the box around it, and its class when known
    (``lstm1 · LSTMCell``)."""
    rel = path[len(parent) + 1 :] if parent and path.startswith(parent + ".") else path
    cls = graph.module_class(path)
    info = (graph.graph.get("modules") or {}).get(path) or {}
    params = info.get("params") if isinstance(info, dict) else None
    text = f"{rel} · {cls}" if cls and cls != rel else rel
    if params:
        text += f" · {count_text(int(params))} param{'s' if params != 1 else ''}"
    return esc(text)


def caption(graph: AutogradGraph, options: Options) -> str | None:
    """A line under the picture when it lacks what only ``watch`` records: the source lines
    (and modules, when they were inferred from the parameters)."""
    if not options.show_source:
        return None
    ops = [d for _, d in graph.nodes(data=True) if d.get("kind") == OP]
    if not ops or any(d.get("file") for d in ops):
        return None
    text = "source lines need graphscope.watch() or the graphscope command (trace() alone "
    text += "does not record them)"
    if graph.graph.get("modules_inferred"):
        text += "; modules here are inferred from the parameters each op reads"
    return "<" + _font(html.escape(text), color=UNREACHED_FONT, size=SMALL) + ">"


def stale_edges(graph: AutogradGraph) -> set[tuple[str, str]]:
    """Edges drawn red: the ones that carried a saved tensor, changed in place since, into the
    op that saved it."""
    out: set[tuple[str, str]] = set()
    for n, d in graph.nodes(data=True):
        for s in d.get("saved") or ():
            src = s.get("source") or s.get("tensor")
            if s.get("status") == SAVED_STALE and src and graph.has_edge(src, n):
                out.add((src, n))
    return out


def legend_keys(nodes: Iterable[Mapping[str, Any]]) -> set[str]:
    """Which legend entries a graph needs."""
    keys: set[str] = set()
    for d in nodes:
        kind = d.get("kind")
        if kind == TENSOR:
            keys.add(d.get("role") or ROLE_NAMED)
            if d.get("reached") is False:
                keys.add("unreached")
        elif kind == OP:
            keys.add("op")
            saved = d.get("saved") or ()
            if any(s.get("status") == SAVED_STALE for s in saved):
                keys.add("stale")
            if d.get("freed"):
                keys.add("freed")
        elif kind == GROUP:
            keys.add("group")
    return keys


def finding_keys(findings: Iterable[Finding]) -> set[str]:
    return {f.severity for f in findings}


__all__ = [
    "FONT",
    "ROLE_STYLE",
    "SEVERITY_COLOR",
    "esc",
    "node_style",
    "edge_style",
    "graph_attrs",
    "legend_node",
    "flags_text",
    "grad_text",
    "shape_text",
]
